"""Infrastructure: the service's `KafkaEventPublisher` (idempotent, acks=all) on Apache Kafka — throughput, latency.

Delivery is confirmed by the broker's acknowledgement and, for the end-to-end latency, by an independent consumer
(tests/kafka_consumer.py). Bounds: ~3-5x measured p99 latency, ~0.3-0.5x measured throughput.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from llm_provider_service.adapters.kafka_events import KafkaEventPublisher, ensure_topics
from llm_provider_service.domain.models import OutboxEvent
from tests.kafka_consumer import CallbackCollector
from tests.performance.measure import Gate, latencies, summary_of

pytestmark = pytest.mark.performance

PAYLOAD = b'{"event_type":"llm_comparison_result","data":{"winner":"Essay A","confidence":4}}' + b" " * 600


@pytest.fixture
async def topic(kafka_bootstrap_servers: str) -> str:
    name = f"perf-{uuid.uuid4().hex[:12]}"
    await ensure_topics(kafka_bootstrap_servers, [name], partitions=4)
    return name


@pytest.fixture
async def publisher(kafka_bootstrap_servers: str) -> AsyncIterator[KafkaEventPublisher]:
    async with KafkaEventPublisher(bootstrap_servers=kafka_bootstrap_servers, client_id="perf") as opened:
        yield opened


def events(topic: str, count: int) -> list[OutboxEvent]:
    made = []
    for _ in range(count):
        event_id = str(uuid.uuid4())
        made.append(OutboxEvent(event_id=event_id, topic=topic, key=event_id, value=PAYLOAD))
    return made


async def test_batch_publish_throughput(publisher: KafkaEventPublisher, topic: str, gate: Gate) -> None:
    await publisher.publish(events(topic, 50))  # connection and metadata out of the measurement
    start = time.perf_counter()
    published = 0
    for _ in range(20):
        await publisher.publish(events(topic, 500))  # the relay's batch shape: many events, one await
        published += 500
        if time.perf_counter() - start > 3.0:
            break
    gate.above("batch_publish_events_per_second", published / (time.perf_counter() - start), 10_000)


async def test_single_event_publish_latency(publisher: KafkaEventPublisher, topic: str, gate: Gate) -> None:
    samples = await latencies(lambda _: publisher.publish(events(topic, 1)), count=300, max_seconds=3.0, warmup=5)
    summary = summary_of(samples)
    gate.below("single_publish_acked_p99_ms", summary.p99_ms, 20.0)
    gate.below("single_publish_acked_p50_ms", summary.p50_ms, 10.0)


async def test_concurrent_publishers_throughput(publisher: KafkaEventPublisher, topic: str, gate: Gate) -> None:
    """Several relays' batches in flight at once through one producer (one process, many jobs finishing)."""
    await publisher.publish(events(topic, 10))
    rates = []
    for _ in range(3):  # a single 0.1-0.2 s burst is too short to judge alone: gate the median of three
        start = time.perf_counter()
        async with asyncio.timeout(30), asyncio.TaskGroup() as group:
            for _ in range(16):
                group.create_task(publisher.publish(events(topic, 200)))
        rates.append(16 * 200 / (time.perf_counter() - start))
    gate.above("concurrent_publish_events_per_second", statistics.median(rates), 15_000)


async def test_publish_to_independent_consumer_latency(
    publisher: KafkaEventPublisher, topic: str, kafka_bootstrap_servers: str, gate: Gate
) -> None:
    """Publish one event, wait until an independent consumer group has it: the relay-to-subscriber hop."""
    count = 150
    samples: list[int] = []
    async with CallbackCollector(kafka_bootstrap_servers, [topic]) as collector:
        await collector.wait_assigned()
        for index in range(count):
            start = time.perf_counter_ns()
            await publisher.publish(events(topic, 1))
            await collector.wait_for(index + 1, timeout_seconds=10)
            samples.append(time.perf_counter_ns() - start)
        received = collector.events
    assert len({event.key for event in received}) == count
    summary = summary_of(samples[5:])  # the first fetches include the group's initial offset lookup
    gate.below("publish_to_consumed_p99_ms", summary.p99_ms, 40.0)
    gate.below("publish_to_consumed_p50_ms", summary.p50_ms, 25.0)
