"""Event envelopes (SPEC §8.1) and the comparison callback payload (§8.2), built as plain JSON objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from llm_provider_service.domain import ids
from llm_provider_service.domain.models import (
    Comparison,
    ErrorDetail,
    Job,
    JobStatus,
    TokenUsage,
)
from llm_provider_service.domain.wire_vocabulary import provider_type

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
    extra_metadata: Mapping[str, Any]  # additive, documented `request_metadata` keys (never vendor internals)
    cost_known: bool = True  # False: the model has no manifest price and `cost_usd` is 0
    envelope_metadata: Mapping[str, Any] = field(default_factory=dict)  # e.g. the mock's intrinsic time


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
    envelope_metadata: Mapping[str, Any] = field(default_factory=dict)  # merged into the callback's `metadata`

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
        "event_id": event_id or ids.uuid4(),
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
    """The §8.2 payload, valid against the original's `LLMComparisonResultV1` for every outcome.

    Exactly one of `call` (success) and `error` must be given. On errors `response_time_ms` is the processing
    time (0 if never started), `token_usage` zeros and `cost_estimate` 0: the original's model rejects nulls.
    `provider` is the original's `LLMProviderType`; an OpenAI-compatible upstream or a job's route is named in
    `provider_route` (and a serving deployment in `provider_deployment`).
    The caller's `request_metadata` keys are never overwritten by additive ones.
    """
    if (call is None) == (error is None):
        raise ValueError("exactly one of call and error must be given")
    additive = dict(call.extra_metadata) if call is not None else {}
    vendor = job.provider
    if job.route is not None:  # a job on a route: the route's name, and the deployment when one served
        vendor = job.route.vendor
        additive["provider_route"] = job.route.name
        if job.provider != vendor:
            additive["provider_deployment"] = job.provider
    elif job.provider != provider_type(job.provider):
        additive["provider_route"] = job.provider
    payload: dict[str, Any] = {
        "request_id": job.id,
        "correlation_id": job.request.correlation_id,
        "winner": None,
        "justification": None,
        "confidence": None,
        "error_detail": None,
        "provider": provider_type(vendor),
        "model": job.model,
        "response_time_ms": _milliseconds(job.started_at, completed_at) or 0,
        "queue_wait_ms": _milliseconds(job.created_at, job.started_at),
        "attempts": job.attempts,
        "token_usage": _usage_json(TokenUsage()),
        "cost_estimate": 0.0,
        "requested_at": iso(job.created_at),
        "completed_at": iso(completed_at),
        "trace_id": job.trace_id,
        "request_metadata": {**additive, **request_metadata},
    }
    if call is not None:
        payload.update(
            winner=call.comparison.winner,
            justification=call.comparison.justification,
            confidence=call.comparison.confidence,
            provider=provider_type(call.provider),
            model=call.model,
            response_time_ms=max(0, call.response_time_ms),
            token_usage=_usage_json(call.usage),
            cost_estimate=max(0.0, call.cost_usd),
        )
    elif error is not None:
        payload["error_detail"] = error_detail_json(error)
    return payload


def _usage_json(usage: TokenUsage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
