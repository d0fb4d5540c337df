"""The Kafka event publisher: an idempotent confluent-kafka producer whose delivery reports become asyncio futures.

librdkafka reports each delivery through a callback that runs inside `Producer.poll()`. A dedicated thread polls, and
every callback hands its outcome to the event loop with `call_soon_threadsafe`, so `publish` awaits all deliveries
without ever blocking the loop. A batch succeeds only when the broker acknowledged every event (`acks=all`);
otherwise `PublishError` is raised and the outbox keeps the rows for the next attempt (at-least-once delivery;
the idempotent producer removes duplicates caused by its own retries).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from llm_provider_service.domain.errors import PublishError
from llm_provider_service.domain.models import OutboxEvent

logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.05
_QUEUE_FULL_BACKOFF_SECONDS = 0.005
# librdkafka itself fails a message after `delivery.timeout.ms`; the asyncio deadline is only a safety net.
_DEADLINE_GRACE_SECONDS = 2.0

ConfigValue = str | int | float | bool


class KafkaEventPublisher:
    """Publishes `OutboxEvent`s: key = `event.key`, headers = `event.headers`, value = `event.value` bytes.

    Use as `async with KafkaEventPublisher(bootstrap_servers=..., client_id=..., delivery_timeout_seconds=...)`;
    leaving the block flushes what is in flight (bounded by the delivery timeout) and closes the producer.
    After a fatal producer error (e.g. the idempotence state lost with a broker) the next `publish` builds a new
    producer, so publishing resumes once the broker is back.
    """

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        client_id: str = "llm-provider-service",
        delivery_timeout_seconds: float = 30.0,
        linger_ms: int = 2,
        extra_config: Mapping[str, ConfigValue] | None = None,
    ) -> None:
        self._config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            # Small: the relay sends batches already; waiting longer only adds callback latency.
            "linger.ms": linger_ms,
            "delivery.timeout.ms": max(1, int(delivery_timeout_seconds * 1000)),
            # Reconnect quickly after a broker restart instead of backing off up to 10 s.
            "reconnect.backoff.max.ms": 1000,
            "logger": logging.getLogger("confluent_kafka.producer"),
            "error_cb": self._on_error,
            **(extra_config or {}),
        }
        self._delivery_timeout_seconds = delivery_timeout_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._producer: Producer | None = None
        self._fatal: KafkaError | None = None
        self._stopping = threading.Event()
        self._poller: threading.Thread | None = None

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        self._producer = Producer(self._config)
        self._stopping.clear()
        self._poller = threading.Thread(target=self._poll_until_stopped, name="kafka-producer-poll", daemon=True)
        self._poller.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join)
            self._poller = None
        producer, self._producer = self._producer, None
        if producer is not None:
            await asyncio.to_thread(_close, producer, self._delivery_timeout_seconds)

    async def publish(self, events: Sequence[OutboxEvent]) -> None:
        """Send every event and wait for all delivery reports; `PublishError` unless all were acknowledged."""
        if not events:
            return
        producer = await self._healthy_producer()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._delivery_timeout_seconds + _DEADLINE_GRACE_SECONDS
        futures: list[asyncio.Future[KafkaError | None]] = []
        for event in events:
            future: asyncio.Future[KafkaError | None] = loop.create_future()
            await self._produce(producer, event, future, deadline)
            futures.append(future)
        try:
            async with asyncio.timeout_at(deadline):
                outcomes = await asyncio.gather(*futures)
        except TimeoutError as exc:
            raise PublishError(f"{len(events)} events not acknowledged in time") from exc
        failures = [error for error in outcomes if error is not None]
        if failures:
            # librdkafka may keep retrying with idempotence state the broker no longer knows (a broker that lost
            # its data answers UNKNOWN_PRODUCER_ID forever after a client-side epoch bump): start afresh next time.
            self._fatal = failures[0]
            raise PublishError(f"{len(failures)} of {len(events)} events not delivered: {failures[0].str()}")

    async def _produce(
        self, producer: Producer, event: OutboxEvent, future: asyncio.Future[KafkaError | None], deadline: float
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                producer.produce(
                    event.topic,
                    value=event.value,
                    key=event.key.encode(),
                    headers=[(name, value.encode()) for name, value in event.headers],
                    on_delivery=functools.partial(self._on_delivery, future),
                )
            except BufferError as exc:
                # The local queue is full: wait for deliveries to drain it, as long as the batch deadline allows.
                if loop.time() >= deadline:
                    raise PublishError("the producer queue stayed full") from exc
                await asyncio.sleep(_QUEUE_FULL_BACKOFF_SECONDS)
            except KafkaException as exc:
                raise PublishError(f"could not send an event to {event.topic!r}: {exc}") from exc
            else:
                return

    async def _healthy_producer(self) -> Producer:
        if self._producer is None:
            raise PublishError("the Kafka publisher is not open")
        if self._fatal is not None:
            logger.warning("replacing the Kafka producer after a failed batch: %s", self._fatal.str())
            old, self._producer = self._producer, Producer(self._config)
            self._fatal = None
            # Fail what the old producer still holds now rather than at the deadline.
            await asyncio.to_thread(_close, old, 0.0)
        return self._producer

    def _poll_until_stopped(self) -> None:
        while not self._stopping.is_set():
            producer = self._producer
            if producer is None:
                self._stopping.wait(_POLL_SECONDS)
                continue
            try:
                producer.poll(_POLL_SECONDS)
            except KafkaException as exc:
                # A fatal error surfaces here too; the next publish replaces the producer. Fail its pending
                # deliveries now (purge reports them) instead of letting their batch wait for the deadline.
                self._fatal = exc.args[0]
                with contextlib.suppress(KafkaException):
                    producer.purge()
                    producer.poll(0)
                self._stopping.wait(_POLL_SECONDS)

    def _on_delivery(self, future: asyncio.Future[KafkaError | None], error: KafkaError | None, _message: Any) -> None:
        # Runs on the poll thread (or in flush during close): hand the outcome to the event loop.
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody awaits the outcome
            self._loop.call_soon_threadsafe(_settle, future, error)

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            logger.error("fatal Kafka producer error: %s", error.str())
            self._fatal = error
        else:
            logger.debug("Kafka producer error (retried by librdkafka): %s", error.str())


def _settle(future: asyncio.Future[KafkaError | None], error: KafkaError | None) -> None:
    if not future.done():
        future.set_result(error)


def _close(producer: Producer, timeout_seconds: float) -> None:
    # A producer in a fatal state raises from flush and purge as well; it is being dropped either way.
    with contextlib.suppress(KafkaException):
        remaining = producer.flush(timeout_seconds)
        if remaining:
            logger.warning("closing the Kafka producer with %d undelivered events (the outbox keeps them)", remaining)
            producer.purge()
            producer.flush(0)
    with contextlib.suppress(KafkaException):
        producer.close()


async def ensure_topics(
    bootstrap_servers: str, topics: Sequence[str], *, partitions: int, timeout_seconds: float = 10.0
) -> None:
    """Create the topics that do not exist yet with `partitions` partitions and the broker's default replication."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "logger": logging.getLogger("confluent_kafka.admin"),
    }
    admin = AdminClient(config)
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions) for topic in topics], request_timeout=timeout_seconds
    )
    for topic, future in futures.items():
        try:
            await asyncio.wrap_future(future)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise PublishError(f"could not create topic {topic!r}: {exc}") from exc
