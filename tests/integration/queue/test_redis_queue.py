"""Behaviour specific to `RedisJobQueue`: outages, O(1) depth, several clients, client options."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from llm_provider_service.adapters.redis_queue import RedisJobQueue
from llm_provider_service.domain.errors import QueueFullError, QueueUnavailableError
from llm_provider_service.infra.redis_server import RedisServer, flush_database
from llm_provider_service.ports import Lease

pytestmark = pytest.mark.integration

# Commands Redis counts for the test's own bookkeeping, not for the queue operation measured.
_BOOKKEEPING = {"cmdstat_info", "cmdstat_config|resetstat"}


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def _commands_run_by(client: Redis, operation: Callable[[], Awaitable[Any]]) -> dict[str, int]:
    """Which commands (Lua-internal ones included) the server ran for one operation, with their counts."""
    await client.config_resetstat()
    await operation()
    info = await client.info("commandstats")
    return {name: stats["calls"] for name, stats in info.items() if name not in _BOOKKEEPING}


async def test_stats_and_enqueue_cost_the_same_at_any_depth(client: Redis) -> None:
    queue = RedisJobQueue(client, capacity=100_000, namespace="depth")
    costs: list[tuple[dict[str, int], dict[str, int]]] = []
    for depth in (10, 5000):
        await queue.enqueue_many([(f"job-{n}", n % 11) for n in range(depth)])
        stats_cost = await _commands_run_by(client, queue.stats)

        async def enqueue_one(job_id: str = f"extra-{depth}") -> None:
            await queue.enqueue(job_id, priority=5)

        enqueue_cost = await _commands_run_by(client, enqueue_one)
        costs.append((stats_cost, enqueue_cost))

    assert costs[0] == costs[1]
    stats_cost, enqueue_cost = costs[0]
    assert stats_cost == {"cmdstat_multi": 1, "cmdstat_zcard": 3, "cmdstat_exec": 1}
    assert not {"cmdstat_keys", "cmdstat_scan", "cmdstat_zscan", "cmdstat_hscan"} & enqueue_cost.keys()
    assert (await queue.stats()).ready == 5002


async def test_stopped_redis_makes_the_queue_unavailable_until_it_returns(redis_server: RedisServer) -> None:
    await asyncio.to_thread(redis_server.start)  # a no-op unless an earlier test left it stopped
    await asyncio.to_thread(flush_database, redis_server.url)
    async with RedisJobQueue.from_url(redis_server.url, capacity=100, namespace="outage") as queue:
        await queue.enqueue("before", priority=5)
        assert [claimed.job_id for claimed in await queue.claim(max_jobs=1, lease_seconds=10)] == ["before"]
        lease = Lease(job_id="before", token="stale", expires_at=0.0)  # noqa: S106 - a lease token, not a password

        async def blocked_claim() -> QueueUnavailableError | None:
            try:
                await queue.claim(max_jobs=1, lease_seconds=10, wait_seconds=30)
            except QueueUnavailableError as exc:
                return exc
            return None

        try:
            # A claimer blocked in BLPOP when the server goes away fails instead of hanging.
            async with asyncio.timeout(10), asyncio.TaskGroup() as group:
                waiting = group.create_task(blocked_claim())
                await asyncio.sleep(0.05)
                await asyncio.to_thread(redis_server.stop)
            assert waiting.result() is not None

            operations: list[Callable[[], Awaitable[object]]] = [
                lambda: queue.enqueue("during", priority=5),
                lambda: queue.enqueue_many([("during", 5)]),
                lambda: queue.claim(max_jobs=1, lease_seconds=10),
                lambda: queue.renew(lease, lease_seconds=10),
                lambda: queue.ack(lease),
                lambda: queue.release(lease, delay_seconds=0),
                lambda: queue.remove("before"),
                lambda: queue.contains(["before"]),
                queue.stats,
            ]
            for operation in operations:
                with pytest.raises(QueueUnavailableError) as raised:
                    await operation()
                assert raised.value.retry_after_seconds == 1.0
        finally:
            await asyncio.to_thread(redis_server.start)

        # The restarted server is empty (no persistence) and has no scripts loaded; the queue reloads them.
        await queue.enqueue("after", priority=5)
        assert [claimed.job_id for claimed in await queue.claim(max_jobs=5, lease_seconds=10)] == ["after"]


async def test_claimers_on_separate_clients_never_share_a_job(redis_url: str) -> None:
    async with (
        RedisJobQueue.from_url(redis_url, capacity=10_000, namespace="shared") as first,
        RedisJobQueue.from_url(redis_url, capacity=10_000, namespace="shared") as second,
    ):
        await first.enqueue_many([(f"job-{n}", n % 11) for n in range(1000)])
        claimed: list[str] = []

        async def claimer(queue: RedisJobQueue) -> None:
            for _ in range(1000):
                leases = await queue.claim(max_jobs=5, lease_seconds=30)
                if not leases:
                    return
                claimed.extend(lease.job_id for lease in leases)

        async with asyncio.TaskGroup() as group:
            for n in range(20):
                group.create_task(claimer(first if n % 2 else second))

    assert len(claimed) == len(set(claimed)) == 1000


async def test_a_claimer_wakes_for_a_job_enqueued_through_another_client(redis_url: str) -> None:
    async with (
        RedisJobQueue.from_url(redis_url, capacity=10, namespace="wake") as worker_side,
        RedisJobQueue.from_url(redis_url, capacity=10, namespace="wake") as api_side,
        asyncio.timeout(5),
        asyncio.TaskGroup() as group,
    ):
        waiting = group.create_task(worker_side.claim(max_jobs=1, lease_seconds=10, wait_seconds=60))
        await asyncio.sleep(0.05)
        await api_side.enqueue("a", priority=5)

    assert [lease.job_id for lease in waiting.result()] == ["a"]


async def test_a_client_that_decodes_responses_works_the_same(redis_url: str) -> None:
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        queue = RedisJobQueue(client, capacity=10, namespace="decoded")
        await queue.enqueue("a", priority=5)
        (lease,) = await queue.claim(max_jobs=1, lease_seconds=10)
        assert lease.job_id == "a"
        assert await queue.renew(lease, lease_seconds=10) is not None
        assert await queue.contains(["a", "b"]) == {"a"}
    finally:
        await client.aclose()


async def test_namespaces_are_isolated(client: Redis) -> None:
    one = RedisJobQueue(client, capacity=10, namespace="one")
    other = RedisJobQueue(client, capacity=10, namespace="other")
    await one.enqueue("a", priority=5)

    assert await other.contains(["a"]) == set()
    assert await other.claim(max_jobs=1, lease_seconds=10) == []
    assert (await one.stats()).ready == 1


async def test_out_of_range_priority_and_bad_namespace_are_programming_errors(client: Redis) -> None:
    queue = RedisJobQueue(client, capacity=10)
    with pytest.raises(ValueError, match="priority"):
        await queue.enqueue("a", priority=11)
    with pytest.raises(ValueError, match="priority"):
        await queue.enqueue_many([("a", -1)])
    with pytest.raises(ValueError, match="namespace"):
        RedisJobQueue(client, capacity=10, namespace="{x}")
    assert (await queue.stats()).total == 0


async def test_concurrent_enqueues_share_one_script_call_and_each_hears_its_own_outcome(client: Redis) -> None:
    queue = RedisJobQueue(client, capacity=30, namespace="coalesced")
    await queue.enqueue("held", priority=5)
    outcomes: list[BaseException | None] = []

    async def enqueue_concurrently() -> None:
        ids = ["held", *(f"job-{n}" for n in range(39))]
        enqueues = (queue.enqueue(job_id, priority=5) for job_id in ids)
        outcomes.extend(await asyncio.gather(*enqueues, return_exceptions=True))

    calls = await _commands_run_by(client, enqueue_concurrently)

    assert calls["cmdstat_evalsha"] == 1  # 40 concurrent enqueues, one round trip
    # "held" was in already (no error); 29 new ones fill the queue; the last 10 hear it is full.
    assert [type(outcome) for outcome in outcomes] == [type(None)] * 30 + [QueueFullError] * 10
    assert (await queue.stats()).ready == 30


async def test_a_batch_cycle_costs_per_batch_commands_and_large_claims_cross_the_script_chunks(client: Redis) -> None:
    """The scripts batch their Redis commands (one LPUSH, INCRBY, HMGET, ZREM ... per call, not per job); a claim
    larger than the scripts' 1,000-job chunks and an ack_many listing a lease twice still behave."""
    queue = RedisJobQueue(client, capacity=100_000, namespace="chunks")
    items = [(f"job-{n}", n % 11) for n in range(2500)]
    enqueue_cost = await _commands_run_by(client, lambda: queue.enqueue_many(items[:1000]))
    await queue.enqueue_many(items[1000:])
    leases = await queue.claim(max_jobs=2500, lease_seconds=30.0)
    assert sorted(lease.job_id for lease in leases) == sorted(job_id for job_id, _ in items)
    assert len({lease.token for lease in leases}) == 2500
    assert await queue.renew(leases[-1], lease_seconds=60.0) is not None
    ack_cost = await _commands_run_by(client, lambda: queue.ack_many([*leases[:999], leases[0]]))
    await queue.ack_many(leases[999:])
    assert (await queue.stats()).total == 0
    assert enqueue_cost["cmdstat_lpush"] == enqueue_cost["cmdstat_incrby"] == enqueue_cost["cmdstat_hlen"] == 1
    assert enqueue_cost["cmdstat_zadd"] == enqueue_cost["cmdstat_hsetnx"] == 1000
    assert ack_cost["cmdstat_hmget"] == ack_cost["cmdstat_zrem"] == 1
    assert ack_cost["cmdstat_hdel"] == 2


async def test_more_concurrent_calls_than_pooled_connections_wait_for_one_instead_of_failing(redis_url: str) -> None:
    # A burst beyond the pool's size (a worker's 64 jobs plus the API's in-flight accepts) must queue for a
    # connection; failing it would look like a Redis outage and send accepted jobs to the reconciler.
    async with RedisJobQueue.from_url(redis_url, capacity=1000, namespace="burst") as queue:
        leases = [Lease(f"job-{n}", f"token-{n}", 0.0) for n in range(600)]
        renewed = await asyncio.gather(*(queue.renew(lease, lease_seconds=30) for lease in leases))
    assert renewed == [None] * len(leases)  # nothing was claimed: each renewal answers "not yours", none fails
