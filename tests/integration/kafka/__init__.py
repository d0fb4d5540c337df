"""Integration tests of the Kafka event publisher against a Kafka-protocol broker (Apache Kafka, or Tansu)."""
