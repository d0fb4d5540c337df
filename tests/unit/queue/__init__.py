"""Unit tests of the in-memory job queue."""
