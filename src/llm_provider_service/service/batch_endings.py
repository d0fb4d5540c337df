"""How each job of an ended vendor batch ends: completed at the batch price, failed, expired, or sent back as an
immediate job — by the fallback policy — always through the store's compare-and-set, so exactly once."""

from __future__ import annotations

import logging
from datetime import datetime

from llm_provider_service.domain.batches import BatchItemOutcome, BatchRecord
from llm_provider_service.domain.catalog import ModelCatalog
from llm_provider_service.domain.comparison import parse_comparison
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind, QueueFullError, QueueUnavailableError
from llm_provider_service.domain.events import CompletedCall, JobOutcome
from llm_provider_service.domain.models import Comparison, CompletionResponse, Job
from llm_provider_service.resilience.retry import RetryPolicy
from llm_provider_service.service.job_context import JobContext
from llm_provider_service.service.processing_report import Outcome, ProcessingReport

logger = logging.getLogger(__name__)

# Why a batch did not answer a job, when the item itself says nothing (lost, or the batch never ran).
_STATE_KINDS = {"expired": ProviderErrorKind.TIMEOUT, "cancelled": ProviderErrorKind.SERVER_ERROR}


class BatchEndings:
    """Ends the jobs of one batch; `fallback` is "immediate" or "fail" (`BatchFallback`)."""

    def __init__(
        self, context: JobContext, *, catalog: ModelCatalog, retry_policy: RetryPolicy, fallback: str,
        fallback_mark: str,
    ) -> None:  # fmt: skip
        self._context = context
        self._catalog = catalog
        self._retry = retry_policy
        self._immediate = fallback == "immediate"
        self._mark = fallback_mark

    async def end(
        self,
        job: Job,
        batch: BatchRecord,
        item: BatchItemOutcome | None,
        *,
        batch_state: str,
        submit_error: ProviderError | None = None,
    ) -> ProcessingReport:
        now = self._context.clock.now()
        owner = batch.job_owner
        if now >= job.expires_at:
            return await self.expire(job, owner=owner)
        response = item.response if item is not None else None
        if item is not None and response is not None:
            try:
                comparison = parse_comparison(response, provider=job.provider)
            except ProviderError as invalid:
                item = BatchItemOutcome(item.custom_id, error=invalid)
            else:
                return await self._complete(job, batch, response, comparison, now=now)
        error = submit_error or (item.error if item is not None else None) or _unanswered(job, batch_state)
        # An answer that broke the schema gets its one repair as an immediate call, as an immediate job would.
        repairable = error.kind is ProviderErrorKind.INVALID_RESPONSE and job.attempts < self._retry.max_attempts
        if self._immediate and (self._retry.should_retry(error, job.attempts) or repairable):
            return await self._to_immediate(job, owner, error, now=now)
        return await self._finish(job, owner, self._context.outcomes.failed(job, error, now=now), error.kind.value)

    async def expire(self, job: Job, *, owner: str) -> ProcessingReport:
        now = self._context.clock.now()
        return await self._finish(job, owner, self._context.outcomes.expired(job, now=now), None)

    async def _complete(self, job: Job, batch: BatchRecord, response: CompletionResponse, comparison: Comparison,
                        *, now: datetime) -> ProcessingReport:  # fmt: skip
        model = self._catalog.lookup(job.provider, job.model)
        usage = response.usage
        since = batch.submitted_at or batch.created_at
        call = CompletedCall(
            comparison=comparison,
            provider=job.provider,
            model=response.model or job.model,
            usage=usage,
            cost_usd=round(model.batch_cost_usd(usage), 8),  # the vendor bills batch work at its batch price
            response_time_ms=max(0, round((now - since).total_seconds() * 1000)),
            extra_metadata={},
            cost_known=model.priced,
        )
        report = await self._finish(job, batch.job_owner, self._context.outcomes.completed(job, call, now=now), None)
        seconds = call.response_time_ms / 1000
        return ProcessingReport(
            report.job_id, report.outcome, report.provider, report.model, report.attempt,
            queue_wait_seconds=report.queue_wait_seconds, end_to_end_seconds=report.end_to_end_seconds,
            call_seconds=seconds if report.outcome is Outcome.COMPLETED else None,
            usage=usage if report.outcome is Outcome.COMPLETED else None, cost_usd=call.cost_usd,
        )  # fmt: skip

    async def _to_immediate(self, job: Job, owner: str, error: ProviderError, *, now: datetime) -> ProcessingReport:
        last_error = {"kind": error.kind.value, "message": str(error), "attempt": job.attempts, self._mark: True}
        if not await self._context.store.reschedule(job.id, owner=owner, now=now, available_at=now,
                                                    last_error=last_error):  # fmt: skip
            return ProcessingReport(job.id, Outcome.LOST, job.provider, job.model, job.attempts)
        try:
            await self._context.queue.enqueue(job.id, priority=job.request.priority)
        except (QueueUnavailableError, QueueFullError):
            logger.warning("could not enqueue job %s back; the reconciler will", job.id)
        return ProcessingReport(job.id, Outcome.RETRY_SCHEDULED, job.provider, job.model, job.attempts,
                                error_kind=error.kind.value)  # fmt: skip

    async def _finish(self, job: Job, owner: str, outcome: JobOutcome, error_kind: str | None) -> ProcessingReport:
        context, now = self._context, self._context.clock.now()
        finished = await context.store.finish(
            job.id, outcome, owner=owner, now=now, events=context.events.terminal(job, outcome, now=now)
        )
        if finished is None:
            return ProcessingReport(job.id, Outcome.LOST, job.provider, job.model, job.attempts)
        context.on_events_written()
        context.signals.notify(job.id)
        queue_wait = (job.started_at - job.created_at).total_seconds() if job.started_at else None
        return ProcessingReport(
            job.id, Outcome(outcome.status.value), job.provider, job.model, job.attempts,
            queue_wait_seconds=queue_wait, end_to_end_seconds=(now - job.created_at).total_seconds(),
            error_kind=error_kind,
        )  # fmt: skip


def _unanswered(job: Job, batch_state: str) -> ProviderError:
    """The vendor ended the batch without this item: expired, cancelled, failed or simply lost."""
    kind = _STATE_KINDS.get(batch_state, ProviderErrorKind.SERVER_ERROR)
    reason = "the batch ended without answering it" if batch_state in _STATE_KINDS else "the vendor lost it"
    return ProviderError(kind, f"{job.provider} batch item: {reason} ({batch_state})", provider=job.provider)
