"""Contract tests: the official vendor SDKs parse every answer of the mock server."""
