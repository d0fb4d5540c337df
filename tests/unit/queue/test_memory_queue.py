"""Behaviour specific to `InMemoryJobQueue`: argument checks and its lazily cleaned heaps."""

from __future__ import annotations

import pytest

from llm_provider_service.adapters.memory_queue import InMemoryJobQueue
from tests.unit.queue.contract import ManualClock


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        InMemoryJobQueue(capacity=0)


async def test_claim_needs_room_for_a_job() -> None:
    queue = InMemoryJobQueue(capacity=1)

    with pytest.raises(ValueError, match="max_jobs"):
        await queue.claim(max_jobs=0, lease_seconds=1)


async def test_a_removed_then_re_enqueued_job_is_handed_out_once_at_its_new_place() -> None:
    queue = InMemoryJobQueue(capacity=10, clock=ManualClock())
    await queue.enqueue("a", priority=9)
    await queue.enqueue("b", priority=5)
    assert await queue.remove("a")
    await queue.enqueue("a", priority=1)

    leases = await queue.claim(max_jobs=10, lease_seconds=10)

    assert [lease.job_id for lease in leases] == ["b", "a"]


async def test_renewed_leases_expire_only_at_their_last_deadline() -> None:
    clock = ManualClock()
    queue = InMemoryJobQueue(capacity=10, clock=clock)
    await queue.enqueue("a", priority=5)
    (lease,) = await queue.claim(max_jobs=1, lease_seconds=10)
    for _ in range(5):
        clock.advance(5)
        renewed = await queue.renew(lease, lease_seconds=10)
        assert renewed is not None

    clock.advance(9)
    assert await queue.claim(max_jobs=1, lease_seconds=10) == []
    clock.advance(1)
    assert [again.job_id for again in await queue.claim(max_jobs=1, lease_seconds=10)] == ["a"]


async def test_a_delayed_job_removed_before_its_due_time_never_comes_back() -> None:
    clock = ManualClock()
    queue = InMemoryJobQueue(capacity=10, clock=clock)
    await queue.enqueue("a", priority=5, delay_seconds=5)
    assert await queue.remove("a")

    clock.advance(10)

    assert await queue.claim(max_jobs=1, lease_seconds=10) == []
    assert (await queue.stats()).total == 0
