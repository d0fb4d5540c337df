"""Adapters: the technology behind each port (Redis, SQL, Kafka, in-memory, JSONL)."""
