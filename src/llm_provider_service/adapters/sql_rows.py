"""Mapping between domain objects (Job, ComparisonRequest, OutboxEvent, UsageRecord) and SQL rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import RowMapping

from llm_provider_service.domain.events import JobOutcome
from llm_provider_service.domain.models import (
    BatchingMode,
    ComparisonRequest,
    Job,
    JobStatus,
    LLMConfigOverrides,
    OutboxEvent,
    OutputVerbosity,
    PromptBlock,
    ProviderName,
    ReasoningEffort,
)
from llm_provider_service.domain.usage import UsageRecord

REQUEST_FORMAT_VERSION = 1


def request_to_json(request: ComparisonRequest) -> dict[str, Any]:
    """The request as a JSON object; `metadata` is kept verbatim."""
    overrides = request.overrides
    return {
        "v": REQUEST_FORMAT_VERSION,
        "user_prompt": request.user_prompt,
        "correlation_id": request.correlation_id,
        "prompt_blocks": [
            {"content": block.content, "target": block.target, "cacheable": block.cacheable, "ttl": block.ttl}
            for block in request.prompt_blocks
        ],
        "callback_topic": request.callback_topic,
        "overrides": {
            "provider": overrides.provider.value if overrides.provider else None,
            "model": overrides.model,
            "temperature": overrides.temperature,
            "system_prompt": overrides.system_prompt,
            "max_tokens": overrides.max_tokens,
            "reasoning_effort": overrides.reasoning_effort.value if overrides.reasoning_effort else None,
            "output_verbosity": overrides.output_verbosity.value if overrides.output_verbosity else None,
            "batching_mode": overrides.batching_mode.value if overrides.batching_mode else None,
        },
        "user_id": request.user_id,
        "priority": request.priority,
        "metadata": dict(request.metadata),
        "dropped_params": list(request.dropped_params),
    }


def _overrides_from_json(data: Mapping[str, Any]) -> LLMConfigOverrides:
    provider = data.get("provider")
    effort = data.get("reasoning_effort")
    verbosity = data.get("output_verbosity")
    batching = data.get("batching_mode")
    return LLMConfigOverrides(
        provider=ProviderName(provider) if provider else None,
        model=data.get("model"),
        temperature=data.get("temperature"),
        system_prompt=data.get("system_prompt"),
        max_tokens=data.get("max_tokens"),
        reasoning_effort=ReasoningEffort(effort) if effort else None,
        output_verbosity=OutputVerbosity(verbosity) if verbosity else None,
        batching_mode=BatchingMode(batching) if batching else None,
    )


def request_from_json(data: Mapping[str, Any]) -> ComparisonRequest:
    return ComparisonRequest(
        user_prompt=data["user_prompt"],
        correlation_id=data["correlation_id"],
        prompt_blocks=tuple(
            PromptBlock(
                content=block["content"],
                target=block.get("target", "user_content"),
                cacheable=block.get("cacheable", False),
                ttl=block.get("ttl", "5m"),
            )
            for block in data.get("prompt_blocks", ())
        ),
        callback_topic=data.get("callback_topic"),
        overrides=_overrides_from_json(data.get("overrides") or {}),
        user_id=data.get("user_id"),
        priority=data.get("priority", 5),
        metadata=data.get("metadata") or {},
        dropped_params=tuple(data.get("dropped_params") or ()),
    )


def job_to_row(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status.value,
        "provider": job.provider,
        "model": job.model,
        "priority": job.request.priority,
        "correlation_id": job.request.correlation_id,
        "request": request_to_json(job.request),
        "attempts": job.attempts,
        "idempotency_key": job.idempotency_key,
        "lease_owner": job.lease_owner,
        "lease_expires_at": job.lease_expires_at,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "available_at": job.available_at,
        "expires_at": job.expires_at,
        "started_at": job.started_at,
        "trace_id": job.trace_id,
        "result": dict(job.result) if job.result is not None else None,
        "last_error": dict(job.last_error) if job.last_error is not None else None,
    }


def job_from_row(row: Mapping[Any, Any]) -> Job:
    return Job(
        id=row["id"],
        request=request_from_json(row["request"]),
        status=JobStatus(row["status"]),
        provider=row["provider"],
        model=row["model"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        available_at=row["available_at"],
        expires_at=row["expires_at"],
        attempts=row["attempts"],
        idempotency_key=row["idempotency_key"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        started_at=row["started_at"],
        trace_id=row["trace_id"],
        result=row["result"],
        last_error=row["last_error"],
    )


def outcome_columns(outcome: JobOutcome) -> dict[str, Any]:
    """The outcome's queryable facts, each in its own column."""
    usage = outcome.usage
    return {
        "prompt_tokens": usage.prompt_tokens if usage is not None else None,
        "completion_tokens": usage.completion_tokens if usage is not None else None,
        "cost_usd": outcome.cost_usd,
        "response_time_ms": outcome.response_time_ms,
        "prompt_sha256": outcome.prompt_sha256,
    }


def outbox_rows(events: Sequence[OutboxEvent], *, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "event_id": event.event_id,
            "topic": event.topic,
            "key": event.key,
            "value": event.value,
            "headers": [[name, value] for name, value in event.headers],
            "created_at": now,
        }
        for event in events
    ]


def outbox_event_from_row(row: RowMapping) -> OutboxEvent:
    return OutboxEvent(
        event_id=row["event_id"],
        topic=row["topic"],
        key=row["key"],
        value=bytes(row["value"]),
        headers=tuple((str(name), str(value)) for name, value in row["headers"]),
    )


def usage_to_row(record: UsageRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "source": record.source,
        "provider": record.provider,
        "model": record.model,
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "cost_usd": record.cost_usd,
        "latency_ms": record.latency_ms,
        "outcome": record.outcome,
        "created_at": record.created_at,
    }


def usage_to_sqlite_params(record: UsageRecord) -> tuple[Any, ...]:
    """`usage_to_row` as SQLite driver parameters: `created_at` as the text SQLAlchemy's SQLite DateTime stores."""
    if record.created_at.tzinfo is None:
        raise ValueError("naive datetime given to the store; timestamps must be timezone-aware UTC")
    return (
        record.id,
        record.source,
        record.provider,
        record.model,
        record.prompt_tokens,
        record.completion_tokens,
        record.cost_usd,
        record.latency_ms,
        record.outcome,
        record.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
    )
