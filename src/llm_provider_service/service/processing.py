"""Process one claimed job: attempt the provider call, then retry later, fail, expire or complete it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from llm_provider_service.domain.catalog import ModelCatalog
from llm_provider_service.domain.comparison import build_completion_request, parse_comparison
from llm_provider_service.domain.errors import (
    ProviderError,
    ProviderErrorKind,
    QueueUnavailableError,
)
from llm_provider_service.domain.events import CompletedCall, JobOutcome
from llm_provider_service.domain.models import MOCK_INTRINSIC_MS_KEY, Comparison, CompletionResponse, Job, TokenUsage
from llm_provider_service.domain.rate_limits import observing_rate_limits
from llm_provider_service.ports import Lease, LLMProvider
from llm_provider_service.resilience.circuit_breaker import CircuitBreakerRegistry
from llm_provider_service.resilience.retry import RetryPolicy
from llm_provider_service.service.budget_gate import (
    Admission,
    BudgetGate,
    budget_wait_seconds,
    record_provider_failure,
    with_budget_wait,
)
from llm_provider_service.service.job_context import JobContext
from llm_provider_service.service.job_routing import JobRoutes
from llm_provider_service.service.job_writes import JobWrites
from llm_provider_service.service.leases import LeaseKeeper
from llm_provider_service.service.limits import ProviderLimits
from llm_provider_service.service.processing_report import (
    BUDGET_DEFERRED,
    BatchIntake,
    Outcome,
    ProcessingReport,
)

logger = logging.getLogger(__name__)

PROVIDER_BUSY_DELAY_SECONDS = 0.05
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Answer:
    comparison: Comparison
    response: CompletionResponse
    call_seconds: float


class JobProcessor:
    """Runs one claimed job to its next state. Every terminal state is written with its events atomically."""

    def __init__(
        self,
        context: JobContext,
        *,
        providers: Mapping[str, LLMProvider],
        catalog: ModelCatalog,
        breakers: CircuitBreakerRegistry,
        retry_policy: RetryPolicy,
        limits: ProviderLimits,
        lease_seconds: float,
        call_timeout_seconds: float,
        random: Callable[[], float],
        budgets: BudgetGate | None = None,
        sleep: Sleep = asyncio.sleep,
        batching: BatchIntake | None = None,
        routes: JobRoutes | None = None,
    ) -> None:
        self._store = context.store
        self._queue = context.queue
        self._providers = providers
        self._catalog = catalog
        self._breakers = breakers
        self._retry = retry_policy
        self._limits = limits
        self._events = context.events
        self._outcomes = context.outcomes
        self._signals = context.signals
        self._clock = context.clock
        self._lease_seconds = lease_seconds
        self._call_timeout_seconds = call_timeout_seconds
        self._random = random
        self._on_events_written = context.on_events_written
        self._budgets = budgets
        self._sleep = sleep
        # Begins, finishes and acks of the worker's concurrent jobs go out in batches (one transaction each).
        self._writes = JobWrites(context.store, context.queue)
        self.batching = batching  # set by the composition root once the batch use case exists
        self.routes = routes  # jobs whose provider is a route run on the target it picks (set like `batching`)

    async def process(self, lease: Lease) -> ProcessingReport:
        return await self.process_job(lease, await self._store.get(lease.job_id))

    async def process_job(self, lease: Lease, job: Job | None) -> ProcessingReport:
        """`process` with the job already read (the worker reads a whole claim's jobs at once); None: not found."""
        if job is None or job.status.is_terminal:
            await self._queue_call(self._queue.ack(lease))
            return ProcessingReport(lease.job_id, Outcome.SKIPPED)
        if self.batching is not None and self.batching.handles(job):
            return replace(await self.batching.accept(job, lease), trace_id=job.trace_id)
        if self.routes is not None:
            job = self.routes.target(job)  # a routed job: from here on, it is the target's job
        if not self._limits.try_acquire(job.provider):
            await self._queue_call(self._queue.release(lease, delay_seconds=PROVIDER_BUSY_DELAY_SECONDS))
            return ProcessingReport(job.id, Outcome.DEFERRED, job.provider, job.model)
        try:
            report = await self._process_with_slot(job, lease)
        finally:
            self._limits.release(job.provider)
        return replace(report, trace_id=job.trace_id)

    async def _process_with_slot(self, job: Job, lease: Lease) -> ProcessingReport:
        breaker = self._breakers.get(job.provider)
        if not breaker.allow():
            # An open circuit makes jobs wait in the queue; it never fails them or spends their attempts.
            delay = max(PROVIDER_BUSY_DELAY_SECONDS, breaker.retry_after_seconds())
            await self._queue_call(self._queue.release(lease, delay_seconds=delay))
            return ProcessingReport(job.id, Outcome.DEFERRED, job.provider, job.model)
        admission = await self._admit(job)
        if admission is not None and admission.deferred:
            # Out of rate budget: back to the queue until it refills; no attempt, no breaker, no failure.
            breaker.record_cancelled()
            await self._queue_call(self._queue.release(lease, delay_seconds=admission.grant.delay_seconds))
            return ProcessingReport(job.id, Outcome.DEFERRED, job.provider, job.model, error_kind=BUDGET_DEFERRED)
        if admission is not None and admission.grant.delay_seconds > 0:
            await self._sleep(admission.grant.delay_seconds)  # a ticket within the horizon: its turn comes soon
        return await self._begin(job, lease, admission)

    async def _admit(self, job: Job) -> Admission | None:
        if self._budgets is None:
            return None
        request = build_completion_request(
            job.request, job_id=job.id, model=job.model, attempt=job.attempts + 1, repair=False
        )
        return await self._budgets.admit(job.provider, job.model, request, job_id=job.id)

    async def _cancel_admission(self, admission: Admission | None) -> None:
        if self._budgets is not None and admission is not None:
            await self._budgets.cancel(admission)

    async def _begin(self, job: Job, lease: Lease, admission: Admission | None) -> ProcessingReport:
        breaker = self._breakers.get(job.provider)
        now = self._clock.now()
        started = await self._writes.begin_attempt(
            job.id,
            owner=lease.token,
            now=now,
            lease_expires_at=now + timedelta(seconds=self._lease_seconds),
            events=[self._events.started(job, now=now, attempt=job.attempts + 1)],
        )
        if started is None:
            breaker.record_cancelled()
            await self._cancel_admission(admission)
            await self._queue_call(self._queue.ack(lease))
            return ProcessingReport(job.id, Outcome.SKIPPED, job.provider, job.model)
        self._on_events_written()
        if job.route is not None:  # the store's row names the route; this attempt runs on the target picked
            started = started.with_changes(provider=job.provider, model=job.model, route=job.route)
        if now >= started.expires_at:
            breaker.record_cancelled()
            await self._cancel_admission(admission)
            return await self._finish(started, lease, self._outcomes.expired(started, now=now))
        return await self._attempt(started, lease, admission)

    async def _attempt(self, job: Job, lease: Lease, admission: Admission | None) -> ProcessingReport:
        breaker = self._breakers.get(job.provider)
        budget_wait = budget_wait_seconds(admission)
        with observing_rate_limits() as seen:
            try:
                async with LeaseKeeper(
                    queue=self._queue,
                    store=self._store,
                    clock=self._clock,
                    lease=lease,
                    lease_seconds=self._lease_seconds,
                ) as keeper:
                    answer = await self._call(job)
                if keeper.lost:  # the call was stopped: another worker holds the job, and writes its result
                    breaker.record_cancelled()
                    await self._cancel_admission(admission)
                    return ProcessingReport(job.id, Outcome.LOST, job.provider, job.model, job.attempts)
            except ProviderError as error:
                await self._settle(admission, None, seen.last)
                record_provider_failure(breaker, error, budgets_on=self._budgets is not None)
                report = await self._handle_failure(job, keeper.lease, error)
                return replace(report, budget_wait_seconds=budget_wait)
            except asyncio.CancelledError:
                breaker.record_cancelled()
                await self._give_back(job, keeper.lease)
                raise
        await self._settle(admission, answer.response.usage, seen.last)
        breaker.record_success()
        report = await self._complete(job, keeper.lease, answer, budget_wait)
        return replace(report, budget_wait_seconds=budget_wait)

    async def _settle(self, admission: Admission | None, usage: TokenUsage | None, seen: Any) -> None:
        if self._budgets is not None and admission is not None:
            await self._budgets.settle(admission, usage=usage, observation=seen)

    async def _call(self, job: Job) -> _Answer:
        provider = self._providers.get(job.provider)
        if provider is None:
            raise ProviderError(
                ProviderErrorKind.INVALID_REQUEST,
                f"provider {job.provider!r} is not configured here",
                provider=job.provider,
            )
        started = self._clock.monotonic()
        response = await self._complete_once(provider, job, repair=False)
        try:
            comparison = parse_comparison(response, provider=job.provider)
        except ProviderError:
            # One repair attempt for an answer that broke the schema; never a fabricated default.
            response = await self._complete_once(provider, job, repair=True)
            comparison = parse_comparison(response, provider=job.provider)
        return _Answer(comparison, response, self._clock.monotonic() - started)

    async def _complete_once(self, provider: LLMProvider, job: Job, *, repair: bool) -> CompletionResponse:
        request = build_completion_request(
            job.request, job_id=job.id, model=job.model, attempt=job.attempts, repair=repair
        )
        try:
            async with asyncio.timeout(self._call_timeout_seconds):
                return await provider.complete(request)
        except TimeoutError as exc:
            raise ProviderError(ProviderErrorKind.TIMEOUT, "provider call timed out", provider=job.provider) from exc

    async def _handle_failure(self, job: Job, lease: Lease, error: ProviderError) -> ProcessingReport:
        retrying = self._retry.should_retry(error, job.attempts)
        moved = None if self.routes is None else self.routes.move_on(job, error, retrying=retrying)
        if retrying or moved is not None:
            delay = self._retry.delay_seconds(
                job.attempts, retry_after_seconds=error.retry_after_seconds, random=self._random
            )
            if moved is not None:  # the route's next target owes nothing to this one's backoff: it goes at once
                delay = 0.0
            now = self._clock.now()
            rescheduled = await self._store.reschedule(
                job.id,
                owner=lease.token,
                now=now,
                available_at=now + timedelta(seconds=delay),
                last_error=moved or {"kind": error.kind.value, "message": str(error), "attempt": job.attempts},
            )
            if not rescheduled:
                return ProcessingReport(job.id, Outcome.LOST, job.provider, job.model, job.attempts)
            await self._queue_call(self._queue.release(lease, delay_seconds=delay))
            return ProcessingReport(
                job.id, Outcome.RETRY_SCHEDULED, job.provider, job.model, job.attempts, error_kind=error.kind.value
            )
        now = self._clock.now()
        report = await self._finish(job, lease, self._outcomes.failed(job, error, now=now))
        return replace(report, error_kind=error.kind.value)

    async def _complete(
        self, job: Job, lease: Lease, answer: _Answer, wait_seconds: float | None = None
    ) -> ProcessingReport:
        vendor = job.route.vendor if job.route is not None else job.provider  # a deployment prices as its vendor
        model = self._catalog.lookup(vendor, job.model)
        usage = answer.response.usage
        call = CompletedCall(
            comparison=answer.comparison,
            provider=vendor,
            model=answer.response.model or job.model,
            usage=usage,
            cost_usd=round(model.cost_usd(usage), 8),
            response_time_ms=round(answer.call_seconds * 1000),
            extra_metadata=with_budget_wait({}, wait_seconds),
            cost_known=model.priced,
            envelope_metadata=_mock_timing(answer.response.provider_metadata),
        )
        now = self._clock.now()
        report = await self._finish(job, lease, self._outcomes.completed(job, call, now=now))
        return replace(report, call_seconds=answer.call_seconds, usage=usage, cost_usd=call.cost_usd)

    async def _finish(self, job: Job, lease: Lease, outcome: JobOutcome) -> ProcessingReport:
        now = self._clock.now()
        status = outcome.status
        finished = await self._writes.finish(
            job.id, outcome, owner=lease.token, now=now, events=self._events.terminal(job, outcome, now=now)
        )
        if not finished:
            logger.warning("job %s was taken over before its %s result was written", job.id, status.value)
            return ProcessingReport(job.id, Outcome.LOST, job.provider, job.model, job.attempts)
        self._on_events_written()
        self._signals.notify(job.id)
        await self._queue_call(self._writes.ack(lease))
        queue_wait = (job.started_at - job.created_at).total_seconds() if job.started_at else None
        return ProcessingReport(
            job.id,
            Outcome(status.value),
            job.provider,
            job.model,
            job.attempts,
            queue_wait_seconds=queue_wait,
            end_to_end_seconds=(now - job.created_at).total_seconds(),
        )

    async def _give_back(self, job: Job, lease: Lease) -> None:
        """On shutdown mid-call, return the job at once without spending its attempt (bounded, best effort)."""
        try:
            async with asyncio.timeout(2.0):
                now = self._clock.now()
                await asyncio.shield(self._store.release_attempt(job.id, owner=lease.token, now=now, available_at=now))
                await asyncio.shield(self._queue_call(self._queue.release(lease, delay_seconds=0.0)))
        except (TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001 - the lease expiry recovers the job
            logger.warning("could not hand job %s back on shutdown; its lease will expire", job.id)

    @staticmethod
    async def _queue_call(operation: Any) -> None:
        """Queue bookkeeping after the store has recorded the truth; if Redis is down the reconciler repairs it."""
        try:
            await operation
        except QueueUnavailableError:
            logger.warning("queue unavailable; the reconciler will repair its state")


def _mock_timing(provider_metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The mock's intrinsic time travels in the envelope's metadata (the toolkit reads it), never in the
    caller's `request_metadata`; other provider details (response ids) stay out of the callback."""
    intrinsic_ms = provider_metadata.get(MOCK_INTRINSIC_MS_KEY)
    return {MOCK_INTRINSIC_MS_KEY: intrinsic_ms} if isinstance(intrinsic_ms, int | float) else {}
