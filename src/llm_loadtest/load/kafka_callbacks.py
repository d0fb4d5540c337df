"""Consumes the run's callback topic with confluent-kafka and hands each envelope to the JobTracker."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

logger = logging.getLogger(__name__)


class CallbackConsumerError(RuntimeError):
    """The callback topic could not be created or subscribed to."""


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    bootstrap_servers: str
    topic: str
    # Apache Kafka's group minimum (librdkafka's default is 45 s); Tansu joins faster with 2000.
    session_timeout_ms: int = 6000
    # End-to-end latency is about fetch.wait.max.ms / 2 with librdkafka; 10 ms keeps it out of the numbers.
    fetch_wait_max_ms: int = 10
    partitions: int = 4
    assignment_timeout_seconds: float = 30.0


Handler = Callable[[Mapping[str, Any], int], None]


class CallbackConsumer:
    """Async context manager: creates the topic, joins a fresh group, and polls in a worker thread."""

    def __init__(self, settings: KafkaSettings, handler: Handler) -> None:
        self.settings = settings
        self._handler = handler
        self._consumer: Any = None
        self._stop = asyncio.Event()
        self.received = 0
        self.undecodable = 0

    def _create_topic(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.settings.bootstrap_servers})
        futures = admin.create_topics([NewTopic(self.settings.topic, self.settings.partitions, 1)])
        for topic, future in futures.items():
            try:
                future.result(timeout=10)
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                if not (isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS):
                    raise CallbackConsumerError(f"cannot create topic {topic}: {exc}") from exc

    def _open(self) -> None:
        self._create_topic()
        self._consumer = Consumer(
            {
                "bootstrap.servers": self.settings.bootstrap_servers,
                "group.id": f"llm-loadtest-{uuid.uuid4().hex[:12]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": self.settings.session_timeout_ms,
                "heartbeat.interval.ms": max(100, self.settings.session_timeout_ms // 4),
                "fetch.wait.max.ms": self.settings.fetch_wait_max_ms,
            }
        )
        self._consumer.subscribe([self.settings.topic])
        deadline = time.monotonic() + self.settings.assignment_timeout_seconds
        while not self._consumer.assignment():
            if time.monotonic() > deadline:
                raise CallbackConsumerError(f"no partition of {self.settings.topic} assigned in time")
            self._consumer.poll(0.1)

    async def __aenter__(self) -> Self:
        try:
            await asyncio.to_thread(self._open)
        except KafkaException as exc:
            raise CallbackConsumerError(f"cannot reach Kafka at {self.settings.bootstrap_servers}: {exc}") from exc
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._consumer is not None:
            await asyncio.to_thread(self._consumer.close)
            self._consumer = None

    def _batch(self) -> list[tuple[bytes, int]]:
        # consume() waits out its whole timeout even when messages are ready, which would add up to that much to
        # every measured latency: block in poll() for the first message, then take what else is ready without waiting.
        first = self._consumer.poll(0.05)
        received_ns = time.monotonic_ns()
        if first is None:
            return []
        messages = [first, *self._consumer.consume(num_messages=499, timeout=0)]
        return [
            (message.value(), received_ns)
            for message in messages
            if message.error() is None and message.value() is not None
        ]

    def stop(self) -> None:
        self._stop.set()

    async def run(self, *, max_seconds: float) -> None:
        """Consume until stop() or `max_seconds`; timestamps are taken in the polling thread on receipt."""
        deadline = time.monotonic() + max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            for raw, received_ns in await asyncio.to_thread(self._batch):
                self.received += 1
                try:
                    envelope = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    self.undecodable += 1
                    continue
                if isinstance(envelope, dict):
                    self._handler(envelope, received_ns)
