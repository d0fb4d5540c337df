"""The worker loop: claim jobs, process them with bounded concurrency, drain gracefully on shutdown."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import structlog

from llm_provider_service.domain import ids
from llm_provider_service.domain.errors import QueueUnavailableError, ServiceError, StoreUnavailableError
from llm_provider_service.domain.models import Job, TokenUsage
from llm_provider_service.domain.usage import UsageRecord
from llm_provider_service.observability import Metrics
from llm_provider_service.ports import Clock, JobQueue, JobStore, Lease
from llm_provider_service.service.processing import JobProcessor
from llm_provider_service.service.processing_report import BUDGET_DEFERRED, Outcome, ProcessingReport
from llm_provider_service.service.usage_recorder import UsageRecorder
from llm_provider_service.tracing import Tracing

logger = logging.getLogger(__name__)

CLAIM_WAIT_SECONDS = 0.5
OUTAGE_BACKOFF_SECONDS = 0.5


class _Unread:
    """A claimed job whose row the worker could not read with the others'."""


_UNREAD = _Unread()


class Worker:
    """Claims up to `concurrency` jobs at a time and runs each in its own supervised task.

    Shutdown (the `stop` event, set on SIGTERM): stop claiming, let running jobs finish for up to
    `grace_seconds`, then cancel the rest — a cancelled job hands its lease back at once.
    When the queue is unreachable the worker claims due jobs straight from the store, whose
    conditional `begin_attempt` keeps two workers from running the same job.
    """

    def __init__(
        self,
        *,
        queue: JobQueue,
        store: JobStore,
        processor: JobProcessor,
        clock: Clock,
        metrics: Metrics,
        concurrency: int,
        lease_seconds: float,
        usage: UsageRecorder | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self._queue = queue
        self._store = store
        self._processor = processor
        self._clock = clock
        self._metrics = metrics
        self._concurrency = concurrency
        self._lease_seconds = lease_seconds
        self._usage = usage
        self._tracing = tracing
        self._tasks: set[asyncio.Task[None]] = set()
        self.worker_id = uuid.uuid4().hex[:12]

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def run(self, stop: asyncio.Event, *, grace_seconds: float) -> None:
        logger.info("worker %s started with concurrency %d", self.worker_id, self._concurrency)
        try:
            while not stop.is_set():
                free = self._concurrency - len(self._tasks)
                if free <= 0:
                    await self._wait_for_slot(stop)
                    continue
                leases = await self._claim(free)
                jobs = await self._read_jobs(leases)
                for lease in leases:
                    run = self._run_one(lease, jobs.get(lease.job_id) if jobs is not None else _UNREAD)
                    task = asyncio.create_task(run, name=f"job-{lease.job_id}")
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        finally:
            await self._drain(grace_seconds)
        logger.info("worker %s stopped", self.worker_id)

    async def _wait_for_slot(self, stop: asyncio.Event) -> None:
        """Until a running job finishes or shutdown starts, whichever comes first."""
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({*self._tasks, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()

    async def _claim(self, free: int) -> list[Lease]:
        try:
            return await self._queue.claim(
                max_jobs=free, lease_seconds=self._lease_seconds, wait_seconds=CLAIM_WAIT_SECONDS
            )
        except QueueUnavailableError:
            return await self._claim_from_store(free)

    async def _claim_from_store(self, free: int) -> list[Lease]:
        try:
            jobs = await self._store.due_jobs(now=self._clock.now(), limit=free + len(self._tasks))
        except StoreUnavailableError:
            jobs = []
        running = {task.get_name() for task in self._tasks}
        expires_at = time.time() + self._lease_seconds
        leases = [Lease(job.id, ids.token_hex(16), expires_at) for job in jobs if f"job-{job.id}" not in running]
        if not leases:
            # Nothing new to run: back off instead of polling the store in a tight loop.
            await asyncio.sleep(OUTAGE_BACKOFF_SECONDS)
        return leases[:free]

    async def _read_jobs(self, leases: list[Lease]) -> dict[str, Job] | None:
        """The claimed jobs in one read; None if the store is down (each job then reads its own, and fails alone)."""
        if not leases:
            return {}
        try:
            return await self._store.get_many([lease.job_id for lease in leases])
        except StoreUnavailableError:
            return None

    async def _run_one(self, lease: Lease, job: Job | _Unread | None) -> None:
        structlog.contextvars.bind_contextvars(queue_id=lease.job_id)
        started_ns = time.time_ns()
        try:
            if isinstance(job, _Unread):
                report = await self._processor.process(lease)
            else:
                report = await self._processor.process_job(lease, job)
        except ServiceError as error:
            # Store or queue trouble mid-job: the lease expires and the job is picked up again.
            logger.warning("job %s interrupted by %s; its lease will expire", lease.job_id, error.code)
            return
        except Exception:
            logger.exception("job %s crashed the processor", lease.job_id)
            return
        self.record(report)
        if self._tracing is not None and report.outcome not in (Outcome.DEFERRED, Outcome.SKIPPED):
            self._tracing.record_job(
                job_id=report.job_id,
                trace_id=report.trace_id,
                start_ns=started_ns,
                end_ns=time.time_ns(),
                attributes={
                    "llm.provider": report.provider,
                    "llm.model": report.model,
                    "llm.outcome": report.outcome.value,
                    "llm.attempt": report.attempt,
                },
            )

    def record(self, report: ProcessingReport) -> None:
        """Metrics and usage of one job's step (also of the batch-mode jobs the batch use case ends)."""
        metrics = self._metrics
        model = metrics.model_label(report.provider, report.model)
        if report.outcome in (Outcome.COMPLETED, Outcome.FAILED, Outcome.EXPIRED):
            metrics.jobs_finished.labels(report.provider, model, report.outcome.value).inc()
            if report.end_to_end_seconds is not None:
                metrics.end_to_end_seconds.labels(report.provider).observe(report.end_to_end_seconds)
            if report.queue_wait_seconds is not None:
                metrics.queue_wait_seconds.labels(report.provider).observe(report.queue_wait_seconds)
        if report.budget_wait_seconds is not None:
            metrics.budget_wait_seconds.labels(report.provider).observe(report.budget_wait_seconds)
        self._record_waits(report)
        if report.call_seconds is not None:
            metrics.processing_seconds.labels(report.provider, model).observe(report.call_seconds)
        if report.outcome in (Outcome.COMPLETED, Outcome.FAILED, Outcome.RETRY_SCHEDULED):
            outcome = "ok" if report.outcome == Outcome.COMPLETED else (report.error_kind or "error")
            metrics.record_call(report.provider, report.model, outcome, usage=report.usage, cost_usd=report.cost_usd)
        if report.usage is not None:
            self._record_usage(report, report.usage)
        if report.outcome == Outcome.RETRY_SCHEDULED:
            metrics.job_retries.labels(report.provider, report.error_kind or "unknown").inc()

    def _record_waits(self, report: ProcessingReport) -> None:
        """Jobs set aside without an attempt's outcome: sent back for budget, or collected for a vendor batch."""
        if report.outcome == Outcome.BATCHED:
            self._metrics.batched_jobs.labels(report.provider).inc()
        if report.outcome == Outcome.DEFERRED and report.error_kind == BUDGET_DEFERRED:
            self._metrics.budget_deferrals.labels(report.provider).inc()

    def _record_usage(self, report: ProcessingReport, usage: TokenUsage) -> None:
        """One usage row per answered job, batched off the hot path, so /api/v1/usage covers jobs too."""
        if self._usage is None:
            return
        self._usage.add(
            UsageRecord(
                id=f"job:{report.job_id}:{report.attempt}",
                source="job",
                provider=report.provider,
                model=report.model,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cost_usd=report.cost_usd,
                latency_ms=round((report.call_seconds or 0.0) * 1000),
                outcome=report.outcome.value,
                created_at=self._clock.now(),
            )
        )

    async def _drain(self, grace_seconds: float) -> None:
        if not self._tasks:
            return
        logger.info("worker %s draining %d jobs for up to %.1f s", self.worker_id, len(self._tasks), grace_seconds)
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
