"""Performance toolkit for the LLM Provider Service: talks to a deployment only over HTTP and Kafka."""

__all__ = ["SCHEMA_VERSION"]

# Bumped whenever result.json changes shape; `perf report` refuses newer versions than it knows.
SCHEMA_VERSION = 1
