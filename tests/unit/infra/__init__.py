"""Unit tests of the infrastructure launchers that need no server."""
