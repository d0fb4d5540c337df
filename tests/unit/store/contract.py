"""Recording and claiming jobs, as every SQL store must; run on SQLite and PostgreSQL by subclassing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from llm_provider_service.domain.models import (
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
from llm_provider_service.ports import Store

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def make_job(*, created_at: datetime = T0, key: str | None = None, **changes: Any) -> Job:
    job = Job(
        id=str(uuid.uuid4()),
        request=ComparisonRequest(user_prompt="Compare A and B", correlation_id=str(uuid.uuid4())),
        status=JobStatus.QUEUED,
        provider="mock",
        model="mock-model",
        created_at=created_at,
        updated_at=created_at,
        available_at=created_at,
        expires_at=created_at + timedelta(hours=4),
        idempotency_key=key,
    )
    return job.with_changes(**changes)


def event(job_id: str, name: str = "started") -> OutboxEvent:
    return OutboxEvent(
        event_id=str(uuid.uuid4()),
        topic=f"llm_provider.request_{name}.v1",
        key=job_id,
        value=b'{"event_type": "%s"}' % name.encode(),
        headers=(("event_type", name), ("traceparent", "00-abc-def-01")),
    )


async def start(store: Store, job: Job, owner: str = "w1", now: datetime = T0) -> Job:
    started = await store.begin_attempt(job.id, owner=owner, now=now, lease_expires_at=now + LEASE, events=[])
    assert started is not None
    return started


class JobStoreContract:
    """Subclasses provide an async `store` fixture yielding an open, empty store (SQL, or the in-memory fake)."""

    async def test_add_then_get_round_trips_every_field(self, store: Store) -> None:
        plus_two = timezone(timedelta(hours=2))
        request = ComparisonRequest(
            user_prompt="Which essay is better? ✓ «ü»",
            correlation_id="corr-1",
            prompt_blocks=(
                PromptBlock("rubric", target="system", cacheable=True, ttl="1h"),
                PromptBlock("essays"),
            ),
            callback_topic="callbacks.v1",
            overrides=LLMConfigOverrides(
                provider=ProviderName.ANTHROPIC,
                model="claude-x",
                temperature=0.3,
                system_prompt="be fair",
                max_tokens=512,
                reasoning_effort=ReasoningEffort.HIGH,
                output_verbosity=OutputVerbosity.LOW,
            ),
            user_id="user-7",
            priority=9,
            metadata={"z": 1, "a": [1, 2.5, None, {"nested": "ü"}], "mock": {"scenario": "ok"}},
        )
        job = make_job(
            request=request,
            provider="anthropic",
            model="claude-x",
            attempts=2,
            key="idem-1",
            lease_owner="w9",
            lease_expires_at=T0 + LEASE,
            started_at=T0.astimezone(plus_two),
            trace_id="ab" * 16,
            result={"winner": "Essay A", "confidence": 4},
            last_error={"kind": "overloaded", "attempt": 1},
        )

        assert await store.add(job) == job
        stored = await store.get(job.id)

        assert stored == job
        assert stored is not None
        assert stored.started_at is not None
        assert stored.started_at.tzinfo == UTC
        assert list(stored.request.metadata) == ["z", "a", "mock"]

    async def test_get_of_an_unknown_id_is_none(self, store: Store) -> None:
        assert await store.get("nope") is None

    async def test_adding_with_a_used_idempotency_key_returns_the_first_job(self, store: Store) -> None:
        first = await store.add(make_job(key="k"))

        again = await store.add(make_job(key="k"))

        assert again == first
        assert (await store.status_counts())[JobStatus.QUEUED] == 1

    async def test_concurrent_adds_with_one_key_record_one_job(self, store: Store) -> None:
        candidates = [make_job(key="race") for _ in range(20)]

        results = await asyncio.gather(*(store.add(job) for job in candidates))

        assert len({job.id for job in results}) == 1
        assert (await store.status_counts())[JobStatus.QUEUED] == 1

    async def test_adding_the_same_job_twice_is_idempotent(self, store: Store) -> None:
        job = await store.add(make_job())

        assert await store.add(job) == job

    async def test_discard_deletes_the_job(self, store: Store) -> None:
        job = await store.add(make_job())

        await store.discard(job.id)

        assert await store.get(job.id) is None

    async def test_begin_attempt_leases_a_due_job_and_writes_its_events(self, store: Store) -> None:
        job = await store.add(make_job())
        now = T0 + timedelta(seconds=5)

        started = await store.begin_attempt(
            job.id, owner="w1", now=now, lease_expires_at=now + LEASE, events=[event(job.id)]
        )

        expected = job.with_changes(
            status=JobStatus.PROCESSING,
            attempts=1,
            lease_owner="w1",
            lease_expires_at=now + LEASE,
            started_at=now,
            updated_at=now,
        )
        assert started == expected
        assert await store.get(job.id) == expected
        assert await store.outbox_backlog() == 1

    async def test_begin_attempt_refuses_a_job_not_yet_due(self, store: Store) -> None:
        job = await store.add(make_job(available_at=T0 + timedelta(minutes=1)))

        refused = await store.begin_attempt(
            job.id, owner="w1", now=T0, lease_expires_at=T0 + LEASE, events=[event(job.id)]
        )

        assert refused is None
        assert await store.outbox_backlog() == 0

    async def test_begin_attempt_refuses_a_job_under_a_live_lease(self, store: Store) -> None:
        job = await store.add(make_job())
        await start(store, job, owner="w1")

        refused = await store.begin_attempt(
            job.id,
            owner="w2",
            now=T0 + LEASE - timedelta(seconds=1),
            lease_expires_at=T0 + 2 * LEASE,
            events=[event(job.id)],
        )

        assert refused is None
        assert await store.outbox_backlog() == 0

    async def test_an_expired_lease_is_claimable_again_and_counts_an_attempt(self, store: Store) -> None:
        job = await store.add(make_job())
        await start(store, job, owner="w1")
        later = T0 + LEASE

        again = await start(store, job, owner="w2", now=later)

        assert (again.attempts, again.lease_owner, again.lease_expires_at) == (2, "w2", later + LEASE)
        assert again.started_at == T0  # the first start only
        assert not await store.extend_lease(job.id, owner="w1", lease_expires_at=later + 2 * LEASE)

    @pytest.mark.parametrize("status", [s for s in JobStatus if s.is_terminal])
    async def test_begin_attempt_refuses_terminal_jobs(self, store: Store, status: JobStatus) -> None:
        job = await store.add(make_job(status=status))

        assert await store.begin_attempt(job.id, owner="w", now=T0, lease_expires_at=T0 + LEASE, events=[]) is None
        assert await store.begin_attempt("missing", owner="w", now=T0, lease_expires_at=T0 + LEASE, events=[]) is None

    async def test_extend_lease_needs_the_current_owner(self, store: Store) -> None:
        job = await store.add(make_job())
        assert not await store.extend_lease(job.id, owner="w1", lease_expires_at=T0 + LEASE)
        await start(store, job, owner="w1")

        assert await store.extend_lease(job.id, owner="w1", lease_expires_at=T0 + 3 * LEASE)
        assert not await store.extend_lease(job.id, owner="w2", lease_expires_at=T0 + 4 * LEASE)
        stored = await store.get(job.id)
        assert stored is not None
        assert stored.lease_expires_at == T0 + 3 * LEASE
