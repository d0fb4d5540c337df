"""The behaviour every `JobQueue` implementation must show, run against each one by subclassing `QueueContract`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import pytest

from llm_provider_service.domain.errors import QueueFullError
from llm_provider_service.ports import JobQueue, Lease

START_EPOCH_SECONDS = 1_700_000_000.0
# Generous bound for waits that must end early; a failure here means a missed wakeup, not slowness.
WAKEUP_BOUND_SECONDS = 5.0


class ManualClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, start: float = START_EPOCH_SECONDS) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class BatchJobQueue(JobQueue, Protocol):
    """Both implementations also take batches (used by benchmarks)."""

    async def enqueue_many(self, items: Sequence[tuple[str, int]]) -> None: ...


class QueueFactory(Protocol):
    def __call__(self, *, capacity: int, clock: Callable[[], float]) -> BatchJobQueue: ...


async def claim_ids(queue: JobQueue, max_jobs: int = 100, lease_seconds: float = 30.0) -> list[str]:
    return [lease.job_id for lease in await queue.claim(max_jobs=max_jobs, lease_seconds=lease_seconds)]


async def claim_one(queue: JobQueue, lease_seconds: float = 30.0) -> Lease:
    leases = await queue.claim(max_jobs=1, lease_seconds=lease_seconds)
    assert len(leases) == 1
    return leases[0]


class QueueContract:
    """Subclasses provide a `queue_factory` fixture and set `settle_seconds` (time for a claimer to start waiting)."""

    settle_seconds = 0.0

    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock()

    @pytest.fixture
    def queue(self, queue_factory: QueueFactory, clock: ManualClock) -> BatchJobQueue:
        return queue_factory(capacity=10_000, clock=clock)

    async def settle(self) -> None:
        """Let a concurrently started claimer reach its wait."""
        for _ in range(10):
            await asyncio.sleep(0)
        await asyncio.sleep(self.settle_seconds)

    async def test_higher_priority_first_then_fifo(self, queue: BatchJobQueue) -> None:
        for job_id, priority in [("a", 5), ("b", 9), ("c", 5), ("d", 0), ("e", 9), ("f", 10)]:
            await queue.enqueue(job_id, priority=priority)

        assert await claim_ids(queue, max_jobs=2) == ["f", "b"]
        assert await claim_ids(queue, max_jobs=10) == ["e", "a", "c", "d"]
        assert await claim_ids(queue) == []

    async def test_enqueue_many_keeps_order(self, queue: BatchJobQueue) -> None:
        await queue.enqueue_many([("a", 1), ("b", 2), ("c", 1), ("d", 2)])

        assert await claim_ids(queue) == ["b", "d", "a", "c"]

    async def test_enqueue_of_a_held_id_is_a_no_op(self, queue: BatchJobQueue) -> None:
        await queue.enqueue("a", priority=1)
        await queue.enqueue("a", priority=9)
        await queue.enqueue("b", priority=5)
        assert (await queue.stats()).ready == 2
        assert await claim_ids(queue, max_jobs=1) == ["b"]

        lease = await claim_one(queue)
        await queue.enqueue("a", priority=1)

        stats = await queue.stats()
        assert (stats.ready, stats.leased) == (0, 2)
        await queue.ack(lease)
        await queue.enqueue("a", priority=1)  # forgotten after ack: a new entry
        assert (await queue.stats()).ready == 1

    async def test_concurrent_claimers_never_share_a_job(self, queue: BatchJobQueue) -> None:
        job_ids = [f"job-{n:04d}" for n in range(1000)]
        await queue.enqueue_many([(job_id, n % 11) for n, job_id in enumerate(job_ids)])
        claimed: list[list[str]] = [[] for _ in range(20)]

        async def claimer(mine: list[str]) -> None:
            for _ in range(1000):  # bounded: 1000 jobs cannot need more rounds
                ids = await claim_ids(queue, max_jobs=7)
                if not ids:
                    return
                mine.extend(ids)
                await asyncio.sleep(0)

        async with asyncio.TaskGroup() as group:
            for mine in claimed:
                group.create_task(claimer(mine))

        every = [job_id for mine in claimed for job_id in mine]
        assert len(every) == len(set(every)) == 1000
        assert set(every) == set(job_ids)
        assert sum(1 for mine in claimed if mine) > 1
        assert (await queue.stats()).leased == 1000

    async def test_expired_lease_returns_the_job_with_a_new_token(
        self, queue: BatchJobQueue, clock: ManualClock
    ) -> None:
        await queue.enqueue("a", priority=5)
        first = await claim_one(queue, lease_seconds=10)
        assert first.expires_at == pytest.approx(clock() + 10)

        clock.advance(9.5)
        assert await claim_ids(queue) == []
        clock.advance(0.5)
        second = await claim_one(queue, lease_seconds=10)

        assert second.job_id == "a"
        assert second.token != first.token
        assert (await queue.stats()).leased == 1

    async def test_stale_token_is_fenced_off(self, queue: BatchJobQueue, clock: ManualClock) -> None:
        await queue.enqueue("a", priority=5)
        stale = await claim_one(queue, lease_seconds=10)
        clock.advance(11)
        current = await claim_one(queue, lease_seconds=10)

        assert await queue.renew(stale, lease_seconds=10) is None
        await queue.ack(stale)
        await queue.release(stale, delay_seconds=0)
        stats = await queue.stats()
        assert (stats.ready, stats.leased) == (0, 1)

        renewed = await queue.renew(current, lease_seconds=10)
        assert renewed is not None
        assert renewed.token == current.token
        await queue.ack(current)
        assert await queue.contains(["a"]) == set()
        assert await queue.renew(current, lease_seconds=10) is None

    async def test_ack_many_forgets_the_current_leases_and_skips_stale_ones(
        self, queue: BatchJobQueue, clock: ManualClock
    ) -> None:
        for job_id in ("a", "b", "c"):
            await queue.enqueue(job_id, priority=5)
        first = {lease.job_id: lease for lease in await queue.claim(max_jobs=3, lease_seconds=10)}
        clock.advance(11)  # every lease expired: the next claim hands the jobs out again, with new tokens
        current = {lease.job_id: lease for lease in await queue.claim(max_jobs=3, lease_seconds=10)}
        assert set(current) == {"a", "b", "c"}

        await queue.ack_many([current["a"], current["b"], first["c"]])

        assert await queue.contains(["a", "b", "c"]) == {"c"}  # the stale lease on "c" left its new holder's alone
        assert (await queue.stats()).leased == 1
        await queue.ack_many([])

    async def test_renew_pushes_the_deadline(self, queue: BatchJobQueue, clock: ManualClock) -> None:
        await queue.enqueue("a", priority=5)
        lease = await claim_one(queue, lease_seconds=10)
        clock.advance(8)

        renewed = await queue.renew(lease, lease_seconds=10)

        assert renewed is not None
        assert renewed.expires_at == pytest.approx(clock() + 10)
        clock.advance(8)
        assert await claim_ids(queue) == []
        clock.advance(2)
        assert await claim_ids(queue) == ["a"]

    async def test_late_renewal_succeeds_until_someone_else_claims(
        self, queue: BatchJobQueue, clock: ManualClock
    ) -> None:
        await queue.enqueue("a", priority=5)
        lease = await claim_one(queue, lease_seconds=10)
        clock.advance(15)

        assert await queue.renew(lease, lease_seconds=10) is not None
        assert await claim_ids(queue) == []

    async def test_release_with_delay_keeps_priority(self, queue: BatchJobQueue, clock: ManualClock) -> None:
        await queue.enqueue("high", priority=9)
        await queue.enqueue("low", priority=1)
        lease = await claim_one(queue)
        assert lease.job_id == "high"

        await queue.release(lease, delay_seconds=30)
        stats = await queue.stats()
        assert (stats.ready, stats.delayed, stats.leased) == (1, 1, 0)
        clock.advance(29)
        assert (await claim_one(queue)).job_id == "low"
        assert await claim_ids(queue) == []
        clock.advance(1)
        assert await claim_ids(queue) == ["high"]

    async def test_release_without_delay_is_ready_at_once(self, queue: BatchJobQueue) -> None:
        await queue.enqueue("a", priority=5)
        lease = await claim_one(queue)

        await queue.release(lease, delay_seconds=0)

        assert (await queue.stats()).ready == 1
        again = await claim_one(queue)
        assert again.job_id == "a"
        assert again.token != lease.token

    async def test_delayed_enqueue_becomes_ready_when_due(self, queue: BatchJobQueue, clock: ManualClock) -> None:
        await queue.enqueue("later", priority=10, delay_seconds=5)
        await queue.enqueue("now", priority=0)
        assert await claim_ids(queue) == ["now"]
        clock.advance(5)
        assert await claim_ids(queue) == ["later"]

    async def test_capacity_counts_every_state(self, queue_factory: QueueFactory, clock: ManualClock) -> None:
        queue = queue_factory(capacity=3, clock=clock)
        await queue.enqueue("ready", priority=5)
        await queue.enqueue("delayed", priority=5, delay_seconds=60)
        await queue.enqueue("leased", priority=1)
        lease = await claim_one(queue)  # "ready" goes first (same priority 5, earlier)

        with pytest.raises(QueueFullError) as raised:
            await queue.enqueue("extra", priority=5)
        assert raised.value.retry_after_seconds > 0
        await queue.enqueue("delayed", priority=5)  # already held: still a no-op, not an error

        await queue.ack(lease)
        await queue.enqueue("extra", priority=5)
        assert (await queue.stats()).total == 3

    async def test_enqueue_many_stops_at_capacity(self, queue_factory: QueueFactory, clock: ManualClock) -> None:
        queue = queue_factory(capacity=3, clock=clock)

        with pytest.raises(QueueFullError):
            await queue.enqueue_many([(f"job-{n}", 5) for n in range(5)])

        assert await queue.contains([f"job-{n}" for n in range(5)]) == {"job-0", "job-1", "job-2"}

    async def test_remove_drops_only_jobs_not_leased(self, queue: BatchJobQueue) -> None:
        await queue.enqueue("ready", priority=5)
        await queue.enqueue("delayed", priority=5, delay_seconds=60)
        await queue.enqueue("leased", priority=9)
        lease = await claim_one(queue)

        assert await queue.remove("ready") is True
        assert await queue.remove("delayed") is True
        assert await queue.remove("leased") is False
        assert await queue.remove("unknown") is False
        assert await queue.remove("ready") is False
        assert await queue.contains(["ready", "delayed", "leased"]) == {"leased"}
        assert await claim_ids(queue) == []
        await queue.ack(lease)
        assert (await queue.stats()).total == 0

    async def test_contains_sees_every_state(self, queue: BatchJobQueue) -> None:
        await queue.enqueue("leased", priority=9)
        await queue.enqueue("ready", priority=5)
        await queue.enqueue("delayed", priority=5, delay_seconds=60)
        await claim_one(queue)

        found = await queue.contains(["ready", "delayed", "leased", "unknown"])

        assert found == {"ready", "delayed", "leased"}
        assert await queue.contains([]) == set()

    async def test_stats_count_each_state(self, queue_factory: QueueFactory, clock: ManualClock) -> None:
        queue = queue_factory(capacity=50, clock=clock)
        await queue.enqueue_many([(f"r{n}", 5) for n in range(6)])
        for n in range(3):
            await queue.enqueue(f"d{n}", priority=5, delay_seconds=10)
        await queue.claim(max_jobs=2, lease_seconds=10)

        stats = await queue.stats()

        assert (stats.ready, stats.delayed, stats.leased, stats.capacity, stats.total) == (4, 3, 2, 50, 9)

    async def test_wait_wakes_on_enqueue(self, queue: BatchJobQueue) -> None:
        async with asyncio.timeout(WAKEUP_BOUND_SECONDS), asyncio.TaskGroup() as group:
            waiting = group.create_task(queue.claim(max_jobs=1, lease_seconds=10, wait_seconds=60))
            await self.settle()
            assert not waiting.done()
            await queue.enqueue("a", priority=5)

        assert [lease.job_id for lease in waiting.result()] == ["a"]

    async def test_wait_wakes_every_waiter_that_can_get_a_job(self, queue: BatchJobQueue) -> None:
        async with asyncio.timeout(WAKEUP_BOUND_SECONDS), asyncio.TaskGroup() as group:
            waiting = [group.create_task(queue.claim(max_jobs=1, lease_seconds=10, wait_seconds=60)) for _ in range(4)]
            await self.settle()
            await queue.enqueue_many([(f"job-{n}", 5) for n in range(4)])

        assert sorted(lease.job_id for task in waiting for lease in task.result()) == [f"job-{n}" for n in range(4)]

    async def test_wait_wakes_on_release(self, queue: BatchJobQueue) -> None:
        await queue.enqueue("a", priority=5)
        lease = await claim_one(queue)
        async with asyncio.timeout(WAKEUP_BOUND_SECONDS), asyncio.TaskGroup() as group:
            waiting = group.create_task(queue.claim(max_jobs=1, lease_seconds=10, wait_seconds=60))
            await self.settle()
            await queue.release(lease, delay_seconds=0)

        assert [lease.job_id for lease in waiting.result()] == ["a"]

    async def test_wait_ends_empty_when_time_is_up(self, queue: BatchJobQueue) -> None:
        assert await queue.claim(max_jobs=1, lease_seconds=10, wait_seconds=0.01) == []

    async def test_wait_wakes_when_a_delayed_job_falls_due(self, queue_factory: QueueFactory) -> None:
        # Needs the real clock: the waiter sleeps until the due time, which a manual clock never reaches.
        queue = queue_factory(capacity=10, clock=time.time)
        await queue.enqueue("a", priority=5, delay_seconds=0.02)

        async with asyncio.timeout(WAKEUP_BOUND_SECONDS):
            leases = await queue.claim(max_jobs=1, lease_seconds=10, wait_seconds=60)

        assert [lease.job_id for lease in leases] == ["a"]
