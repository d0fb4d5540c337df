"""Unit tests of the use cases on fakes."""
