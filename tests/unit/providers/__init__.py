"""Unit tests of the vendor adapters against scripted local HTTP servers."""
