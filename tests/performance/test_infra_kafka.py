"""Infrastructure: the service's `KafkaEventPublisher` (idempotent, acks=all) on the test broker — throughput, latency.

Delivery is confirmed by the broker's acknowledgement and, for the end-to-end latency, by an independent consumer
(tests/kafka_consumer.py). Brokers differ (Tansu answers in a few ms, Apache Kafka at its own pace) and so do hosts,
so every bound is a ratio to the same shape sent by a bare librdkafka producer with the publisher's settings, to the
same broker, in the same test: what is gated is the publisher's own cost, not the broker's speed.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from confluent_kafka import Producer

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


class RawProducer:
    """librdkafka alone (acks=all, idempotent, the publisher's linger), blocking: the baseline of every bound."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._producer = Producer({"bootstrap.servers": bootstrap_servers, "enable.idempotence": True, "acks": "all",
                                   "linger.ms": 2})  # fmt: skip

    def send(self, topic: str, count: int) -> None:
        """Produce `count` events and wait (polling, as the publisher's thread does) until each is acknowledged."""
        delivered = 0

        def report(error: object, _message: object) -> None:
            nonlocal delivered
            assert error is None, f"raw producer: {error}"
            delivered += 1

        for _ in range(count):
            key = uuid.uuid4().hex.encode()
            while True:
                try:
                    self._producer.produce(topic, PAYLOAD, key=key, on_delivery=report)
                    break
                except BufferError:
                    self._producer.poll(0.01)
        deadline = time.monotonic() + 30.0
        while delivered < count and time.monotonic() < deadline:
            self._producer.poll(0.1)  # returns as soon as a delivery report is served
        assert delivered == count, f"raw producer: {count - delivered} of {count} not acknowledged in 30 s"

    def close(self) -> None:
        self._producer.flush(10)

    async def timed(self, topic: str, count: int) -> float:
        """Seconds to send and acknowledge `count` events (in a thread, as the publisher's poller is)."""
        start = time.perf_counter()
        await asyncio.to_thread(self.send, topic, count)
        return time.perf_counter() - start


@pytest.fixture
def raw(kafka_bootstrap_servers: str) -> Iterator[RawProducer]:
    producer = RawProducer(kafka_bootstrap_servers)
    yield producer
    producer.close()


def events(topic: str, count: int) -> list[OutboxEvent]:
    made = []
    for _ in range(count):
        event_id = str(uuid.uuid4())
        made.append(OutboxEvent(event_id=event_id, topic=topic, key=event_id, value=PAYLOAD))
    return made


async def test_batch_publish_throughput(
    publisher: KafkaEventPublisher, raw: RawProducer, topic: str, gate: Gate
) -> None:
    await publisher.publish(events(topic, 50))  # connection and metadata out of the measurement
    await raw.timed(topic, 50)
    ours, native = [], []
    for _ in range(5):  # interleaved, so drift and co-tenant noise hit both alike
        native.append(500 / await raw.timed(topic, 500))
        start = time.perf_counter()
        await publisher.publish(events(topic, 500))  # the relay's batch shape: many events, one await
        ours.append(500 / (time.perf_counter() - start))
    gate.ratio_above("batch_publish_events_per_second", statistics.median(ours), "raw_librdkafka",
                     statistics.median(native), 0.25)  # fmt: skip


async def test_single_event_publish_latency(
    publisher: KafkaEventPublisher, raw: RawProducer, topic: str, gate: Gate
) -> None:
    async def pair(index: int) -> None:  # interleaved one for one, so noise hits both alike
        start = time.perf_counter_ns()
        await raw.timed(topic, 1)
        middle = time.perf_counter_ns()
        await publisher.publish(events(topic, 1))
        if index >= 0:
            native.append(middle - start)
            ours.append(time.perf_counter_ns() - middle)

    native: list[int] = []
    ours: list[int] = []
    await latencies(pair, count=300, max_seconds=4.0, warmup=5)
    summary, baseline = summary_of(ours), summary_of(native)
    gate.ratio_below("single_publish_acked_p99_ms", summary.p99_ms, "raw_p99_ms", baseline.p99_ms, 5.0)
    gate.ratio_below("single_publish_acked_p50_ms", summary.p50_ms, "raw_p50_ms", baseline.p50_ms, 2.0)


async def test_concurrent_publishers_throughput(
    publisher: KafkaEventPublisher, raw: RawProducer, topic: str, gate: Gate
) -> None:
    """Several relays' batches in flight at once through one producer (one process, many jobs finishing)."""
    await publisher.publish(events(topic, 10))
    rates, native = [], []
    for _ in range(5):  # a single 0.05-0.2 s burst is too short to judge alone: gate the median of five
        native.append(16 * 200 / await raw.timed(topic, 16 * 200))
        start = time.perf_counter()
        async with asyncio.timeout(30), asyncio.TaskGroup() as group:
            for _ in range(16):
                group.create_task(publisher.publish(events(topic, 200)))
        rates.append(16 * 200 / (time.perf_counter() - start))
    gate.ratio_above("concurrent_publish_events_per_second", statistics.median(rates), "raw_librdkafka",
                     statistics.median(native), 0.15)  # fmt: skip


async def test_publish_to_independent_consumer_latency(
    publisher: KafkaEventPublisher, raw: RawProducer, topic: str, kafka_bootstrap_servers: str, gate: Gate
) -> None:
    """Publish one event, wait until an independent consumer group has it: the relay-to-subscriber hop."""
    count = 100
    ours: list[int] = []
    native: list[int] = []
    async with CallbackCollector(kafka_bootstrap_servers, [topic]) as collector:
        await collector.wait_assigned()
        for index in range(count):  # interleaved one for one: the raw producer's hop is the baseline
            start = time.perf_counter_ns()
            await raw.timed(topic, 1)
            await collector.wait_for(2 * index + 1, timeout_seconds=10)
            native.append(time.perf_counter_ns() - start)
            start = time.perf_counter_ns()
            await publisher.publish(events(topic, 1))
            await collector.wait_for(2 * index + 2, timeout_seconds=10)
            ours.append(time.perf_counter_ns() - start)
        received = collector.events
    assert len({event.key for event in received}) == 2 * count
    # the first fetches include the group's initial offset lookup
    summary, baseline = summary_of(ours[5:]), summary_of(native[5:])
    gate.ratio_below("publish_to_consumed_p99_ms", summary.p99_ms, "raw_p99_ms", baseline.p99_ms, 3.0)
    gate.ratio_below("publish_to_consumed_p50_ms", summary.p50_ms, "raw_p50_ms", baseline.p50_ms, 2.0)
