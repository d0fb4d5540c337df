"""KafkaEventPublisher against the test broker: nothing lost or altered, failures reported, recovery after a restart."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_provider_service.adapters.kafka_events import KafkaEventPublisher, ensure_topics
from llm_provider_service.domain.errors import PublishError
from llm_provider_service.domain.models import OutboxEvent
from llm_provider_service.infra.binaries import MissingBinaryError
from llm_provider_service.infra.kafka_broker import KafkaBroker, make_broker
from tests.kafka_consumer import CallbackCollector, ReceivedEvent
from tests.kafka_settings import TEST_KAFKA_BROKER

pytestmark = pytest.mark.integration

DELIVERY_TIMEOUT_SECONDS = 2.0


def _events(topic: str, count: int, *, batch: str = "only") -> list[OutboxEvent]:
    return [
        OutboxEvent(
            event_id=str(uuid.uuid4()),
            topic=topic,
            key=f"request-{index}",
            value=json.dumps({"event_type": "LLMComparisonResultV1", "data": {"index": index, "batch": batch}}).encode(
                "utf-8"
            ),
            headers=(("event_type", "LLMComparisonResultV1"), ("correlation_id", f"corr-{index}")),
        )
        for index in range(count)
    ]


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A broker this test may stop without disturbing the session broker."""
    broker = make_broker(TEST_KAFKA_BROKER, tmp_path / "broker")
    try:
        broker.start()
    except MissingBinaryError as exc:
        pytest.skip(str(exc))
    yield broker
    broker.stop()


async def test_thousand_events_arrive_intact_and_once(kafka_bootstrap_servers: str) -> None:
    topic = f"test.publisher.{uuid.uuid4().hex}"
    await ensure_topics(kafka_bootstrap_servers, [topic], partitions=4)
    sent = _events(topic, 1000)
    async with (
        CallbackCollector(kafka_bootstrap_servers, [topic]) as collector,
        KafkaEventPublisher(bootstrap_servers=kafka_bootstrap_servers, client_id="test-publisher") as publisher,
    ):
        for start in range(0, len(sent), 250):
            await publisher.publish(sent[start : start + 250])
        await collector.wait_for(len(sent), timeout_seconds=30)
        received = await collector.wait_quiet(quiet_seconds=0.5, timeout_seconds=30)

    assert len(received) == len(sent)
    by_key = {event.key: event for event in received}
    assert len(by_key) == len(sent)
    for event in sent:
        got = by_key[event.key]
        assert got.value == event.value
        assert got.headers == dict(event.headers)
        assert got.envelope["data"]["index"] == int(event.key.removeprefix("request-"))
    assert {event.partition for event in received} <= {0, 1, 2, 3}


async def test_events_with_one_key_keep_their_order(kafka_bootstrap_servers: str) -> None:
    topic = f"test.order.{uuid.uuid4().hex}"
    sent = [
        OutboxEvent(event_id=str(uuid.uuid4()), topic=topic, key="same", value=str(index).encode())
        for index in range(50)
    ]
    async with (
        CallbackCollector(kafka_bootstrap_servers, [topic]) as collector,
        KafkaEventPublisher(bootstrap_servers=kafka_bootstrap_servers) as publisher,
    ):
        await publisher.publish(sent)
        received = await collector.wait_for(len(sent), timeout_seconds=30)
    assert [event.value for event in received] == [event.value for event in sent]


async def test_stopped_broker_fails_the_batch_then_publishing_recovers(own_broker: KafkaBroker) -> None:
    topic = f"test.outage.{uuid.uuid4().hex}"
    async with KafkaEventPublisher(
        bootstrap_servers=own_broker.bootstrap_servers, delivery_timeout_seconds=DELIVERY_TIMEOUT_SECONDS
    ) as publisher:
        await publisher.publish(_events(topic, 10, batch="before"))

        own_broker.stop()
        started = time.monotonic()
        with pytest.raises(PublishError):
            await publisher.publish(_events(topic, 10))
        # librdkafka's delivery timeout decides; the asyncio deadline adds at most its grace on top.
        assert time.monotonic() - started < DELIVERY_TIMEOUT_SECONDS + 3

        own_broker.start()  # same port (Apache Kafka keeps the topic; Tansu starts empty)
        await _publish_until_accepted(publisher, _events(topic, 10, batch="after"))

    # Apache Kafka also kept the batch sent before the stop (Tansu starts empty), and partitions interleave: wait for
    # the whole batch sent after the restart, whatever else the topic holds.
    async with CallbackCollector(own_broker.bootstrap_servers, [topic]) as collector:
        await collector.wait_for(10, timeout_seconds=30)
        async with asyncio.timeout(30):
            while len(_keys_of(collector.events, "after")) < 10:  # noqa: ASYNC110 - the collector has no per-key event
                await asyncio.sleep(0.05)
    assert _keys_of(collector.events, "after") == {f"request-{index}" for index in range(10)}


def _keys_of(received: list[ReceivedEvent], batch: str) -> set[str | None]:
    return {event.key for event in received if event.envelope["data"]["batch"] == batch}


async def _publish_until_accepted(publisher: KafkaEventPublisher, events: list[OutboxEvent]) -> None:
    # As the outbox relay does: a failed batch is retried; the reconnect takes up to one backoff period.
    for _attempt in range(5):
        try:
            await publisher.publish(events)
        except PublishError:
            continue
        return
    pytest.fail("publishing did not recover after the broker restart")
