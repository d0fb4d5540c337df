"""Integration tests of the Kafka event publisher against a Kafka-protocol broker (Tansu)."""
