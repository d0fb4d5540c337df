"""Unit tests of the deterministic mock engine and the in-process mock provider."""
