"""Callback payloads for each way a job can end: completed, failed, expired, cancelled."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from llm_provider_service.domain.comparison import build_completion_request, prompt_sha256
from llm_provider_service.domain.errors import ProviderError
from llm_provider_service.domain.events import CompletedCall, callback_payload
from llm_provider_service.domain.models import ErrorDetail, Job

SERVICE_NAME = "llm_provider_service"
OPERATION = "comparison"


def request_metadata(job: Job, *, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The caller's metadata echoed verbatim, plus additive keys (prompt hash, provider details)."""
    call = build_completion_request(job.request, job_id=job.id, model=job.model, attempt=max(1, job.attempts))
    metadata = dict(job.request.metadata)
    metadata["prompt_sha256"] = prompt_sha256(call)
    if extra:
        metadata.update(extra)
    return metadata


def _error(
    job: Job, *, code: str, message: str, retryable: bool, now: datetime, details: Mapping[str, Any] | None = None
) -> ErrorDetail:
    return ErrorDetail(
        error_code=code,
        message=message,
        correlation_id=job.request.correlation_id,
        timestamp=now,
        service=SERVICE_NAME,
        operation=OPERATION,
        retryable=retryable,
        details=dict(details or {}),
    )


def completed_payload(job: Job, call: CompletedCall, *, now: datetime) -> dict[str, Any]:
    return callback_payload(job, completed_at=now, request_metadata=request_metadata(job), call=call)


def failed_payload(job: Job, error: ProviderError, *, now: datetime) -> dict[str, Any]:
    detail = _error(
        job,
        code=error.kind.value,
        message=str(error),
        retryable=error.retryable,
        now=now,
        details={"provider": job.provider, "http_status": error.http_status, "attempts": job.attempts},
    )
    return callback_payload(job, completed_at=now, request_metadata=request_metadata(job), error=detail)


def expired_payload(job: Job, *, now: datetime) -> dict[str, Any]:
    detail = _error(
        job,
        code="expired",
        message="the job was not completed before its time to live ran out",
        retryable=False,
        now=now,
        details={"expires_at": job.expires_at.isoformat(), "attempts": job.attempts},
    )
    return callback_payload(job, completed_at=now, request_metadata=request_metadata(job), error=detail)


def cancelled_payload(job: Job, *, now: datetime) -> dict[str, Any]:
    detail = _error(job, code="cancelled", message="the job was cancelled before it started", retryable=False, now=now)
    return callback_payload(job, completed_at=now, request_metadata=request_metadata(job), error=detail)
