"""Which broker the test fixtures start, and the consumer settings that broker allows.

LLM_PROVIDER_TEST_KAFKA_BROKER=kafka (the default, Apache Kafka 4.x) or tansu (fast, memory only). A broker given by
LLM_PROVIDER_TEST_KAFKA_BOOTSTRAP_SERVERS is taken to be Apache Kafka unless the variable says tansu.
"""

from __future__ import annotations

import os

from llm_provider_service.infra.kafka_broker import (
    CONSUMER_FETCH_WAIT_MAX_MS,
    DEFAULT_BROKER,
    consumer_session_timeout_ms,
    parse_broker_kind,
)

TEST_KAFKA_BROKER_ENV = "LLM_PROVIDER_TEST_KAFKA_BROKER"
TEST_KAFKA_BROKER = parse_broker_kind(os.environ.get(TEST_KAFKA_BROKER_ENV) or DEFAULT_BROKER)
TEST_KAFKA_SESSION_TIMEOUT_MS = consumer_session_timeout_ms(TEST_KAFKA_BROKER)
TEST_KAFKA_FETCH_WAIT_MAX_MS = CONSUMER_FETCH_WAIT_MAX_MS
