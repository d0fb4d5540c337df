"""Unit tier of the SQL store: the shared behaviour on SQLite in a temporary directory."""
