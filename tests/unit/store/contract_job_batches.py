"""Reading, beginning and finishing many jobs in one call, as every store must: each item decided as its single call
would decide it, in order; run on the in-memory fake, SQLite and PostgreSQL by subclassing."""

from __future__ import annotations

from datetime import datetime, timedelta

from llm_provider_service.domain.events import JobOutcome
from llm_provider_service.domain.models import JobStatus, TokenUsage
from llm_provider_service.ports import AttemptStart, JobFinish, Store
from tests.unit.store.contract import LEASE, T0, event, make_job, start

NOW = T0 + timedelta(seconds=5)
DONE = NOW + timedelta(seconds=2)


def begin(job_id: str, owner: str, now: datetime = NOW) -> AttemptStart:
    return AttemptStart(job_id, owner, now, now + LEASE, (event(job_id),))


def completed(job_id: str, owner: str | None, result: str = "Essay A") -> JobFinish:
    outcome = JobOutcome(JobStatus.COMPLETED, {"winner": result}, usage=TokenUsage(3, 2), cost_usd=0.5)
    return JobFinish(job_id, outcome, owner, DONE, (event(job_id, "completed"), event(job_id, "callback")))


class JobBatchesContract:
    """Subclasses provide an async `store` fixture yielding an open, empty store (SQL, or the in-memory fake)."""

    async def test_get_many_returns_the_jobs_that_exist_by_id(self, store: Store) -> None:
        first, second = await store.add(make_job()), await store.add(make_job())

        found = await store.get_many([first.id, "missing", second.id])

        assert found == {first.id: await store.get(first.id), second.id: await store.get(second.id)}
        assert await store.get_many([]) == {}

    async def test_begin_attempts_begins_each_due_job_with_its_own_lease_and_events(self, store: Store) -> None:
        first, second = await store.add(make_job()), await store.add(make_job())

        started = await store.begin_attempts([begin(first.id, "w1"), begin(second.id, "w2")])

        expected = [
            job.with_changes(
                status=JobStatus.PROCESSING, attempts=1, lease_owner=owner, lease_expires_at=NOW + LEASE,
                started_at=NOW, updated_at=NOW,
            )
            for job, owner in ((first, "w1"), (second, "w2"))
        ]  # fmt: skip
        assert started == expected
        assert [await store.get(job.id) for job in (first, second)] == expected
        assert await store.outbox_backlog() == 2

    async def test_begin_attempts_answers_none_for_jobs_it_may_not_begin(self, store: Store) -> None:
        due = await store.add(make_job())
        later = await store.add(make_job(available_at=NOW + timedelta(minutes=1)))
        taken = await store.add(make_job())
        await start(store, taken, owner="other", now=NOW)  # another worker began it: its lease is live
        done = await store.add(make_job(status=JobStatus.COMPLETED))

        answers = await store.begin_attempts(
            [begin(later.id, "w1"), begin(taken.id, "w1"), begin("missing", "w1"), begin(done.id, "w1"),
             begin(due.id, "w1")]
        )  # fmt: skip

        assert [answer.id if answer is not None else None for answer in answers] == [None, None, None, None, due.id]
        held = await store.get(taken.id)
        assert held is not None
        assert (held.lease_owner, held.attempts) == ("other", 1)
        assert await store.outbox_backlog() == 1  # only the begun job's event was written

    async def test_a_job_listed_twice_begins_once(self, store: Store) -> None:
        job = await store.add(make_job())

        first, second = await store.begin_attempts([begin(job.id, "w1"), begin(job.id, "w2")])

        assert first is not None
        assert first.lease_owner == "w1"
        assert second is None
        current = await store.get(job.id)
        assert current is not None
        assert (current.attempts, current.lease_owner) == (1, "w1")

    async def test_an_expired_lease_is_begun_again_and_the_old_holder_cannot_finish(self, store: Store) -> None:
        job = await store.add(make_job())
        await start(store, job, owner="w1", now=T0)
        later = T0 + LEASE + timedelta(seconds=1)

        (taken,) = await store.begin_attempts([begin(job.id, "w2", now=later)])
        finished = await store.finish_many([completed(job.id, "w1")])

        assert taken is not None
        assert (taken.attempts, taken.lease_owner) == (2, "w2")
        assert finished == [False]
        current = await store.get(job.id)
        assert current is not None
        assert (current.status, current.lease_owner) == (JobStatus.PROCESSING, "w2")

    async def test_finish_many_finishes_held_jobs_and_refuses_lost_leases(self, store: Store) -> None:
        mine, lost, queued, running = [await store.add(make_job()) for _ in range(4)]
        await start(store, mine, owner="w1")
        await start(store, lost, owner="w2")  # w1's lease on it was lost: w2 holds it now
        await start(store, running, owner="w2")
        backlog = await store.outbox_backlog()

        answers = await store.finish_many(
            [completed(mine.id, "w1"), completed(lost.id, "w1"), completed(queued.id, None),
             completed(running.id, None), completed("missing", "w1")]
        )  # fmt: skip

        assert answers == [True, False, True, False, False]
        for job_id, status in ((mine.id, JobStatus.COMPLETED), (lost.id, JobStatus.PROCESSING),
                               (queued.id, JobStatus.COMPLETED), (running.id, JobStatus.PROCESSING)):  # fmt: skip
            current = await store.get(job_id)
            assert current is not None
            assert current.status == status
        finished = await store.get(mine.id)
        assert finished is not None
        assert (finished.result, finished.lease_owner) == ({"winner": "Essay A"}, None)
        assert await store.outbox_backlog() == backlog + 4  # two events for each job finished, none for the others

    async def test_a_job_listed_twice_finishes_once_with_the_first_outcome(self, store: Store) -> None:
        job = await store.add(make_job())
        await start(store, job, owner="w1")

        answers = await store.finish_many([completed(job.id, "w1", "Essay B"), completed(job.id, "w1", "Essay A")])

        assert answers == [True, False]
        current = await store.get(job.id)
        assert current is not None
        assert current.result == {"winner": "Essay B"}

    async def test_empty_batches_do_nothing(self, store: Store) -> None:
        assert await store.begin_attempts([]) == []
        assert await store.finish_many([]) == []
