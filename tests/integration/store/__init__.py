"""Integration tier of the SQL store: the shared behaviour on a real PostgreSQL."""
