"""Integration tests of the Kafka event publisher against the test broker (Apache Kafka, or Tansu)."""
