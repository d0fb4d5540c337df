"""Builds the outbox events for a job's lifecycle: started, the terminal callback, completed or failed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from llm_provider_service.domain import ids
from llm_provider_service.domain.events import CALLBACK_EVENT_TYPE, JobOutcome, envelope, iso
from llm_provider_service.domain.models import Job, JobStatus, OutboxEvent


@dataclass(frozen=True, slots=True)
class LifecycleTopics:
    request_started: str = "llm_provider.request_started.v1"
    request_completed: str = "llm_provider.request_completed.v1"
    request_failed: str = "llm_provider.request_failed.v1"
    circuit_state_changed: str = "llm_provider.circuit_state_changed.v1"


def traceparent(trace_id: str | None) -> str:
    """A W3C traceparent carrying the job's trace id (a fresh span id per event)."""
    trace = trace_id or ids.token_hex(16)
    return f"00-{trace}-{ids.token_hex(8)}-01"


class EventFactory:
    """Turns state changes into serialized envelopes keyed by request id."""

    def __init__(self, *, source_service: str, topics: LifecycleTopics) -> None:
        self.source_service = source_service
        self._topics = topics

    def _event(
        self,
        *,
        topic: str,
        event_type: str,
        key: str,
        correlation_id: str,
        trace_id: str | None,
        data: Mapping[str, Any],
        now: datetime,
        extra: Mapping[str, Any] | None = None,
    ) -> OutboxEvent:
        parent = traceparent(trace_id)
        body = envelope(
            event_type=event_type,
            source_service=self.source_service,
            correlation_id=correlation_id,
            data=data,
            timestamp=now,
            trace_metadata={**(extra or {}), "traceparent": parent, "trace_id": trace_id},
        )
        headers = (("event_type", event_type), ("correlation_id", correlation_id), ("traceparent", parent))
        return OutboxEvent(
            event_id=body["event_id"],
            topic=topic,
            key=key,
            value=orjson.dumps(body),
            headers=headers,
        )

    def started(self, job: Job, *, now: datetime, attempt: int) -> OutboxEvent:
        return self._event(
            topic=self._topics.request_started,
            event_type="LLMRequestStartedV1",
            key=job.id,
            correlation_id=job.request.correlation_id,
            trace_id=job.trace_id,
            data={
                "request_id": job.id,
                "provider": job.provider,
                "model": job.model,
                "attempt": attempt,
                "started_at": iso(now),
            },
            now=now,
        )

    def terminal(self, job: Job, outcome: JobOutcome, *, now: datetime) -> list[OutboxEvent]:
        """The callback (when the job has a callback topic) and the completed/failed lifecycle event."""
        status, payload = outcome.status, outcome.payload
        events: list[OutboxEvent] = []
        if callback_topic := job.request.callback_topic:
            events.append(
                self._for_job(job, callback_topic, CALLBACK_EVENT_TYPE, payload, now, extra=outcome.envelope_metadata)
            )
        summary = {
            "request_id": job.id,
            "status": status.value,
            "provider": payload.get("provider"),
            "model": payload.get("model"),
            "attempts": payload.get("attempts"),
            "token_usage": payload.get("token_usage"),
            "cost_estimate": payload.get("cost_estimate"),
            "error_code": (payload.get("error_detail") or {}).get("error_code"),
        }
        if status == JobStatus.COMPLETED:
            events.append(self._for_job(job, self._topics.request_completed, "LLMRequestCompletedV1", summary, now))
        else:
            events.append(self._for_job(job, self._topics.request_failed, "LLMRequestFailedV1", summary, now))
        return events

    def _for_job(
        self,
        job: Job,
        topic: str,
        event_type: str,
        data: Mapping[str, Any],
        now: datetime,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> OutboxEvent:
        return self._event(
            extra=extra,
            topic=topic,
            event_type=event_type,
            key=job.id,
            correlation_id=job.request.correlation_id,
            trace_id=job.trace_id,
            data=data,
            now=now,
        )

    def circuit_changed(self, provider: str, old: str, new: str, *, now: datetime) -> OutboxEvent:
        return self._event(
            topic=self._topics.circuit_state_changed,
            event_type="CircuitStateChangedV1",
            key=provider,
            correlation_id=provider,
            trace_id=None,
            data={"provider": provider, "previous_state": old, "state": new, "changed_at": iso(now)},
            now=now,
        )
