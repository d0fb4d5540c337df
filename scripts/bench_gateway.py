"""Gateway overhead and throughput on loopback: `/v1/chat/completions` vs the mock server called directly.

Usage (the service and the mock server already running, see docs/benchmarks-gateway.md):
    python scripts/bench_gateway.py latency --gateway URL --mock URL [--requests 3000]
    python scripts/bench_gateway.py throughput --gateway URL --model MODEL [--concurrency 64] [--seconds 10]

`latency` runs at concurrency 1 and interleaves direct and gateway calls one for one, so drift and noise
hit both alike; it reports p50/p99 of each and their difference (the added latency). `throughput` is a
closed loop of N workers for a bounded time. Only loopback targets are accepted; every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from urllib.parse import urlparse

import aiohttp
import orjson
import uvloop

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
MESSAGES = [{"role": "user", "content": "Essay A: short. Essay B: shorter. Which is better?"}]


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


def _loopback(url: str) -> str:
    if urlparse(url).hostname not in LOOPBACK_HOSTS:
        sys.exit(f"refusing non-loopback target {url}")
    return url.rstrip("/")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _call(session: aiohttp.ClientSession, url: str, model: str) -> float:
    body = orjson.dumps({"model": model, "messages": MESSAGES})
    started = time.perf_counter()
    async with session.post(url, data=body, headers={"content-type": "application/json"}) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")
    return (time.perf_counter() - started) * 1000.0


async def latency(gateway: str, mock: str, model: str, requests: int, warmup: int) -> None:
    direct_url, gateway_url = f"{mock}/v1/chat/completions", f"{gateway}/v1/chat/completions"
    direct: list[float] = []
    through: list[float] = []
    connector = aiohttp.TCPConnector(limit=4)
    async with aiohttp.ClientSession(connector=connector) as session:
        for index in range(warmup + requests):
            d = await _call(session, direct_url, "mock-comparison-v1")
            g = await _call(session, gateway_url, model)
            if index >= warmup:
                direct.append(d)
                through.append(g)
    for name, values in (("direct mock server", direct), (f"gateway ({model})", through)):
        _say(
            f"{name:45s} n={len(values)} p50={_percentile(values, 0.5):.3f} ms "
            f"p99={_percentile(values, 0.99):.3f} ms mean={statistics.fmean(values):.3f} ms"
        )
    _say(
        f"{'added by the gateway':45s} p50={_percentile(through, 0.5) - _percentile(direct, 0.5):.3f} ms "
        f"p99={_percentile(through, 0.99) - _percentile(direct, 0.99):.3f} ms"
    )


async def throughput(gateway: str, model: str, concurrency: int, seconds: float) -> None:
    url = f"{gateway}/v1/chat/completions"
    done = 0
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline:
            try:
                await _call(session, url, model)
                done += 1
            except (RuntimeError, aiohttp.ClientError):
                errors += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await _call(session, url, model)  # warm the connection and the route
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(worker(session))
        elapsed = time.perf_counter() - started
    _say(f"gateway ({model}) concurrency={concurrency}: {done / elapsed:.0f} req/s ({done} ok, {errors} errors)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lat = sub.add_parser("latency")
    lat.add_argument("--gateway", required=True)
    lat.add_argument("--mock", required=True)
    lat.add_argument("--model", default="openai_compatible/mock-comparison-v1")
    lat.add_argument("--requests", type=int, default=3000)
    lat.add_argument("--warmup", type=int, default=200)
    thr = sub.add_parser("throughput")
    thr.add_argument("--gateway", required=True)
    thr.add_argument("--model", default="mock/mock-comparison-v1")
    thr.add_argument("--concurrency", type=int, default=64)
    thr.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    runner = uvloop.run  # the generator must not be the bottleneck
    if args.command == "latency":
        runner(latency(_loopback(args.gateway), _loopback(args.mock), args.model, args.requests, args.warmup))
    else:
        runner(throughput(_loopback(args.gateway), args.model, args.concurrency, min(args.seconds, 120.0)))


if __name__ == "__main__":
    main()
