"""Infrastructure: the service's `SqlJobStore` on a real PostgreSQL — insert/get/begin_attempt/finish/outbox.

Each test gets a fresh migrated database (fsync off, as everywhere in the test tiers). Bounds: ~3-5x measured p99
latency, ~0.3-0.5x measured throughput on the calibration host (docs/testing.md), scaled by the host's same-run
slowdown (`host`); the ratio to `pgbench` needs no scaling.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from llm_loadtest.infra.common import run_tool
from llm_provider_service.adapters.sql_migrations import upgrade_database_async
from llm_provider_service.adapters.sql_store import SqlJobStore
from llm_provider_service.domain.events import JobOutcome
from llm_provider_service.domain.models import Job, JobStatus, TokenUsage
from llm_provider_service.infra.postgres_admin import libpq_url
from tests.performance.baseline import HostSpeed
from tests.performance.measure import Gate, latencies, summary_of
from tests.unit.store.contract import event, make_job

pytestmark = pytest.mark.performance

LEASE = timedelta(seconds=30)
CONCURRENCY = 16


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[SqlJobStore]:
    await upgrade_database_async(postgres_url)
    async with SqlJobStore.from_url(postgres_url, pool_size=CONCURRENCY) as opened:
        yield opened


def now() -> datetime:
    return datetime.now(UTC)


def fresh_job() -> Job:
    return make_job(created_at=now())


async def added(store: SqlJobStore, count: int) -> list[Job]:
    jobs = [fresh_job() for _ in range(count)]
    await concurrently([store.add(job) for job in jobs])
    return jobs


async def concurrently(calls: Sequence[Awaitable[object]], limit: int = CONCURRENCY) -> None:
    """Runs the awaitables with at most `limit` in flight (the pool size)."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[object]) -> None:
        async with gate:
            await call

    async with asyncio.TaskGroup() as group:
        for call in calls:
            group.create_task(one(call))


async def begun(store: SqlJobStore, job: Job) -> Job:
    at = now()
    started = await store.begin_attempt(job.id, owner="w1", now=at, lease_expires_at=at + LEASE, events=[event(job.id)])
    assert started is not None
    return started


async def test_insert_latency(store: SqlJobStore, gate: Gate, host: HostSpeed) -> None:
    summary = summary_of(await latencies(lambda _: store.add(fresh_job()), count=1500, max_seconds=3.0))
    gate.below("add_p99_ms", summary.p99_ms, 6.0, host=host)
    gate.below("add_p50_ms", summary.p50_ms, 3.0, host=host)


async def test_concurrent_insert_throughput(store: SqlJobStore, gate: Gate, host: HostSpeed) -> None:
    start = time.perf_counter()
    jobs = await added(store, 3000)
    per_second = len(jobs) / (time.perf_counter() - start)
    gate.above("concurrent_add_per_second", per_second, 600, host=host)


async def test_insert_vs_pgbench_round_trip(store: SqlJobStore, postgres_url: str, tmp_path: Path, gate: Gate) -> None:
    """Our INSERT against pgbench's SELECT 1 on the same server and connection count: the store's overhead."""
    start = time.perf_counter()
    count = 0
    for _ in range(1500):
        await store.add(fresh_job())
        count += 1
        if time.perf_counter() - start > 2.0:
            break
    ours = count / (time.perf_counter() - start)
    native = await _pgbench_select1_tps(postgres_url, tmp_path)
    gate.above("add_over_pgbench_select1_ratio", ours / native, 0.008)


async def _pgbench_select1_tps(postgres_url: str, directory: Path) -> float:
    script = directory / "select.sql"
    script.write_text("SELECT 1;\n")
    text = await run_tool(
        "pgbench", "-n", "-c", "1", "-T", "2", "-f", str(script), libpq_url(postgres_url), timeout_seconds=30.0
    )
    for line in text.splitlines():
        if line.startswith("tps"):
            return float(line.split("=")[1].split()[0])
    raise AssertionError(f"no tps in pgbench output: {text[-300:]}")


async def test_get_latency(store: SqlJobStore, gate: Gate, host: HostSpeed) -> None:
    jobs = await added(store, 500)
    summary = summary_of(await latencies(lambda i: store.get(jobs[i % 500].id), count=2000, max_seconds=3.0))
    gate.below("get_p99_ms", summary.p99_ms, 6.0, host=host)


async def test_begin_attempt_latency(store: SqlJobStore, gate: Gate, host: HostSpeed) -> None:
    jobs = await added(store, 600)
    summary = summary_of(await latencies(lambda i: begun(store, jobs[i]), count=600, max_seconds=3.0, warmup=0))
    gate.below("begin_attempt_p99_ms", summary.p99_ms, 15.0, host=host)


async def test_finish_with_events_latency(store: SqlJobStore, gate: Gate, host: HostSpeed) -> None:
    jobs = await added(store, 500)
    await concurrently([begun(store, job) for job in jobs])

    async def finish(index: int) -> None:
        job = jobs[index]
        done = await store.finish(
            job.id,
            JobOutcome(JobStatus.COMPLETED, {"winner": "Essay A"}, usage=TokenUsage(30, 12), cost_usd=0.001),
            owner="w1",
            now=now(),
            events=[event(job.id, "callback"), event(job.id, "completed")],
        )
        assert done is not None

    summary = summary_of(await latencies(finish, count=500, max_seconds=3.0, warmup=0))
    gate.below("finish_p99_ms", summary.p99_ms, 15.0, host=host)


async def test_job_lifecycle_throughput(store: SqlJobStore, gate: Gate, host: HostSpeed) -> None:
    """add -> begin_attempt -> finish per job, 16 at once: the store's share of one processed job."""

    async def lifecycle(job: Job) -> None:
        await store.add(job)
        await begun(store, job)
        await store.finish(job.id, JobOutcome(JobStatus.COMPLETED, {}), owner="w1", now=now(),
                           events=[event(job.id, "callback")])  # fmt: skip

    jobs = [fresh_job() for _ in range(800)]
    start = time.perf_counter()
    async with asyncio.timeout(20):
        await concurrently([lifecycle(job) for job in jobs])
    gate.above("lifecycle_jobs_per_second", len(jobs) / (time.perf_counter() - start), 80, host=host)


async def test_outbox_claim_and_mark_throughput(store: SqlJobStore, gate: Gate, host: HostSpeed) -> None:
    jobs = await added(store, 1000)
    await concurrently([begun(store, job) for job in jobs])  # one request_started event each
    start = time.perf_counter()
    relayed = 0
    for _ in range(100):
        claimed = await store.claim_outbox(now=now(), limit=100, lock_seconds=30)
        if not claimed:
            break
        await store.mark_published([item.event_id for item in claimed], now=now())
        relayed += len(claimed)
    elapsed = time.perf_counter() - start
    assert relayed == len(jobs)
    assert await store.outbox_backlog() == 0
    gate.above("outbox_relay_events_per_second", relayed / elapsed, 5000, host=host)


async def test_idempotent_replay_latency(store: SqlJobStore, gate: Gate, host: HostSpeed) -> None:
    first = await store.add(make_job(created_at=now(), key="replayed-key"))
    samples = await latencies(lambda _: _replay(store, first), count=800, max_seconds=2.0)
    gate.below("idempotent_add_replay_p99_ms", summary_of(samples).p99_ms, 15.0, host=host)


async def _replay(store: SqlJobStore, first: Job) -> None:
    again = await store.add(make_job(created_at=now(), key="replayed-key"))
    assert again.id == first.id


async def test_reconciler_queries_with_deep_table(store: SqlJobStore, gate: Gate, host: HostSpeed) -> None:
    await added(store, 2000)
    due = summary_of(await latencies(lambda _: store.due_jobs(now=now(), limit=100), count=200, max_seconds=2.0))
    counts = summary_of(await latencies(lambda _: store.status_counts(), count=200, max_seconds=2.0))
    gate.below("due_jobs_limit100_p99_ms", due.p99_ms, 45.0, host=host)
    gate.below("status_counts_2000_jobs_p99_ms", counts.p99_ms, 12.0, host=host)
