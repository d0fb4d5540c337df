"""Integration tests of the local infrastructure launchers and the shared fixtures."""
