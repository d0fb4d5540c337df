"""Gateway overhead and throughput on loopback: `/v1/chat/completions` vs the mock server called directly.

Usage (the service and the mock server already running, see docs/benchmarks-gateway.md):
    python scripts/bench_gateway.py latency --gateway URL --mock URL [--requests 3000] [--repeats 3]
        [--max-load 0.5] [--service-pid PID]
    python scripts/bench_gateway.py throughput --gateway URL --model MODEL [--concurrency 64] [--seconds 10]
        [--floor-upstream MOCK_URL [--floor-cpu N] [--repeats 3]]

`latency` runs at concurrency 1 and interleaves direct and gateway calls one for one, so drift and noise
hit both alike; it reports p50/p99 of each and their difference (the added latency); with `--repeats N` it
waits before each run for the load average to fall below `--max-load` and reports the median of the
runs' added p50/p99. `--service-pid` adds the service's CPU time per request (Linux). `throughput` is a
closed loop of N workers for a bounded time; with `--floor-upstream` it alternates with the aiohttp
pass-through floor (`llm_loadtest.infra.floor`, same upstream, pinned with `--floor-cpu`) and reports
gateway / floor, the ratio TOOLKIT.md §3 gates, taken in one run. Only loopback targets are accepted; every
loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to report the service's CPU cost per request."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _wait_for_quiet(max_load: float, max_wait_seconds: float) -> float:
    """Wait (bounded) until the 1-minute load average is below `max_load`; returns the load seen."""
    deadline = time.monotonic() + max_wait_seconds
    load = os.getloadavg()[0]
    while load >= max_load and time.monotonic() < deadline:
        await asyncio.sleep(5.0)
        load = os.getloadavg()[0]
    return load


async def _latency_once(
    session: aiohttp.ClientSession, urls: tuple[str, str], model: str, requests: int, warmup: int, pid: int | None
) -> tuple[float, float]:
    """One interleaved run; prints its percentiles and returns the added (p50, p99) in ms."""
    direct_url, gateway_url = urls
    direct: list[float] = []
    through: list[float] = []
    cpu_before = 0.0
    for index in range(warmup + requests):
        if index == warmup and pid is not None:
            cpu_before = _cpu_seconds(pid)
        d = await _call(session, direct_url, "mock-comparison-v1")
        g = await _call(session, gateway_url, model)
        if index >= warmup:
            direct.append(d)
            through.append(g)
    for name, values in (("direct mock server", direct), (f"gateway ({model})", through)):
        _say(
            f"  {name:45s} n={len(values)} p50={_percentile(values, 0.5):.3f} p90={_percentile(values, 0.9):.3f} "
            f"p99={_percentile(values, 0.99):.3f} p99.9={_percentile(values, 0.999):.3f} "
            f"max={max(values):.3f} mean={statistics.fmean(values):.3f} ms"
        )
    if pid is not None:
        cpu_us = (_cpu_seconds(pid) - cpu_before) / requests * 1e6
        _say(f"  {'service CPU per gateway request':45s} {cpu_us:.0f} us (its background work included)")
    added = (
        _percentile(through, 0.5) - _percentile(direct, 0.5),
        _percentile(through, 0.99) - _percentile(direct, 0.99),
    )
    _say(f"  {'added by the gateway':45s} p50={added[0]:.3f} ms p99={added[1]:.3f} ms")
    return added


async def latency(gateway: str, mock: str, model: str, requests: int, warmup: int, options: argparse.Namespace) -> None:
    urls = (f"{mock}/v1/chat/completions", f"{gateway}/v1/chat/completions")
    results: list[tuple[float, float]] = []
    connector = aiohttp.TCPConnector(limit=4)
    async with aiohttp.ClientSession(connector=connector) as session:
        for repeat in range(1, options.repeats + 1):
            load = await _wait_for_quiet(options.max_load, options.max_wait_seconds)
            quiet = "quiet" if load < options.max_load else f"NOT quiet (waited {options.max_wait_seconds:g} s)"
            _say(f"repeat {repeat}/{options.repeats}: load average {load:.2f} ({quiet})")
            results.append(await _latency_once(session, urls, model, requests, warmup, options.service_pid))
    if len(results) > 1:
        p50 = statistics.median(added[0] for added in results)
        p99 = statistics.median(added[1] for added in results)
        _say(f"median of {len(results)} repeats: added p50={p50:.3f} ms p99={p99:.3f} ms")


async def throughput(gateway: str, model: str, concurrency: int, seconds: float) -> float:
    """Closed loop of `concurrency` workers against `gateway` (any base URL) for `seconds`; prints and returns req/s."""
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
    _say(f"{gateway} ({model}) concurrency={concurrency}: {done / elapsed:.0f} req/s ({done} ok, {errors} errors)")
    return done / elapsed


def _start_floor(upstream: str, cpu: int | None) -> tuple[subprocess.Popen[str], str]:
    """The aiohttp pass-through floor (`llm_loadtest.infra.floor --upstream`), pinned like the gateway."""
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "llm_loadtest.infra.floor", "--upstream", upstream], stdout=subprocess.PIPE, text=True
    )
    if cpu is not None:
        os.sched_setaffinity(process.pid, {cpu})
    line = process.stdout.readline() if process.stdout is not None else ""
    if not line.startswith("port "):
        process.kill()
        sys.exit(f"the floor did not start: {line!r}")
    return process, f"http://127.0.0.1:{int(line.split()[1])}"


async def versus_floor(options: argparse.Namespace) -> None:
    """Gateway and floor alternately, same closed loop and upstream, `repeats` times: the ratio of one run."""
    process, floor = _start_floor(f"{_loopback(options.floor_upstream)}/v1/chat/completions", options.floor_cpu)
    try:
        ratios = []
        for repeat in range(1, options.repeats + 1):
            _say(f"repeat {repeat}/{options.repeats}")
            floor_rate = await throughput(floor, options.floor_model, options.concurrency, options.seconds)
            gateway_rate = await throughput(_loopback(options.gateway), options.model, options.concurrency,
                                            options.seconds)  # fmt: skip
            ratios.append(gateway_rate / max(floor_rate, 1e-9))
            _say(f"  gateway / floor = {ratios[-1]:.2f}")
        _say(f"median of {len(ratios)} repeats: gateway / floor = {statistics.median(ratios):.2f}")
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lat = sub.add_parser("latency")
    lat.add_argument("--gateway", required=True)
    lat.add_argument("--mock", required=True)
    lat.add_argument("--model", default="openai_compatible/mock-comparison-v1")
    lat.add_argument("--requests", type=int, default=3000)
    lat.add_argument("--warmup", type=int, default=200)
    lat.add_argument("--service-pid", type=int, default=None, help="report the service's CPU time per request")
    lat.add_argument("--repeats", type=int, default=1, help="runs; the median of their added p50/p99 is reported")
    lat.add_argument("--max-load", type=float, default=0.5, help="wait before each run for a lower load average")
    lat.add_argument("--max-wait-seconds", type=float, default=300.0, help="bound on that wait")
    thr = sub.add_parser("throughput")
    thr.add_argument("--gateway", required=True)
    thr.add_argument("--model", default="mock/mock-comparison-v1")
    thr.add_argument("--concurrency", type=int, default=64)
    thr.add_argument("--seconds", type=float, default=10.0)
    thr.add_argument("--floor-upstream", help="also run the aiohttp pass-through floor to this upstream (the mock)")
    thr.add_argument("--floor-model", default="mock-comparison-v1", help="model name the upstream itself knows")
    thr.add_argument("--floor-cpu", type=int, default=None, help="pin the floor to this CPU (pin the gateway alike)")
    thr.add_argument("--repeats", type=int, default=3, help="with --floor-upstream: alternating runs, median ratio")
    args = parser.parse_args()
    runner = uvloop.run  # the generator must not be the bottleneck
    if args.command == "latency":
        runner(latency(_loopback(args.gateway), _loopback(args.mock), args.model, args.requests, args.warmup, args))
    elif args.floor_upstream:
        args.seconds = min(args.seconds, 120.0)
        runner(versus_floor(args))
    else:
        runner(throughput(_loopback(args.gateway), args.model, args.concurrency, min(args.seconds, 120.0)))


if __name__ == "__main__":
    main()
