"""Queue cycle benchmark: enqueue -> claim -> ack on a Redis-backed job queue, beside pipelined `redis-benchmark`.

The toolkit may not import the service, so the queue comes in by its shape (`CycleQueue`, which the service's
`RedisJobQueue` has); `scripts/bench_queue.py` and `tests/performance/test_infra_redis.py` pass the real one.

The ratio, defined so that it cannot flatter a queue that does more work per job than it needs:

    ratio = cycle jobs/s / floor jobs/s,    floor jobs/s = R / K_REF

- R = `redis-benchmark`'s pipelined rate (one client, `-P 16`) of the primitive write commands the queue's scripts
  use, the harmonic mean (the rate of an even mix) of ZADD, ZPOPMIN, HSET, INCR, LPUSH, each the fastest of two
  runs, on the same server in the same run.
- K_REF = 14 Redis commands per job: what the service's Lua scripts executed server-side per job of the batched
  cycle when this definition was set (2026-12-02, counted by the server: 8 per enqueue, 2 per claimed job, 4 per
  ack, per-batch ones spread over 100 jobs = 14.07). Reads (HGET, HEXISTS, HLEN) are priced like writes: at this
  size a command's cost is its dispatch.

So the floor is "the fastest C client issuing, pipelined, the commands our scripts executed per job", and 1.0 means
our whole cycle (Python client, script calls, replies, Redis running the scripts) is as fast as that. K_REF is
fixed, not re-measured: a script that does the same with fewer or variadic commands then shows as a faster cycle,
never as a lower floor. The commands actually executed are still counted each run (`CycleResult.commands_per_job`,
from `INFO commandstats`; EVALSHA itself and our INFO excluded) so a test can see the scripts grow. Against a
minimal, non-atomic 4-command queue (ZADD / ZPOPMIN / ZADD lease / ZREM) the same figure would be x 4/14.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis

from llm_loadtest.infra.redis_bench import redis_benchmark

LeaseT = TypeVar("LeaseT")
FLOOR_COMMANDS = ("ZADD", "ZPOPMIN", "HSET", "INCR", "LPUSH")
FLOOR_PIPELINE = 16
K_REF = 14.0
# The carriers of the scripts and the measurement's own commands are not work a job needs.
NOT_JOB_WORK = frozenset({"evalsha", "eval", "evalsha_ro", "eval_ro", "info", "script", "script|load", "ping"})
LEASE_SECONDS = 30.0
PRIORITY = 5


class CycleQueue(Protocol[LeaseT]):
    """The part of the service's `JobQueue` port that a cycle uses."""

    async def enqueue(self, job_id: str, *, priority: int, delay_seconds: float = 0.0) -> None: ...

    async def enqueue_many(self, items: Sequence[tuple[str, int]]) -> None: ...

    async def claim(self, *, max_jobs: int, lease_seconds: float, wait_seconds: float = 0.0) -> list[LeaseT]: ...

    async def ack(self, lease: LeaseT) -> None: ...

    async def ack_many(self, leases: Sequence[LeaseT]) -> None: ...


@dataclass(frozen=True, slots=True)
class CycleResult:
    """One measured cycle run: wall and client CPU time, and what the server executed for it."""

    name: str
    jobs: int
    seconds: float
    cpu_seconds: float
    server_commands: dict[str, int]
    server_usec: int  # Redis's own time in the scripts (commandstats usec of EVALSHA/EVAL)

    @property
    def per_second(self) -> float:
        return self.jobs / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_job(self) -> float:
        return self.cpu_seconds / max(self.jobs, 1) * 1e6

    @property
    def server_us_per_job(self) -> float:
        return self.server_usec / max(self.jobs, 1)

    @property
    def commands_per_job(self) -> float:
        return sum(self.server_commands.values()) / max(self.jobs, 1)


@dataclass(frozen=True, slots=True)
class Floor:
    """`redis-benchmark`'s pipelined rate R of the primitive commands (harmonic mean) and per command."""

    commands_per_second: float
    rates: dict[str, float]

    @property
    def jobs_per_second(self) -> float:
        return self.commands_per_second / K_REF


async def command_stats(client: aioredis.Redis) -> dict[str, tuple[int, int]]:
    """(calls, usec) per command since the server started (`INFO commandstats`), lower-case names."""
    stats: dict[str, Any] = await client.info("commandstats")
    return {name.removeprefix("cmdstat_"): (int(entry["calls"]), int(entry["usec"])) for name, entry in stats.items()}


async def _measured(
    name: str, client: aioredis.Redis, jobs: int, max_seconds: float, run: Callable[[int, float], Awaitable[int]]
) -> CycleResult:
    before = await command_stats(client)
    wall, cpu = time.perf_counter(), time.process_time()
    done = await run(jobs, wall + max_seconds)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = await command_stats(client)
    executed = {
        command: (calls - before.get(command, (0, 0))[0], usec - before.get(command, (0, 0))[1])
        for command, (calls, usec) in after.items()
    }
    work = {command: calls for command, (calls, _) in executed.items() if calls and command not in NOT_JOB_WORK}
    scripts_usec = sum(usec for command, (_, usec) in executed.items() if command.startswith("eval"))
    return CycleResult(name, done, wall, cpu, work, scripts_usec)


async def one_by_one(
    queue: CycleQueue[LeaseT], client: aioredis.Redis, *, jobs: int, max_seconds: float, prefix: str
) -> CycleResult:
    """One job per call: enqueue, claim(max_jobs=1), ack - three script calls, three round trips per job."""

    async def run(count: int, deadline: float) -> int:
        done = 0
        while done < count and time.perf_counter() < deadline:
            await queue.enqueue(f"{prefix}-{done}", priority=PRIORITY)
            for lease in await queue.claim(max_jobs=1, lease_seconds=LEASE_SECONDS):
                await queue.ack(lease)
                done += 1
        return done

    return await _measured("one job per call", client, jobs, max_seconds, run)


async def batched(
    queue: CycleQueue[LeaseT],
    client: aioredis.Redis,
    *,
    jobs: int,
    max_seconds: float,
    prefix: str,
    batch: int = 100,
    coalesced: bool = True,
) -> CycleResult:
    """As the service runs it: `batch` concurrent enqueues (accepts, coalesced into one script call) or one
    `enqueue_many`, then the worker's claim(max_jobs=batch) and one `ack_many` of the finished jobs."""

    async def run(count: int, deadline: float) -> int:
        done = rounds = 0
        while done < count and time.perf_counter() < deadline:
            ids = [f"{prefix}-{rounds}-{index}" for index in range(batch)]
            rounds += 1
            if coalesced:
                await asyncio.gather(*(queue.enqueue(job_id, priority=PRIORITY) for job_id in ids))
            else:
                await queue.enqueue_many([(job_id, PRIORITY) for job_id in ids])
            leases = await queue.claim(max_jobs=batch, lease_seconds=LEASE_SECONDS)
            await queue.ack_many(leases)
            done += len(leases)
        return done

    how = "concurrent enqueues" if coalesced else "enqueue_many"
    return await _measured(f"batch {batch}: {how}, claim {batch}, ack_many", client, jobs, max_seconds, run)


async def pipelined_floor(url: str, *, requests: int, timeout_seconds: float, samples: int = 2) -> Floor:
    """R: `redis-benchmark -c 1 -P 16` over the primitive commands, harmonic mean of their rates.

    Each command's rate is the fastest of `samples` runs: a co-tenant's burst slows a short C run by up to 2x, and a
    slow floor would flatter the ratio, so the floor takes the best the tool did.
    """
    best: dict[str, float] = {}
    for _ in range(samples):
        rates = await redis_benchmark(
            url, requests=requests, pipeline=FLOOR_PIPELINE, timeout_seconds=timeout_seconds, tests=FLOOR_COMMANDS
        )
        for name, rate in rates.items():
            best[name] = max(best.get(name, 0.0), rate)
    picked = [best[name] for name in FLOOR_COMMANDS if best.get(name)]
    return Floor(statistics.harmonic_mean(picked) if picked else 0.0, best)


def ratio(result: CycleResult, floor: Floor) -> float:
    """Cycle jobs/s over the floor's jobs/s (R / K_REF)."""
    return result.per_second / max(floor.jobs_per_second, 1e-9)
