"""Local infrastructure for development and tests: private Redis, PostgreSQL and a Kafka-protocol broker."""
