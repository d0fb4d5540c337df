"""Vendor batch mode: collect `provider_batch_api` jobs, submit them as one vendor batch, poll it, end each job.

A claimed batch-mode job is started (attempt counted) under this worker's collector lease, which covers the
collection window; at submission the store hands the jobs to the batch's own lease owner with a long lease and
records the batch, then the vendor's id. Any worker may poll a recorded batch once its poller's lease ran out,
so a worker killed between submit and collect loses nothing; one killed while collecting loses only its short
collector lease, and the reconciler re-enqueues those jobs. Each job ends under the store's compare-and-set,
so a batch collected twice still ends each job once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar

from llm_provider_service.domain.batches import BatchItemOutcome, BatchPhase, BatchRecord, VendorBatch
from llm_provider_service.domain.catalog import ModelCatalog
from llm_provider_service.domain.comparison import build_completion_request
from llm_provider_service.domain.errors import ProviderError, QueueUnavailableError, ServiceError
from llm_provider_service.domain.models import BatchingMode, CompletionRequest, Job
from llm_provider_service.domain.rate_limits import observing_rate_limits
from llm_provider_service.ports import BatchProvider, Lease, Store
from llm_provider_service.resilience.retry import RetryPolicy
from llm_provider_service.service.batch_endings import BatchEndings
from llm_provider_service.service.budget_gate import BudgetGate
from llm_provider_service.service.job_context import JobContext
from llm_provider_service.service.processing_report import Outcome, ProcessingReport

logger = logging.getLogger(__name__)

FALLBACK_MARK = "batch_fallback"  # in `last_error`: this job left batch mode and runs as an immediate job
BATCH_API_BUDGET = "batch-api"  # the budget key's model part for what the batch endpoints' headers teach
T = TypeVar("T")


class BatchFallback(StrEnum):
    """What happens to a job its batch did not answer (lost, expired, cancelled, retryable item error)."""

    IMMEDIATE = "immediate"  # retried as an immediate job (while attempts remain), else failed
    FAIL = "fail"  # failed at once


@dataclass(frozen=True, slots=True)
class BatchConfig:
    window_seconds: float = 60.0
    max_size: int = 1000
    poll_interval_seconds: float = 30.0
    job_lease_seconds: float = 90_000.0  # longer than the vendors' 24 h completion window
    fallback: BatchFallback = BatchFallback.IMMEDIATE
    collector_lease_seconds: float = 30.0  # beyond the window: a collecting worker's death frees its jobs

    @property
    def poll_lease_seconds(self) -> float:
        """How long a poller holds a batch between its polls; after that another worker takes it over."""
        return max(3 * self.poll_interval_seconds, self.collector_lease_seconds)


class BatchCoordinator:
    """The batch-mode use case, one per worker process; `run` drives its timers."""

    def __init__(
        self,
        context: JobContext,
        *,
        store: Store,
        clients: Mapping[str, BatchProvider],
        catalog: ModelCatalog,
        retry_policy: RetryPolicy,
        config: BatchConfig,
        on_report: Callable[[ProcessingReport], None] = lambda report: None,
        on_batch: Callable[[str, str], None] = lambda provider, state: None,
        budgets: BudgetGate | None = None,
    ) -> None:
        self._context = context
        self._budgets = budgets
        self._store = store
        self._clients = clients
        self._config = config
        self._on_report = on_report
        self._on_batch = on_batch
        self._owner = f"batcher-{uuid.uuid4().hex[:12]}"
        self._pending: dict[tuple[str, str], list[Job]] = {}
        self._first_at: dict[tuple[str, str], float] = {}
        self._last_poll = float("-inf")
        self._endings = BatchEndings(context, catalog=catalog, retry_policy=retry_policy, fallback=config.fallback,
                                     fallback_mark=FALLBACK_MARK)  # fmt: skip

    @property
    def pending(self) -> int:
        return sum(len(jobs) for jobs in self._pending.values())

    def handles(self, job: Job) -> bool:
        """Batch mode asked, a batch API for the provider here, and the job not already sent back to immediate."""
        if job.request.overrides.batching_mode is not BatchingMode.PROVIDER_BATCH_API:
            return False
        return job.provider in self._clients and not (job.last_error or {}).get(FALLBACK_MARK)

    async def accept(self, job: Job, lease: Lease) -> ProcessingReport:
        """Start the claimed job under the collector lease, leave the queue, and add it to its collection."""
        clock, events = self._context.clock, self._context.events
        now = clock.now()
        lease_until = now + timedelta(seconds=self._config.window_seconds + self._config.collector_lease_seconds)
        started = await self._store.begin_attempt(
            job.id, owner=self._owner, now=now, lease_expires_at=lease_until,
            events=[events.started(job, now=now, attempt=job.attempts + 1)],
        )  # fmt: skip
        await self._queue_call(self._context.queue.ack(lease))
        if started is None:
            return ProcessingReport(job.id, Outcome.SKIPPED, job.provider, job.model)
        self._context.on_events_written()
        if now >= started.expires_at:
            return await self._endings.expire(started, owner=self._owner)
        key = (started.provider, started.model)
        self._pending.setdefault(key, []).append(started)
        self._first_at.setdefault(key, clock.monotonic())
        if len(self._pending[key]) >= self._config.max_size:
            await self._flush(key)
        return ProcessingReport(job.id, Outcome.BATCHED, job.provider, job.model, started.attempts)

    async def tick(self) -> None:
        """Submit collections whose window ran out; poll the open batches (every poll interval)."""
        monotonic = self._context.clock.monotonic()
        for key, first in list(self._first_at.items()):
            if monotonic - first >= self._config.window_seconds:
                await self._flush(key)
        if monotonic - self._last_poll < self._config.poll_interval_seconds:
            return
        self._last_poll = monotonic
        now = self._context.clock.now()
        lease_until = now + timedelta(seconds=self._config.poll_lease_seconds)
        for batch in await self._store.claim_batches(owner=self._owner, now=now, lease_expires_at=lease_until,
                                                     limit=100):  # fmt: skip
            try:
                await self._poll(batch)
            except ServiceError as error:  # the vendor or the store is unreachable now: the next poll tries again
                logger.warning("polling batch %s failed: %s", batch.id, error)

    async def run(self, stop: asyncio.Event, *, tick_seconds: float = 0.5, drain_seconds: float = 5.0) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except ServiceError as error:
                logger.warning("batching: %s; will try again", error.code)
            except Exception:  # one bad batch must not stop the process; the next tick retries
                logger.exception("batching tick failed")
            try:
                async with asyncio.timeout(tick_seconds):
                    await stop.wait()
            except TimeoutError:
                pass
        await self._drain(drain_seconds)

    async def _drain(self, seconds: float) -> None:
        """On shutdown, submit what was collected; whatever is left waits out its collector lease, then the
        reconciler re-enqueues it."""
        try:
            async with asyncio.timeout(seconds):
                for key in list(self._pending):
                    await self._flush(key)
        except (TimeoutError, ServiceError):
            logger.warning("batching: %d collected jobs not submitted at shutdown", self.pending)

    async def _flush(self, key: tuple[str, str]) -> None:
        jobs = self._pending.pop(key, [])
        self._first_at.pop(key, None)
        if not jobs:
            return
        now = self._context.clock.now()
        record = BatchRecord(
            id=uuid.uuid4().hex, provider=key[0], model=key[1], job_ids=tuple(job.id for job in jobs),
            phase=BatchPhase.SUBMITTING, created_at=now, updated_at=now, poll_owner=self._owner,
            poll_lease_expires_at=now + timedelta(seconds=self._config.poll_lease_seconds),
        )  # fmt: skip
        created = await self._store.create_batch(
            record, collector=self._owner, job_lease_expires_at=now + timedelta(seconds=self._config.job_lease_seconds)
        )
        if created is not None:
            await self._submit(created)

    async def _submit(self, batch: BatchRecord) -> None:
        jobs = await self._open_jobs(batch)
        requests = _requests(jobs)
        client = self._clients.get(batch.provider)
        if client is None:  # recorded by a worker configured differently: leave it to one that has the client
            return
        try:
            vendor = await self._vendor(batch.provider, client.submit_batch(list(requests.items())))
        except ProviderError as error:
            logger.warning("batch %s of %d jobs was refused: %s", batch.id, len(jobs), error)
            await self._end_all(batch, jobs, {}, state="submit_failed", error=error)
            return
        await self._store.batch_submitted(batch.id, vendor_batch_id=vendor.id, now=self._context.clock.now())
        self._on_batch(batch.provider, "submitted")
        logger.info("batch %s submitted to %s as %s with %d jobs", batch.id, batch.provider, vendor.id, len(jobs))

    async def _poll(self, batch: BatchRecord) -> None:
        if batch.phase is BatchPhase.SUBMITTING or batch.vendor_batch_id is None:
            # Recorded but its submission not confirmed (the submitter died): submit it again. If the vendor had
            # taken the first, its answers are simply not read; each job still ends once.
            await self._submit(batch)
            return
        client = self._clients.get(batch.provider)
        if client is None:
            return
        status: VendorBatch = await self._vendor(batch.provider, client.batch_status(batch.vendor_batch_id))
        if not status.state.ended:
            return
        jobs = await self._open_jobs(batch)
        outcomes = await self._vendor(batch.provider, client.batch_results(batch.vendor_batch_id, _requests(jobs)))
        by_id = {outcome.custom_id: outcome for outcome in outcomes}
        await self._end_all(batch, jobs, by_id, state=status.state.value)

    async def _vendor(self, provider: str, call: Awaitable[T]) -> T:
        """A batch-API call whose rate-limit headers the budgets learn, under the batch endpoints' own key
        (`provider/batch-api`): their limits are not the models' immediate ones, so they must not throttle those."""
        if self._budgets is None:
            return await call
        with observing_rate_limits() as seen:
            try:
                return await call
            finally:
                if seen.last is not None:
                    await self._budgets.learn(provider, BATCH_API_BUDGET, seen.last)

    async def _end_all(
        self,
        batch: BatchRecord,
        jobs: Sequence[Job],
        by_id: Mapping[str, BatchItemOutcome],
        *,
        state: str,
        error: ProviderError | None = None,
    ) -> None:
        for job in jobs:
            report = await self._endings.end(job, batch, by_id.get(job.id), batch_state=state, submit_error=error)
            self._on_report(report)
        await self._store.end_batch(batch.id, vendor_state=state, now=self._context.clock.now())
        self._on_batch(batch.provider, state)
        logger.info("batch %s ended (%s): %d jobs", batch.id, state, len(jobs))

    async def _open_jobs(self, batch: BatchRecord) -> list[Job]:
        """The batch's jobs it still holds (one ended elsewhere, e.g. by an earlier collection, is left alone)."""
        jobs = []
        for job_id in batch.job_ids:
            job = await self._store.get(job_id)
            if job is not None and not job.status.is_terminal and job.lease_owner == batch.job_owner:
                jobs.append(job)
        return jobs

    @staticmethod
    async def _queue_call(operation: object) -> None:
        try:
            await operation  # type: ignore[misc]
        except QueueUnavailableError:
            logger.warning("queue unavailable; the reconciler will repair its state")


def _requests(jobs: Sequence[Job]) -> dict[str, CompletionRequest]:
    return {
        job.id: build_completion_request(job.request, job_id=job.id, model=job.model, attempt=job.attempts)
        for job in jobs
    }
