"""A toy queue-shaped Redis pattern (ZADD+HSET / ZPOPMIN+ZADD / ZREM+HDEL) beside redis-benchmark; not the service.

This measures what a Python client pays per Redis command, not the service's queue: `RedisJobQueue` runs Lua
scripts with other commands (the toolkit may not import the service). The real adapter's cycle and its same-run
ratio to `redis-benchmark` are `llm_loadtest.infra.queue_cycle`, run by `scripts/bench_queue.py` and gated in
`tests/performance/test_infra_redis.py`.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Sequence
from typing import cast
from urllib.parse import urlsplit

import redis.asyncio as aioredis

from llm_loadtest.infra.common import BenchResult, NativeToolError, run_tool

# Priority first, then FIFO: score = -(priority) * 2^40 + sequence keeps both in one float-exact integer.
_PRIORITY_SHIFT = 2**40
_PAYLOAD = b"x" * 256


class RedisQueueBench:
    """A queue-shaped access pattern implemented here (not the service's queue), on a unique key prefix."""

    def __init__(self, client: aioredis.Redis) -> None:
        prefix = f"llm-loadtest:bench:{uuid.uuid4().hex[:10]}"
        self.client = client
        self.ready, self.leased, self.payloads = f"{prefix}:ready", f"{prefix}:leased", f"{prefix}:payloads"

    def _score(self, sequence: int) -> int:
        return -(sequence % 10) * _PRIORITY_SHIFT + sequence

    async def one_by_one(self, jobs: int, *, max_seconds: float) -> BenchResult:
        start = time.perf_counter()
        done = 0
        for sequence in range(jobs):
            job_id = f"j{sequence}"
            await self.client.hset(self.payloads, job_id, _PAYLOAD)
            await self.client.zadd(self.ready, {job_id: self._score(sequence)})
            claimed = await self.client.zpopmin(self.ready, 1)
            if claimed:
                claimed_id = cast(bytes, claimed[0][0])
                await self.client.zadd(self.leased, {claimed_id: time.time() + 30})
                await self.client.zrem(self.leased, claimed_id)
                await self.client.hdel(self.payloads, claimed_id)
            done += 1
            if time.perf_counter() - start > max_seconds:
                break
        return BenchResult("toy redis queue pattern, not the service (one command per round trip)", done,
                           time.perf_counter() - start, "jobs")  # fmt: skip

    async def pipelined(self, jobs: int, *, batch: int = 100, max_seconds: float) -> BenchResult:
        start = time.perf_counter()
        done = 0
        while done < jobs and time.perf_counter() - start < max_seconds:
            ids = [f"p{done + i}" for i in range(batch)]
            async with self.client.pipeline(transaction=False) as pipe:
                for offset, job_id in enumerate(ids):
                    pipe.hset(self.payloads, job_id, _PAYLOAD)
                    pipe.zadd(self.ready, {job_id: self._score(done + offset)})
                pipe.zpopmin(self.ready, batch)
                results = await pipe.execute()
            claimed = [member for member, _ in results[-1]]
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.zadd(self.leased, {member: time.time() + 30 for member in claimed})
                pipe.zrem(self.leased, *claimed)
                pipe.hdel(self.payloads, *claimed)
                await pipe.execute()
            done += len(claimed)
        return BenchResult(f"toy redis queue pattern, not the service (pipelined, batch {batch})", done,
                           time.perf_counter() - start, "jobs")  # fmt: skip

    async def cleanup(self) -> None:
        await self.client.delete(self.ready, self.leased, self.payloads)


def parse_redis_benchmark_csv(text: str) -> dict[str, float]:
    """`"test","rps",...` rows -> {test: requests per second}."""
    rates: dict[str, float] = {}
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 2 and row[0] != "test":
            try:
                rates[row[0].split(" ")[0].upper()] = float(row[1])
            except ValueError:
                continue
    return rates


async def redis_benchmark(
    url: str,
    *,
    requests: int,
    pipeline: int,
    timeout_seconds: float,
    tests: Sequence[str] = ("ZADD", "ZPOPMIN", "HSET"),
) -> dict[str, float]:
    """redis-benchmark's rate per test (`-t`), one client."""
    parts = urlsplit(url)
    argv = ["redis-benchmark", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379)]
    if parts.password:
        argv += ["-a", parts.password]
    # One client, like our benchmark: the ratio then compares client overhead, not server parallelism.
    argv += ["-n", str(requests), "-c", "1", "-P", str(pipeline), "-t", ",".join(tests).lower(), "--csv", "-q"]
    return parse_redis_benchmark_csv(await run_tool(*argv, timeout_seconds=timeout_seconds))


async def bench_redis(url: str, *, jobs: int, max_seconds: float) -> list[BenchResult]:
    """Our pattern, then redis-benchmark on the same server; ratios are per Redis command."""
    client = aioredis.from_url(url)
    bench = RedisQueueBench(client)
    try:
        plain = await bench.one_by_one(jobs, max_seconds=max_seconds)
        piped = await bench.pipelined(jobs * 10, max_seconds=max_seconds)
    finally:
        await bench.cleanup()
        await client.aclose()
    try:
        native_plain = await redis_benchmark(url, requests=jobs * 5, pipeline=1, timeout_seconds=max_seconds * 4)
        native_piped = await redis_benchmark(url, requests=jobs * 20, pipeline=16, timeout_seconds=max_seconds * 4)
    except NativeToolError as exc:
        return [plain, piped, BenchResult("redis-benchmark", 0, 0.0, "ops", note=str(exc))]

    # Each job costs 6 commands; compare command rates with the mean of redis-benchmark's ZADD/ZPOPMIN/HSET.
    def mean(rates: dict[str, float]) -> float | None:
        picked = [rates[name] for name in ("ZADD", "ZPOPMIN", "HSET") if name in rates]
        return sum(picked) / len(picked) / 6 if picked else None

    return [
        BenchResult(plain.name, plain.operations, plain.seconds, plain.unit, "redis-benchmark -P 1 (per 6 commands)",
                    mean(native_plain)),
        BenchResult(piped.name, piped.operations, piped.seconds, piped.unit, "redis-benchmark -P 16 (per 6 commands)",
                    mean(native_piped)),
    ]  # fmt: skip
