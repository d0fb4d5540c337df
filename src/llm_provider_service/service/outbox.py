"""The outbox relay: publishes events written with state changes, surviving broker outages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from llm_provider_service.domain.errors import PublishError, StoreUnavailableError
from llm_provider_service.domain.models import OutboxEvent
from llm_provider_service.ports import Clock, EventPublisher, OutboxStore

logger = logging.getLogger(__name__)

MAX_DIRECT_EVENTS = 1000
MAX_BACKOFF_SECONDS = 5.0
# Each job writes two events moments apart (started, then its result) and jobs finish in bursts: waiting this long
# after a wake-up lets their events share one claim + publish + mark round instead of one round per event (three
# store statements and a broker round trip each), for a few ms of callback latency.
COALESCE_SECONDS = 0.005
# What a claim must outlive beyond the publisher's delivery timeout: its own safety-net grace and the mark.
CLAIM_MARGIN_SECONDS = 10.0


def outbox_claim_seconds(delivery_timeout_seconds: float) -> float:
    """How long a relay holds the rows it claimed: longer than its slowest publish can take.

    A claim that expires while its publish is still waiting for the broker lets another process's relay claim the
    same rows and publish them a second time (the duplicates a saturated soak showed with a 10 s claim and a 30 s
    delivery timeout). The price is on the rare relay that dies holding a claim: its rows wait this long.
    """
    return delivery_timeout_seconds + CLAIM_MARGIN_SECONDS


class OutboxRelay:
    """Moves outbox rows to the publisher: claim a batch, publish it, mark it published.

    Woken at once when this process writes events, and polling for rows written by other processes.
    Delivery is at-least-once: a crash between publish and mark publishes the batch again with the same
    event ids. Best-effort events that are not tied to a job (circuit changes) go through `publish_direct`.
    """

    def __init__(
        self,
        *,
        store: OutboxStore,
        publisher: EventPublisher,
        clock: Clock,
        poll_interval_seconds: float,
        batch_size: int = 500,
        lock_seconds: float = 10.0,
        on_published: Callable[[int], None] = lambda count: None,
        on_failure: Callable[[str, float], None] = lambda cause, failing_seconds: None,
        on_recovered: Callable[[float], None] = lambda failed_seconds: None,
        coalesce_seconds: float = COALESCE_SECONDS,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._clock = clock
        self._poll_interval_seconds = poll_interval_seconds
        self._batch_size = batch_size
        self._lock_seconds = lock_seconds
        self._on_published = on_published
        self._on_failure = on_failure
        self._on_recovered = on_recovered
        self._coalesce_seconds = coalesce_seconds
        self._wake = asyncio.Event()
        self._direct: deque[OutboxEvent] = deque(maxlen=MAX_DIRECT_EVENTS)
        self._failures = 0
        self._failing_since: float | None = None  # clock time of the first failure of the current outage
        self._failing_cause: str | None = None

    def wake(self) -> None:
        self._wake.set()

    def publish_direct(self, event: OutboxEvent) -> None:
        self._direct.append(event)
        self._wake.set()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many outbox rows were published. Raises nothing on outages."""
        await self._flush_direct()
        try:
            events = await self._store.claim_outbox(
                now=self._clock.now(), limit=self._batch_size, lock_seconds=self._lock_seconds
            )
            if not events:
                if self._failing_cause == "store":
                    self._succeeded(0)  # the store answers again; a broker outage ends only with a publish
                return 0
            await self._publisher.publish(events)
            await self._store.mark_published([event.event_id for event in events], now=self._clock.now())
        except (PublishError, StoreUnavailableError) as error:
            self._failed(error)
            if isinstance(error, PublishError):
                await self._release(events)
            return -1
        self._succeeded(len(events))
        return len(events)

    async def _release(self, events: list[OutboxEvent]) -> None:
        """After a failed publish the next attempt (ours or another process's) need not wait out the long claim."""
        with contextlib.suppress(StoreUnavailableError):  # the claim then simply runs out
            await self._store.release_outbox([event.event_id for event in events])

    def _failed(self, error: PublishError | StoreUnavailableError) -> None:
        cause = "broker" if isinstance(error, PublishError) else "store"
        now = self._clock.monotonic()
        self._failures += 1
        self._failing_cause = cause
        if self._failing_since is None:
            self._failing_since = now
            # Said once per outage, loudly: the events are safe in the outbox and the relay keeps retrying.
            logger.error(
                "outbox relay cannot %s (%s): events stay in the outbox and are retried every <= %.0f s; none is lost",
                "publish to the event broker" if cause == "broker" else "read the outbox",
                error,
                MAX_BACKOFF_SECONDS,
            )
        else:
            logger.warning(
                "outbox relay still failing after %.1f s (%d attempts, %s): %s",
                now - self._failing_since,
                self._failures,
                cause,
                error,
            )
        self._on_failure(cause, now - self._failing_since)

    def _succeeded(self, published: int) -> None:
        if self._failing_since is not None:
            failed_seconds = self._clock.monotonic() - self._failing_since
            logger.warning(
                "outbox relay recovered after %.1f s and %d failed attempts; publishing the backlog",
                failed_seconds,
                self._failures,
            )
            self._failing_since = None
            self._failing_cause = None
            self._on_recovered(failed_seconds)
        self._failures = 0
        self._on_published(published)

    async def _flush_direct(self) -> None:
        if not self._direct:
            return
        # Take the batch before awaiting: events appended while it is being published belong to the next one.
        batch = list(self._direct)
        self._direct.clear()
        try:
            await self._publisher.publish(batch)
        except PublishError:
            logger.warning("dropped %d best-effort events while the broker is unavailable", len(batch))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # Clear before claiming, not before sleeping: a wake-up that arrives while a batch is being published
            # must end the next sleep at once, or those events wait a whole poll interval.
            self._wake.clear()
            published = await self.relay_once()
            if published >= self._batch_size:
                continue
            delay = self._poll_interval_seconds
            if published < 0:
                delay = min(MAX_BACKOFF_SECONDS, self._poll_interval_seconds * 2 ** min(self._failures, 8))
            if await self._sleep(delay, stop) and self._coalesce_seconds > 0 and not stop.is_set():
                await asyncio.sleep(self._coalesce_seconds)

    async def _sleep(self, delay: float, stop: asyncio.Event) -> bool:
        """Until woken, stopped or `delay` passed; True if woken by new events."""
        waiters = (asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return self._wake.is_set()

    async def drain(self, timeout_seconds: float) -> int:
        """Publish what is left (at shutdown); returns the backlog that could not be published in time."""
        try:
            async with asyncio.timeout(timeout_seconds):
                while await self.relay_once() > 0:
                    pass
        except TimeoutError:
            logger.warning("outbox drain timed out")
        try:
            return await self._store.outbox_backlog()
        except StoreUnavailableError:
            return -1
