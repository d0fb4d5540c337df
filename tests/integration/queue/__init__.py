"""Integration tests of the Redis job queue on a real Redis server."""
