"""The service's `RedisJobQueue` cycle (enqueue -> claim -> ack) in one process vs pipelined `redis-benchmark`.

Usage: python scripts/bench_queue.py [--jobs 20000] [--batch 100] [--repeats 3] [--profile] [--redis-url URL]

Starts a private `redis-server` on a loopback port (or uses `--redis-url`, which must be a server nobody else is
using: the command count comes from its `INFO commandstats`), then, `--repeats` times interleaved: the cycle one
job per call, batched as the service runs it (concurrent enqueues coalesced, claim up to `--batch`, `ack_many`),
batched with `enqueue_many`, and `redis-benchmark -c 1 -P 16` on the same server. The ratio and its definition:
`llm_loadtest.infra.queue_cycle`. `--profile` prints a cProfile (CPU time) of the coalesced batched cycle, client side.
Every loop is bounded by count and time; the server is stopped by its PID.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis.asyncio as aioredis
import uvloop

from llm_loadtest.infra.queue_cycle import K_REF, CycleResult, Floor, batched, one_by_one, pipelined_floor, ratio
from llm_provider_service.adapters.redis_queue import RedisJobQueue
from llm_provider_service.infra.redis_server import RedisServer

MAX_SECONDS = 5.0
FLOOR_REQUESTS = 200_000


async def _turn(url: str, jobs: int, batch: int, turn: int) -> tuple[list[CycleResult], Floor]:
    client = aioredis.from_url(url)
    try:
        async with RedisJobQueue.from_url(url, capacity=1_000_000) as queue:
            tag = f"t{turn}-{uuid.uuid4().hex[:6]}"
            results = [
                await one_by_one(queue, client, jobs=max(jobs // 10, 100), max_seconds=MAX_SECONDS, prefix=f"o{tag}"),
                await batched(queue, client, jobs=jobs, max_seconds=MAX_SECONDS, prefix=f"c{tag}", batch=batch),
                await batched(
                    queue, client, jobs=jobs, max_seconds=MAX_SECONDS, prefix=f"m{tag}", batch=batch, coalesced=False
                ),
            ]
    finally:
        await client.aclose()
    return results, await pipelined_floor(url, requests=FLOOR_REQUESTS, timeout_seconds=60.0)


async def _profile(url: str, jobs: int, batch: int) -> None:
    client = aioredis.from_url(url)
    try:
        async with RedisJobQueue.from_url(url, capacity=1_000_000) as queue:
            profiler = cProfile.Profile(time.process_time)  # CPU, not wall: co-tenants stay out
            profiler.enable()
            await batched(queue, client, jobs=jobs, max_seconds=MAX_SECONDS, prefix="profile", batch=batch)
            profiler.disable()
    finally:
        await client.aclose()
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(20)


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


async def _main(args: argparse.Namespace, url: str) -> dict[str, object]:
    rows: dict[str, list[CycleResult]] = {}
    ratios: dict[str, list[float]] = {}
    floors: list[Floor] = []
    for turn in range(args.repeats):
        results, floor = await _turn(url, args.jobs, args.batch, turn)
        floors.append(floor)
        for result in results:
            rows.setdefault(result.name, []).append(result)
            ratios.setdefault(result.name, []).append(ratio(result, floor))
    _say(f"redis-benchmark -c 1 -P 16, R (harmonic mean): {[f'{f.commands_per_second:,.0f}' for f in floors]}/s")
    _say(f"floor = R / {K_REF:g}: {[f'{f.jobs_per_second:,.0f}' for f in floors]} jobs/s")
    for name, results in rows.items():
        _say(f"{name}:")
        _say(f"  jobs/s     {[f'{r.per_second:,.0f}' for r in results]}")
        _say(f"  client CPU {[f'{r.cpu_us_per_job:.1f}' for r in results]} us/job")
        _say(f"  Redis in the scripts {[f'{r.server_us_per_job:.1f}' for r in results]} us/job")
        _say(f"  executed   {[f'{r.commands_per_job:.2f}' for r in results]} Redis commands/job (floor: {K_REF:g})")
        fastest = max(f.jobs_per_second for f in floors)
        _say(f"  vs the run's fastest floor {[f'{r.per_second / fastest:.3f}' for r in results]} (conservative)")
        _say(f"  ratio      {[f'{value:.3f}' for value in ratios[name]]}, median {statistics.median(ratios[name]):.3f}")
    last = rows[name][-1]
    mix = {command: round(calls / max(last.jobs, 1), 2) for command, calls in sorted(last.server_commands.items())}
    _say(f"  commands per job, last run: {mix}")
    _say(f"load average {os.getloadavg()}")
    if args.profile:
        await _profile(url, args.jobs, args.batch)
    return {
        "floor_commands_per_second": [f.commands_per_second for f in floors],
        "cycles": {name: [_figures(r) for r in results] for name, results in rows.items()},
        "ratios": ratios,
        "load_average": os.getloadavg(),
    }


def _figures(result: CycleResult) -> dict[str, float]:
    return {
        "jobs_per_second": result.per_second,
        "cpu_us_per_job": result.cpu_us_per_job,
        "server_us_per_job": result.server_us_per_job,
        "commands_per_job": result.commands_per_job,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per batched run (one-by-one: a tenth)")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--redis-url", help="a loopback Redis used by nothing else (default: a private server)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    if args.redis_url:
        document = uvloop.run(_main(args, args.redis_url))
    else:
        with tempfile.TemporaryDirectory(prefix="bench-queue-") as base_dir:
            server = RedisServer(Path(base_dir))
            server.start()
            try:
                document = uvloop.run(_main(args, server.url))
            finally:
                server.stop()
    if args.json:
        args.json.write_text(json.dumps(document, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
