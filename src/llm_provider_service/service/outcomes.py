"""Outcomes for each way a job can end (completed, failed, expired, cancelled): the callback and its facts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from llm_provider_service.domain.comparison import build_completion_request, prompt_sha256
from llm_provider_service.domain.errors import ProviderError
from llm_provider_service.domain.events import CompletedCall, JobOutcome, callback_payload
from llm_provider_service.domain.models import ErrorDetail, Job, JobStatus
from llm_provider_service.domain.wire_vocabulary import error_code
from llm_provider_service.service.event_factory import EventFactory

OPERATION = "comparison"


def job_prompt_sha256(job: Job) -> str:
    call = build_completion_request(job.request, job_id=job.id, model=job.model, attempt=max(1, job.attempts))
    return prompt_sha256(call)


def request_metadata(job: Job, *, prompt_hash: str, cost_known: bool | None = None) -> dict[str, Any]:
    """The caller's metadata echoed verbatim, plus the documented additive keys where the caller set none:
    `prompt_sha256`, `dropped_params` (when a parameter was dropped) and `cost_known` (on a completed job)."""
    additive: dict[str, Any] = {"prompt_sha256": prompt_hash}
    if job.request.dropped_params:
        additive["dropped_params"] = list(job.request.dropped_params)
    if cost_known is not None:
        additive["cost_known"] = cost_known
    return {**additive, **job.request.metadata}


class Outcomes:
    """Builds job outcomes; `service` (the settings' service name) is named in every `error_detail`."""

    @classmethod
    def for_events(cls, events: EventFactory) -> Outcomes:
        """Outcomes naming the same service as the envelopes `events` builds (one setting for both)."""
        return cls(service=events.source_service)

    def __init__(self, *, service: str) -> None:
        self._service = service

    def completed(self, job: Job, call: CompletedCall, *, now: datetime) -> JobOutcome:
        prompt_hash = job_prompt_sha256(job)
        metadata = request_metadata(job, prompt_hash=prompt_hash, cost_known=call.cost_known)
        payload = callback_payload(job, completed_at=now, request_metadata=metadata, call=call)
        return JobOutcome(
            JobStatus.COMPLETED,
            payload,
            prompt_sha256=prompt_hash,
            usage=call.usage,
            cost_usd=call.cost_usd,
            response_time_ms=call.response_time_ms,
            envelope_metadata=call.envelope_metadata,
        )

    def failed(self, job: Job, error: ProviderError, *, now: datetime) -> JobOutcome:
        details = {"provider": job.provider, "http_status": error.http_status, "attempts": job.attempts}
        return self._error(
            job,
            JobStatus.FAILED,
            kind=error.kind.value,
            message=str(error),
            retryable=error.retryable,
            now=now,
            details=details,
        )

    def expired(self, job: Job, *, now: datetime) -> JobOutcome:
        return self._error(
            job,
            JobStatus.EXPIRED,
            kind="expired",
            message="the job was not completed before its time to live ran out",
            retryable=False,
            now=now,
            details={"expires_at": job.expires_at.isoformat(), "attempts": job.attempts},
        )

    def cancelled(self, job: Job, *, now: datetime) -> JobOutcome:
        return self._error(
            job,
            JobStatus.CANCELLED,
            kind="cancelled",
            message="the job was cancelled before it started",
            retryable=False,
            now=now,
        )

    def _error(
        self,
        job: Job,
        status: JobStatus,
        *,
        kind: str,
        message: str,
        retryable: bool,
        now: datetime,
        details: Mapping[str, Any] | None = None,
    ) -> JobOutcome:
        """`error_code` is the original's vocabulary; our finer `kind` and `retryable` are in `details`."""
        detail = ErrorDetail(
            error_code=error_code(kind),
            message=message,
            correlation_id=job.request.correlation_id,
            timestamp=now,
            service=self._service,
            operation=OPERATION,
            retryable=retryable,
            details={"kind": kind, "retryable": retryable, **(details or {})},
        )
        prompt_hash = job_prompt_sha256(job)
        payload = callback_payload(
            job, completed_at=now, request_metadata=request_metadata(job, prompt_hash=prompt_hash), error=detail
        )
        return JobOutcome(status, payload, prompt_sha256=prompt_hash)
