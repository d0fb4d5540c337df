"""The shared fixtures give empty, isolated Redis and PostgreSQL databases and a reachable, durable Kafka broker."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import pytest
import redis.asyncio as aioredis
from confluent_kafka.admin import AdminClient

from llm_provider_service.adapters.kafka_events import KafkaEventPublisher, ensure_topics
from llm_provider_service.domain.models import OutboxEvent
from llm_provider_service.infra.apache_kafka import ApacheKafkaBroker
from llm_provider_service.infra.binaries import MissingBinaryError
from llm_provider_service.infra.kafka_broker import KafkaBroker, TansuBroker
from llm_provider_service.infra.postgres_server import PostgresServer
from llm_provider_service.infra.redis_server import RedisServer
from tests.kafka_consumer import CallbackCollector
from tests.kafka_settings import TEST_KAFKA_BROKER

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("attempt", [1, 2])
async def test_redis_database_is_empty_at_test_start(redis_url: str, attempt: int) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.dbsize() == 0
        await client.set("left-over", attempt)
    finally:
        await client.aclose()


@pytest.mark.parametrize("attempt", [1, 2])
async def test_postgres_database_is_fresh_per_test(postgres_url: str, attempt: int) -> None:
    assert postgres_url.startswith("postgresql+asyncpg://")
    connection = await asyncpg.connect(postgres_url.replace("+asyncpg", ""))
    try:
        tables = await connection.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables == 0
        await connection.execute(f"CREATE TABLE left_over_{attempt} (id int)")
    finally:
        await connection.close()


def test_kafka_broker_answers_metadata(kafka_bootstrap_servers: str) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap_servers})
    metadata = admin.list_topics(timeout=10)
    assert metadata.brokers


async def test_redis_server_restarts_on_the_same_url_and_empty(redis_server: RedisServer, redis_url: str) -> None:
    async with aioredis.Redis.from_url(redis_url) as client:
        await client.set("key", "value")
    redis_server.stop()
    redis_server.start()
    assert redis_server.url == redis_url
    async with aioredis.Redis.from_url(redis_url) as client:
        assert await client.get("key") is None


async def test_postgres_server_restart_keeps_data(postgres_server: PostgresServer, postgres_url: str) -> None:
    dsn = postgres_url.replace("+asyncpg", "")
    connection = await asyncpg.connect(dsn)
    await connection.execute("CREATE TABLE kept (id int); INSERT INTO kept VALUES (7)")
    await connection.close()
    postgres_server.stop()
    postgres_server.start()
    connection = await asyncpg.connect(dsn)
    try:
        assert await connection.fetchval("SELECT id FROM kept") == 7
    finally:
        await connection.close()


def test_the_session_broker_is_the_configured_kind(kafka_broker: KafkaBroker) -> None:
    expected = ApacheKafkaBroker if TEST_KAFKA_BROKER == "kafka" else TansuBroker
    assert isinstance(kafka_broker, expected)


async def test_apache_kafka_keeps_topics_and_offsets_across_a_sigkill(tmp_path: Path) -> None:
    broker = ApacheKafkaBroker(tmp_path / "kafka")
    try:
        broker.start()
    except MissingBinaryError as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        topic = f"test.durable.{uuid.uuid4().hex}"
        await ensure_topics(broker.url, [topic], partitions=2)
        async with KafkaEventPublisher(bootstrap_servers=broker.url) as publisher:
            await publisher.publish(
                [OutboxEvent(event_id=str(index), topic=topic, key=str(index), value=b"v") for index in range(20)]
            )
        group = f"test-durable-{uuid.uuid4().hex}"
        async with CallbackCollector(broker.url, [topic], group_id=group) as first:
            await first.wait_for(20, timeout_seconds=30)
        # Closing the auto-committing consumer committed the group's offsets.

        broker.kill()
        broker.start()

        async with CallbackCollector(broker.url, [topic]) as fresh:
            assert len(await fresh.wait_for(20, timeout_seconds=30)) == 20  # the log survived
        async with CallbackCollector(broker.url, [topic], group_id=group) as resumed:
            await resumed.wait_assigned(timeout_seconds=30)
            assert await resumed.wait_quiet(quiet_seconds=1.0, timeout_seconds=10) == []  # and the offsets
    finally:
        broker.stop()
