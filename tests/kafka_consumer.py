"""An independent Kafka consumer for tests: collects what really reached the broker, with an asyncio API.

Its session timeout is the shortest the test broker allows (`tests.kafka_settings`: 6000 ms on Apache Kafka, 2000 ms
on Tansu, which answers JoinGroup after max(1 s, session timeout / 2)), and `fetch.wait.max.ms=10` (end-to-end
latency is about half of it; never 0, which spins).
Each collector uses its own consumer group and reads from the earliest offset, so it sees events published before
it joined. Topics it subscribes to are created on demand (4 partitions on both test brokers): create them first with
`ensure_topics` when the partition count matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from tests.kafka_settings import TEST_KAFKA_FETCH_WAIT_MAX_MS, TEST_KAFKA_SESSION_TIMEOUT_MS

logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """One consumed message."""

    topic: str
    partition: int
    offset: int
    key: str | None
    headers: dict[str, str]
    value: bytes

    @property
    def envelope(self) -> dict[str, Any]:
        """The value parsed as a JSON object (the §8 envelope)."""
        parsed = json.loads(self.value)
        assert isinstance(parsed, dict), f"not a JSON object: {self.value[:80]!r}"
        return parsed


class CallbackCollector:
    """`async with CallbackCollector(bootstrap, [topic]) as c: events = await c.wait_for(n, timeout_seconds=30)`."""

    def __init__(
        self,
        bootstrap_servers: str,
        topics: Sequence[str],
        *,
        group_id: str | None = None,
        session_timeout_ms: int = TEST_KAFKA_SESSION_TIMEOUT_MS,
        fetch_wait_max_ms: int = TEST_KAFKA_FETCH_WAIT_MAX_MS,
    ) -> None:
        self._topics = list(topics)
        self._config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group_id or f"test-collector-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
            "allow.auto.create.topics": True,
            "session.timeout.ms": session_timeout_ms,
            # A quarter of the session: librdkafka's default heartbeat (3 s) exceeds Tansu's 2 s session.
            "heartbeat.interval.ms": max(100, session_timeout_ms // 4),
            "fetch.wait.max.ms": fetch_wait_max_ms,
            "logger": logging.getLogger("confluent_kafka.consumer"),
        }
        self._events: list[ReceivedEvent] = []
        self._errors: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._arrived = asyncio.Event()
        self._assigned = asyncio.Event()

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        consumer = Consumer(self._config)
        consumer.subscribe(self._topics, on_assign=self._on_assign)
        self._thread = threading.Thread(target=self._consume, args=(consumer,), name="test-collector", daemon=True)
        self._thread.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    @property
    def events(self) -> list[ReceivedEvent]:
        with self._lock:
            return list(self._events)

    @property
    def errors(self) -> list[str]:
        with self._lock:
            return list(self._errors)

    async def wait_assigned(self, *, timeout_seconds: float = 15.0) -> None:
        """Wait until the group has given this consumer its partitions (about 1 s on either test broker)."""
        async with asyncio.timeout(timeout_seconds):
            await self._assigned.wait()

    async def wait_for(self, count: int, *, timeout_seconds: float) -> list[ReceivedEvent]:
        """All events so far once at least `count` arrived; `TimeoutError` saying how many did otherwise."""
        try:
            async with asyncio.timeout(timeout_seconds):
                while len(self.events) < count:
                    self._arrived.clear()  # a later arrival sets it again via call_soon_threadsafe
                    await self._arrived.wait()
        except TimeoutError:
            raise TimeoutError(
                f"received {len(self.events)} of {count} events in {timeout_seconds} s; errors: {self.errors[:3]}"
            ) from None
        return self.events

    async def wait_quiet(self, *, quiet_seconds: float, timeout_seconds: float) -> list[ReceivedEvent]:
        """All events once none arrived for `quiet_seconds` (to check that no extra event follows)."""
        async with asyncio.timeout(timeout_seconds):
            while True:
                self._arrived.clear()
                try:
                    async with asyncio.timeout(quiet_seconds):
                        await self._arrived.wait()
                except TimeoutError:
                    return self.events

    def _on_assign(self, _consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        self._notify(self._assigned)

    def _consume(self, consumer: Consumer) -> None:
        try:
            while not self._stopping.is_set():
                message = consumer.poll(_POLL_SECONDS)
                if message is not None:
                    self._record(message)
        finally:
            consumer.close()

    def _record(self, message: Message) -> None:
        error: KafkaError | None = message.error()
        if error is not None:
            logger.debug("test consumer error: %s", error.str())
            with self._lock:
                self._errors.append(error.str())
            return
        key = message.key()
        event = ReceivedEvent(
            topic=message.topic() or "",
            partition=message.partition() or 0,
            offset=message.offset() or 0,
            key=key.decode() if key is not None else None,
            headers=_headers(message),
            value=message.value() or b"",
        )
        with self._lock:
            self._events.append(event)
        self._notify(self._arrived)

    def _notify(self, flag: asyncio.Event) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting any more
                self._loop.call_soon_threadsafe(flag.set)


def _headers(message: Message) -> dict[str, str]:
    raw = message.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return {name: value.decode() if isinstance(value, bytes) else (value or "") for name, value in pairs}
