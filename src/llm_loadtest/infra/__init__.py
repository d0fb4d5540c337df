"""Infrastructure micro-benchmarks (Redis queue, Kafka produce, PostgreSQL insert) beside the native tools."""
