"""Finishing, requeueing and listing jobs, as every SQL store must; run on SQLite and PostgreSQL by subclassing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from llm_provider_service.domain.events import JobOutcome
from llm_provider_service.domain.models import JobStatus, TokenUsage
from llm_provider_service.ports import Store
from tests.unit.store.contract import LEASE, T0, event, make_job, start


class JobTransitionsContract:
    """Subclasses provide an async `store` fixture yielding an open, empty store (SQL, or the in-memory fake)."""

    async def test_finish_writes_state_result_and_events_once(self, store: Store) -> None:
        job = await store.add(make_job())
        await start(store, job, owner="w1")
        done = T0 + timedelta(seconds=3)
        result = {"winner": "Essay B", "token_usage": {"prompt_tokens": 10, "completion_tokens": 5}}
        outcome = JobOutcome(JobStatus.COMPLETED, result, usage=TokenUsage(10, 5), cost_usd=0.25)

        finished = await store.finish(
            job.id, outcome, owner="w1", now=done, events=[event(job.id, "completed"), event(job.id, "callback")]
        )
        second = await store.finish(
            job.id, JobOutcome(JobStatus.FAILED, {}), owner="w1", now=done, events=[event(job.id, "failed")]
        )

        assert finished is not None
        assert (finished.status, finished.result, finished.lease_owner, finished.updated_at) == (
            JobStatus.COMPLETED,
            result,
            None,
            done,
        )
        assert second is None
        assert await store.get(job.id) == finished
        assert await store.outbox_backlog() == 2

    async def test_finish_needs_the_lease_owner(self, store: Store) -> None:
        job = await store.add(make_job())
        await start(store, job, owner="w1")

        stolen = await store.finish(job.id, JobOutcome(JobStatus.COMPLETED, {}), owner="w2", now=T0, events=[])
        unowned = await store.finish(job.id, JobOutcome(JobStatus.CANCELLED, {}), owner=None, now=T0, events=[])

        assert (stolen, unowned) == (None, None)

    @pytest.mark.parametrize("status", [JobStatus.CANCELLED, JobStatus.EXPIRED])
    async def test_a_queued_job_ends_without_an_owner(self, store: Store, status: JobStatus) -> None:
        job = await store.add(make_job())

        ended = await store.finish(
            job.id,
            JobOutcome(status, {"error_detail": {"error_code": status.value}}),
            owner=None,
            now=T0,
            events=[event(job.id, status.value)],
        )

        assert ended is not None
        assert ended.status == status
        assert await store.begin_attempt(job.id, owner="w", now=T0, lease_expires_at=T0 + LEASE, events=[]) is None
        assert await store.outbox_backlog() == 1

    async def test_finish_refuses_a_non_terminal_status(self, store: Store) -> None:
        job = await store.add(make_job())

        with pytest.raises(ValueError, match="terminal"):
            await store.finish(job.id, JobOutcome(JobStatus.QUEUED, {}), owner=None, now=T0, events=[])

    async def test_reschedule_requeues_for_later_and_keeps_the_attempt(self, store: Store) -> None:
        job = await store.add(make_job())
        await start(store, job, owner="w1")
        retry_at = T0 + timedelta(seconds=10)

        assert not await store.reschedule(job.id, owner="w2", now=T0, available_at=retry_at, last_error={})
        assert await store.reschedule(job.id, owner="w1", now=T0, available_at=retry_at, last_error={"kind": "timeout"})

        stored = await store.get(job.id)
        assert stored is not None
        assert (stored.status, stored.attempts, stored.available_at, stored.lease_owner, stored.last_error) == (
            JobStatus.QUEUED,
            1,
            retry_at,
            None,
            {"kind": "timeout"},
        )
        assert await store.begin_attempt(job.id, owner="w3", now=T0, lease_expires_at=T0 + LEASE, events=[]) is None
        assert (await start(store, job, owner="w3", now=retry_at)).attempts == 2

    async def test_release_attempt_requeues_without_counting_it(self, store: Store) -> None:
        job = await store.add(make_job())
        await start(store, job, owner="w1")

        assert not await store.release_attempt(job.id, owner="w2", now=T0, available_at=T0)
        assert await store.release_attempt(job.id, owner="w1", now=T0, available_at=T0)

        stored = await store.get(job.id)
        assert stored is not None
        assert (stored.status, stored.attempts, stored.lease_owner) == (JobStatus.QUEUED, 0, None)

    async def test_due_jobs_lists_due_and_abandoned_jobs_oldest_first(self, store: Store) -> None:
        now = T0 + timedelta(minutes=10)
        due_late = await store.add(make_job(created_at=T0 + timedelta(minutes=2)))
        due_early = await store.add(make_job(created_at=T0 + timedelta(minutes=1)))
        await store.add(make_job(available_at=now + timedelta(seconds=1)))
        abandoned = await store.add(make_job(created_at=T0))
        await start(store, abandoned, now=T0)
        alive = await store.add(make_job(created_at=T0))
        await start(store, alive, now=now)
        await store.add(make_job(status=JobStatus.COMPLETED))

        due = await store.due_jobs(now=now, limit=10)

        assert [job.id for job in due] == [abandoned.id, due_early.id, due_late.id]
        assert [job.id for job in await store.due_jobs(now=now, limit=1)] == [abandoned.id]

    async def test_overdue_jobs_lists_active_jobs_past_their_ttl(self, store: Store) -> None:
        now = T0 + timedelta(hours=5)
        queued = await store.add(make_job())
        processing = await store.add(make_job())
        await start(store, processing)
        await store.add(make_job(expires_at=now + timedelta(seconds=1)))
        await store.add(make_job(status=JobStatus.FAILED))

        overdue = await store.overdue_jobs(now=now, limit=10)

        assert {job.id for job in overdue} == {queued.id, processing.id}
        assert len(await store.overdue_jobs(now=now, limit=1)) == 1

    async def test_status_counts_cover_every_status(self, store: Store) -> None:
        await store.add(make_job())
        await store.add(make_job())
        await start(store, await store.add(make_job()))

        counts = await store.status_counts()

        assert counts == dict.fromkeys(JobStatus, 0) | {JobStatus.QUEUED: 2, JobStatus.PROCESSING: 1}

    async def test_ping_answers(self, store: Store) -> None:
        await store.ping()
