"""Event envelopes (SPEC §8.1) and the comparison callback payload (§8.2), built as plain JSON objects."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from llm_provider_service.domain.models import (
    Comparison,
    ErrorDetail,
    Job,
    JobStatus,
    TokenUsage,
)

SCHEMA_VERSION = 1
CALLBACK_EVENT_TYPE = "LLMComparisonResultV1"


@dataclass(frozen=True, slots=True)
class CompletedCall:
    """Facts about the provider call that answered a job."""

    comparison: Comparison
    provider: str
    model: str
    usage: TokenUsage
    cost_usd: float
    response_time_ms: int
    extra_metadata: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """How a job ended: its terminal status, the §8.2 callback `payload` (kept verbatim as the job's result)
    and the queryable facts a store keeps in their own columns, typed so no store digs them out of the payload."""

    status: JobStatus
    payload: Mapping[str, Any]
    prompt_sha256: str | None = None
    usage: TokenUsage | None = None
    cost_usd: float | None = None
    response_time_ms: int | None = None

    def __post_init__(self) -> None:
        if not self.status.is_terminal:
            raise ValueError(f"a job outcome needs a terminal status, not {self.status.value}")


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def envelope(
    *,
    event_type: str,
    source_service: str,
    correlation_id: str,
    data: Mapping[str, Any],
    timestamp: datetime,
    trace_metadata: Mapping[str, Any] | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """Wrap `data` in the standard envelope with a fresh, stable `event_id`."""
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "event_timestamp": iso(timestamp),
        "source_service": source_service,
        "schema_version": SCHEMA_VERSION,
        "correlation_id": correlation_id,
        "data_schema_uri": None,
        "data": dict(data),
        "metadata": dict(trace_metadata or {}),
    }


def error_detail_json(detail: ErrorDetail) -> dict[str, Any]:
    return {
        "error_code": detail.error_code,
        "message": detail.message,
        "correlation_id": detail.correlation_id,
        "timestamp": iso(detail.timestamp),
        "service": detail.service,
        "operation": detail.operation,
        "details": dict(detail.details),
        "retryable": detail.retryable,
    }


def _milliseconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds() * 1000))


def callback_payload(
    job: Job,
    *,
    completed_at: datetime,
    request_metadata: Mapping[str, Any],
    call: CompletedCall | None = None,
    error: ErrorDetail | None = None,
) -> dict[str, Any]:
    """The §8.2 payload. Exactly one of `call` (success) and `error` must be given."""
    if (call is None) == (error is None):
        raise ValueError("exactly one of call and error must be given")
    payload: dict[str, Any] = {
        "request_id": job.id,
        "correlation_id": job.request.correlation_id,
        "winner": None,
        "justification": None,
        "confidence": None,
        "error_detail": None,
        "provider": job.provider,
        "model": job.model,
        "response_time_ms": None,
        "queue_wait_ms": _milliseconds(job.created_at, job.started_at),
        "attempts": job.attempts,
        "token_usage": None,
        "cost_estimate": None,
        "requested_at": iso(job.created_at),
        "completed_at": iso(completed_at),
        "trace_id": job.trace_id,
        "request_metadata": dict(request_metadata),
    }
    if call is not None:
        payload.update(
            winner=call.comparison.winner,
            justification=call.comparison.justification,
            confidence=call.comparison.confidence,
            provider=call.provider,
            model=call.model,
            response_time_ms=call.response_time_ms,
            token_usage={
                "prompt_tokens": call.usage.prompt_tokens,
                "completion_tokens": call.usage.completion_tokens,
                "total_tokens": call.usage.total_tokens,
            },
            cost_estimate=call.cost_usd,
        )
        payload["request_metadata"].update(call.extra_metadata)
    elif error is not None:
        payload["error_detail"] = error_detail_json(error)
    return payload
