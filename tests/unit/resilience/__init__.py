"""Unit tests of retry policy and circuit breakers."""
