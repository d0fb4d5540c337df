"""The reconciler: re-enqueues jobs the queue lost and expires jobs whose time to live ran out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from llm_provider_service.domain.errors import QueueFullError, QueueUnavailableError, StoreUnavailableError
from llm_provider_service.domain.models import JobStatus
from llm_provider_service.ports import OutboxStore
from llm_provider_service.service.job_context import JobContext
from llm_provider_service.service.job_routing import JobRoutes

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    requeued: int = 0
    expired: int = 0
    pruned: int = 0


class Reconciler:
    """Makes the queue agree with the store, which is the system of record.

    A job the store holds as due (queued and available, or processing with an expired lease) but the
    queue does not know — lost with a Redis restart, or never enqueued because Redis was down — is
    enqueued again. Queued jobs past their TTL get their `expired` callback here, and published outbox
    events older than the retention are deleted.
    """

    def __init__(
        self,
        context: JobContext,
        *,
        outbox: OutboxStore,
        grace_seconds: float = 2.0,
        batch_size: int = 500,
        outbox_retention_seconds: float = 86400.0,
        routes: JobRoutes | None = None,
    ) -> None:
        self._routes = routes
        self._store = context.store
        self._outbox = outbox
        self._queue = context.queue
        self._events = context.events
        self._outcomes = context.outcomes
        self._signals = context.signals
        self._clock = context.clock
        self._grace = timedelta(seconds=grace_seconds)
        self._batch_size = batch_size
        self._outbox_retention = timedelta(seconds=outbox_retention_seconds)
        self._on_events_written = context.on_events_written

    async def run_once(self) -> ReconcileReport:
        expired = await self._expire_overdue()
        requeued = await self._requeue_lost()
        # Published events are only kept for inspection; bounded batches keep each pass short.
        pruned = await self._outbox.prune_outbox(
            published_before=self._clock.now() - self._outbox_retention, limit=self._batch_size
        )
        if requeued or expired or pruned:
            logger.info("reconciled: %d re-enqueued, %d expired, %d events pruned", requeued, expired, pruned)
        return ReconcileReport(requeued=requeued, expired=expired, pruned=pruned)

    async def _expire_overdue(self) -> int:
        now = self._clock.now()
        expired = 0
        for job in await self._store.overdue_jobs(now=now, limit=self._batch_size):
            if job.status != JobStatus.QUEUED:
                continue  # a processing job expires when its worker (or the next one) picks it up
            named = self._routes.primary(job) if self._routes is not None else job  # a route's job: its primary
            outcome = self._outcomes.expired(named, now=now)
            finished = await self._store.finish(
                job.id, outcome, owner=None, now=now, events=self._events.terminal(named, outcome, now=now)
            )
            if finished is not None:
                expired += 1
                self._signals.notify(job.id)
                # If the queue is down, a worker that claims the job later finds it terminal and acks it.
                with contextlib.suppress(QueueUnavailableError):
                    await self._queue.remove(job.id)
        if expired:
            self._on_events_written()
        return expired

    async def _requeue_lost(self) -> int:
        due = await self._store.due_jobs(now=self._clock.now() - self._grace, limit=self._batch_size)
        if not due:
            return 0
        try:
            present = await self._queue.contains([job.id for job in due])
            missing = [job for job in due if job.id not in present]
            for job in missing:
                await self._queue.enqueue(job.id, priority=job.request.priority)
        except (QueueUnavailableError, QueueFullError) as error:
            logger.warning("reconciler could not re-enqueue (%s); will try again", error.code)
            return 0
        return len(missing)

    async def run(self, stop: asyncio.Event, interval_seconds: float) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except StoreUnavailableError:
                logger.warning("reconciler: store unavailable")
            try:
                async with asyncio.timeout(interval_seconds):
                    await stop.wait()
            except TimeoutError:
                pass
