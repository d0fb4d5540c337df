"""Hand-written fakes of the ports for unit tests: they hold state that tests assert on."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from llm_provider_service.domain.batches import BatchRecord
from llm_provider_service.domain.errors import ProviderError, PublishError
from llm_provider_service.domain.events import JobOutcome
from llm_provider_service.domain.models import (
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    Job,
    JobStatus,
    OutboxEvent,
    TokenUsage,
)
from llm_provider_service.domain.usage import UsageGrouping, UsageRecord, UsageSummaryRow
from llm_provider_service.ports import AttemptStart, JobFinish
from tests.fake_batches import InMemoryBatches

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """Wall and monotonic time that only move when a test says so."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start
        self._monotonic = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def epoch(self) -> float:
        return self._now.timestamp()

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds


_JOB_MOMENTS = ("created_at", "updated_at", "available_at", "expires_at", "lease_expires_at", "started_at")


class _UtcJobs(dict[str, Job]):
    """Jobs by id, each stored with its timestamps in UTC, as a database column of `timestamptz` gives them back."""

    def __setitem__(self, job_id: str, job: Job) -> None:
        moments = {name: getattr(job, name) for name in _JOB_MOMENTS}
        utc = {name: moment.astimezone(UTC) for name, moment in moments.items() if moment is not None}
        super().__setitem__(job_id, replace(job, **utc))


class InMemoryJobStore(InMemoryBatches):
    """The Store port (jobs, outbox, usage) over dicts; passes the store contract suite like the SQL store."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = _UtcJobs()
        self.outbox: dict[str, OutboxEvent] = {}
        self.published: set[str] = set()
        self.published_at: dict[str, datetime] = {}
        self.locked_until: dict[str, datetime] = {}
        self.usage: list[UsageRecord] = []
        self.vendor_batches: dict[str, BatchRecord] = {}
        self.unavailable: Exception | None = None

    def _check(self) -> None:
        if self.unavailable is not None:
            raise self.unavailable

    async def add(self, job: Job) -> Job:
        self._check()
        if job.idempotency_key is not None:
            for existing in self.jobs.values():
                if existing.idempotency_key == job.idempotency_key:
                    return existing
        self.jobs[job.id] = job
        return self.jobs[job.id]

    async def discard(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

    async def get(self, job_id: str) -> Job | None:
        self._check()
        return self.jobs.get(job_id)

    async def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        self._check()
        return {job_id: self.jobs[job_id] for job_id in job_ids if job_id in self.jobs}

    async def begin_attempts(self, starts: Sequence[AttemptStart]) -> list[Job | None]:
        self._check()  # all or nothing: an outage fails the whole batch before any change
        return [
            await self.begin_attempt(
                start.job_id, owner=start.owner, now=start.now, lease_expires_at=start.lease_expires_at,
                events=start.events,
            )
            for start in starts
        ]  # fmt: skip

    async def finish_many(self, finishes: Sequence[JobFinish]) -> list[bool]:
        self._check()
        return [
            await self.finish(item.job_id, item.outcome, owner=item.owner, now=item.now, events=item.events) is not None
            for item in finishes
        ]

    def _write_events(self, events: Sequence[OutboxEvent]) -> None:
        for event in events:
            self.outbox[event.event_id] = event

    async def begin_attempt(
        self, job_id: str, *, owner: str, now: datetime, lease_expires_at: datetime, events: Sequence[OutboxEvent]
    ) -> Job | None:
        self._check()
        job = self.jobs.get(job_id)
        if job is None:
            return None
        due = job.status == JobStatus.QUEUED and job.available_at <= now
        stale = job.status == JobStatus.PROCESSING and job.lease_expires_at is not None and job.lease_expires_at <= now
        if not (due or stale):
            return None
        job = replace(
            job,
            status=JobStatus.PROCESSING,
            attempts=job.attempts + 1,
            lease_owner=owner,
            lease_expires_at=lease_expires_at,
            started_at=job.started_at or now,
            updated_at=now,
        )
        self.jobs[job_id] = job
        self._write_events(events)
        return job

    async def extend_lease(self, job_id: str, *, owner: str, lease_expires_at: datetime) -> bool:
        job = self.jobs.get(job_id)
        if job is None or job.status != JobStatus.PROCESSING or job.lease_owner != owner:
            return False
        self.jobs[job_id] = replace(job, lease_expires_at=lease_expires_at)
        return True

    def _owned(self, job_id: str, owner: str) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None or job.status != JobStatus.PROCESSING or job.lease_owner != owner:
            return None
        return job

    async def reschedule(
        self, job_id: str, *, owner: str, now: datetime, available_at: datetime, last_error: Mapping[str, Any]
    ) -> bool:
        job = self._owned(job_id, owner)
        if job is None:
            return False
        self.jobs[job_id] = replace(
            job,
            status=JobStatus.QUEUED,
            available_at=available_at,
            lease_owner=None,
            lease_expires_at=None,
            last_error=dict(last_error),
            updated_at=now,
        )
        return True

    async def release_attempt(self, job_id: str, *, owner: str, now: datetime, available_at: datetime) -> bool:
        job = self._owned(job_id, owner)
        if job is None:
            return False
        self.jobs[job_id] = replace(
            job,
            status=JobStatus.QUEUED,
            attempts=job.attempts - 1,
            available_at=available_at,
            lease_owner=None,
            lease_expires_at=None,
            updated_at=now,
        )
        return True

    async def finish(
        self, job_id: str, outcome: JobOutcome, *, owner: str | None, now: datetime, events: Sequence[OutboxEvent]
    ) -> Job | None:
        self._check()
        job = self.jobs.get(job_id)
        if job is None:
            return None
        if owner is None and job.status != JobStatus.QUEUED:
            return None
        if owner is not None and self._owned(job_id, owner) is None:
            return None
        job = replace(
            job,
            status=outcome.status,
            result=dict(outcome.payload),
            lease_owner=None,
            lease_expires_at=None,
            updated_at=now,
        )
        self.jobs[job_id] = job
        self._write_events(events)
        return job

    async def due_jobs(self, *, now: datetime, limit: int) -> list[Job]:
        self._check()
        due = [
            job
            for job in self.jobs.values()
            if (job.status == JobStatus.QUEUED and job.available_at <= now)
            or (job.status == JobStatus.PROCESSING and job.lease_expires_at is not None and job.lease_expires_at <= now)
        ]
        return sorted(due, key=lambda job: job.created_at)[:limit]

    async def overdue_jobs(self, *, now: datetime, limit: int) -> list[Job]:
        overdue = [job for job in self.jobs.values() if not job.status.is_terminal and job.expires_at <= now]
        return overdue[:limit]

    async def claim_outbox(self, *, now: datetime, limit: int, lock_seconds: float) -> list[OutboxEvent]:
        self._check()
        claimed = []
        for event_id, event in self.outbox.items():
            if event_id in self.published or self.locked_until.get(event_id, now) > now:
                continue
            self.locked_until[event_id] = now + timedelta(seconds=lock_seconds)
            claimed.append(event)
            if len(claimed) == limit:
                break
        return claimed

    async def mark_published(self, event_ids: Sequence[str], *, now: datetime) -> None:
        self.published.update(event_ids)
        self.published_at.update(dict.fromkeys(event_ids, now))

    async def release_outbox(self, event_ids: Sequence[str]) -> None:
        self._check()
        for event_id in event_ids:
            if event_id not in self.published:
                self.locked_until.pop(event_id, None)

    async def prune_outbox(self, *, published_before: datetime, limit: int) -> int:
        pruned = [event_id for event_id in self.published if self.published_at[event_id] < published_before][:limit]
        for event_id in pruned:
            del self.outbox[event_id]
            self.published.discard(event_id)
        return len(pruned)

    async def outbox_backlog(self) -> int:
        return len(self.outbox) - len(self.published)

    async def status_counts(self) -> dict[JobStatus, int]:
        return dict.fromkeys(JobStatus, 0) | Counter(job.status for job in self.jobs.values())

    async def ping(self) -> None:
        self._check()

    async def record_usage(self, records: Sequence[UsageRecord]) -> None:
        known = {record.id for record in self.usage}
        for record in records:
            if record.id not in known:  # a retried write counts once
                known.add(record.id)
                self.usage.append(record)

    async def usage_summary(
        self, *, start: datetime | None, end: datetime | None, group_by: UsageGrouping
    ) -> list[UsageSummaryRow]:
        groups: dict[str, list[UsageRecord]] = {}
        for record in self.usage:
            if (start is not None and record.created_at < start) or (end is not None and record.created_at >= end):
                continue
            day = record.created_at.astimezone(UTC).date().isoformat()
            key = {"provider": record.provider, "model": record.model, "day": day}[group_by]
            groups.setdefault(key, []).append(record)
        return [
            UsageSummaryRow(
                key,
                len(rows),
                sum(r.prompt_tokens for r in rows),
                sum(r.completion_tokens for r in rows),
                sum(r.cost_usd for r in rows),
            )
            for key, rows in sorted(groups.items())
        ]


class RecordingPublisher:
    """Keeps every published event; can be told to fail like a broker outage."""

    def __init__(self) -> None:
        self.events: list[OutboxEvent] = []
        self.failing = False

    async def publish(self, events: Sequence[OutboxEvent]) -> None:
        if self.failing:
            raise PublishError("broker down")
        self.events.extend(events)


def comparison_answer(
    winner: str = "Essay A", confidence: float = 4.0, justification: str = "Clearer argument."
) -> CompletionResponse:
    return CompletionResponse(
        text="",
        usage=TokenUsage(120, 30),
        model="scripted-model",
        structured={"winner": winner, "justification": justification, "confidence": confidence},
    )


class ScriptedProvider:
    """Answers from a script: each call takes the next item (a response or an error to raise)."""

    def __init__(self, script: Sequence[CompletionResponse | ProviderError] = (), *, name: str = "mock") -> None:
        self._script = list(script)
        self._name = name
        self.requests: list[CompletionRequest] = []
        self.gate: asyncio.Event | None = None

    @property
    def name(self) -> str:
        return self._name

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        self.requests.append(request)
        if self.gate is not None:
            await self.gate.wait()
        item = self._script.pop(0) if self._script else comparison_answer()
        if isinstance(item, ProviderError):
            raise item
        return item

    async def stream(self, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        """The next scripted answer as one delta and a closing chunk with its usage."""
        response = await self.complete(request)
        yield CompletionChunk(response.text)
        yield CompletionChunk(usage=response.usage, finish_reason=response.finish_reason)
