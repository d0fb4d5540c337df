"""Gateway overhead and throughput on loopback: `/v1/chat/completions` vs the mock server called directly.

Usage (the service and the mock server already running, see docs/benchmarks-gateway.md):
    python scripts/bench_gateway.py latency --gateway URL --mock URL [--requests 3000] [--repeats 3]
        [--max-load 0.5] [--service-pid PID] [--floor-upstream MOCK_URL --floor-cpu N]
        [--baseline-gateway URL --baseline-pid PID]
    python scripts/bench_gateway.py throughput --gateway URL --model MODEL [--concurrency 64] [--seconds 10]
        [--service-pid PID] [--floor-upstream MOCK_URL [--floor-cpu N] [--repeats 3]
        [--baseline-gateway URL --baseline-pid PID]]

`latency` runs at concurrency 1 and interleaves direct, floor, baseline and gateway calls one for one, so
drift and noise hit all alike; it reports p50/p99 of each and their difference from the direct call (the
added latency), and with the floor each one's added latency over the floor's; with `--repeats N` it waits
before each run for the load average to fall below `--max-load` and reports medians. `--service-pid` (and
`--baseline-pid`) add that process's CPU time per request (Linux), far less sensitive to co-tenants than
latency. `throughput` is a closed loop of N workers for a bounded time; with `--floor-upstream` it runs
the aiohttp pass-through floor (`llm_loadtest.infra.floor`, same upstream, pinned with `--floor-cpu`), an
older build (`--baseline-gateway`, e.g. an export of an earlier commit) and the gateway in turn, and
reports each one's req/s and p99 as ratios to the floor's of the same repeat (TOOLKIT.md §3), p50/p99 and
CPU per request. The slow-upstream case is the same command with a mock server that waits 100 ms
(`LLM_PROVIDER_MOCK_LATENCY_MODEL=fixed LLM_PROVIDER_MOCK_LATENCY_MS=100`) and `--concurrency 256`. Only
loopback targets are accepted; every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
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


Target = tuple[str, str, str, int | None]  # label, base URL, model, pid (for CPU per request) or None


async def _latency_once(
    session: aiohttp.ClientSession, targets: list[Target], requests: int, warmup: int
) -> dict[str, tuple[float, float, float | None]]:
    """One interleaved run (the first target is the direct call); per other target: added p50, p99, CPU/request."""
    samples: dict[str, list[float]] = {label: [] for label, *_ in targets}
    cpu_before: dict[str, float] = {}
    for index in range(warmup + requests):
        if index == warmup:
            cpu_before = {label: _cpu_seconds(pid) for label, _, _, pid in targets if pid is not None}
        # Rotated each round: processes sharing a core finish work after they answer, which would always
        # delay the same next target in a fixed order.
        shift = index % len(targets)
        for label, url, model, _ in targets[shift:] + targets[:shift]:
            elapsed = await _call(session, f"{url}/v1/chat/completions", model)
            if index >= warmup:
                samples[label].append(elapsed)
    direct = samples[targets[0][0]]
    added: dict[str, tuple[float, float, float | None]] = {}
    for label, _, model, pid in targets:
        values = samples[label]
        _say(
            f"  {label + ' (' + model + ')':45s} n={len(values)} p50={_percentile(values, 0.5):.3f} "
            f"p90={_percentile(values, 0.9):.3f} p99={_percentile(values, 0.99):.3f} "
            f"p99.9={_percentile(values, 0.999):.3f} max={max(values):.3f} mean={statistics.fmean(values):.3f} ms"
        )
        if label == targets[0][0]:
            continue
        cpu_us = (_cpu_seconds(pid) - cpu_before[label]) / requests * 1e6 if pid is not None else None
        p50 = _percentile(values, 0.5) - _percentile(direct, 0.5)
        p99 = _percentile(values, 0.99) - _percentile(direct, 0.99)
        cpu = f", {cpu_us:.0f} us CPU/request (background work included)" if cpu_us is not None else ""
        _say(f"  {'  added by ' + label:45s} p50={p50:.3f} ms p99={p99:.3f} ms{cpu}")
        added[label] = (p50, p99, cpu_us)
    return added


async def latency(gateway: str, mock: str, model: str, requests: int, warmup: int, options: argparse.Namespace) -> None:
    targets: list[Target] = [("direct", mock, "mock-comparison-v1", None)]
    process = None
    if options.floor_upstream:
        process, floor = _start_floor(f"{_loopback(options.floor_upstream)}/v1/chat/completions", options.floor_cpu)
        targets.append(("floor", floor, "mock-comparison-v1", process.pid))
    if options.baseline_gateway:
        targets.append(("baseline", _loopback(options.baseline_gateway), model, options.baseline_pid))
    targets.append(("gateway", gateway, model, options.service_pid))
    results: list[dict[str, tuple[float, float, float | None]]] = []
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4)) as session:
            for repeat in range(1, options.repeats + 1):
                load = await _wait_for_quiet(options.max_load, options.max_wait_seconds)
                quiet = "quiet" if load < options.max_load else f"NOT quiet (waited {options.max_wait_seconds:g} s)"
                _say(f"repeat {repeat}/{options.repeats}: load average {load:.2f} ({quiet})")
                results.append(await _latency_once(session, targets, requests, warmup))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
    _say(f"median of {len(results)} repeats:")
    for label in results[0]:
        p50 = statistics.median(run[label][0] for run in results)
        p99 = statistics.median(run[label][1] for run in results)
        cpus = [used for run in results if (used := run[label][2]) is not None]
        vs_floor = ""
        if "floor" in results[0] and label != "floor":
            over = [(run[label][0] - run["floor"][0], run[label][1] - run["floor"][1]) for run in results]
            vs_floor = f"; over the floor's: p50 +{statistics.median(o[0] for o in over):.3f} ms"
            vs_floor += f", p99 +{statistics.median(o[1] for o in over):.3f} ms"
        cpu_text = f", CPU/request {statistics.median(cpus):.0f} us" if cpus else ""
        _say(f"  {label:9s} added p50={p50:.3f} ms p99={p99:.3f} ms{cpu_text}{vs_floor}")


@dataclass(frozen=True, slots=True)
class Closed:
    """One closed-loop run: requests/s, latency percentiles and (with a pid) the server's CPU per request."""

    rate: float
    p50_ms: float
    p99_ms: float
    cpu_us: float | None


async def throughput(gateway: str, model: str, concurrency: int, seconds: float, pid: int | None = None) -> Closed:
    """Closed loop of `concurrency` workers against `gateway` (any base URL) for `seconds`; prints and returns it."""
    url = f"{gateway}/v1/chat/completions"
    samples: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            try:
                samples.append(await _call(session, url, model))
            except (RuntimeError, aiohttp.ClientError):
                errors += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(_call(session, url, model) for _ in range(concurrency)))  # warm connections, route
        cpu_before = _cpu_seconds(pid) if pid is not None else 0.0
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(worker(session))
        elapsed = time.perf_counter() - started
        cpu_us = (_cpu_seconds(pid) - cpu_before) / max(len(samples), 1) * 1e6 if pid is not None else None
    result = Closed(len(samples) / elapsed, _percentile(samples, 0.5), _percentile(samples, 0.99), cpu_us)
    cpu = f", {cpu_us:.0f} us CPU/request" if cpu_us is not None else ""
    _say(
        f"  {gateway} ({model}) c={concurrency}: {result.rate:.0f} req/s, p50 {result.p50_ms:.2f} ms, "
        f"p99 {result.p99_ms:.2f} ms ({len(samples)} ok, {errors} errors{cpu})"
    )
    return result


def _start_floor(upstream: str, cpu: int | None, *, asgi: bool = False) -> tuple[subprocess.Popen[str], str]:
    """The aiohttp pass-through floor (`llm_loadtest.infra.floor --upstream`, `--asgi`: under uvicorn), pinned."""
    command = [sys.executable, "-m", "llm_loadtest.infra.floor", "--upstream", upstream, *(["--asgi"] if asgi else [])]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603 - our interpreter, module
    if cpu is not None:
        os.sched_setaffinity(process.pid, {cpu})
    line = process.stdout.readline() if process.stdout is not None else ""
    if not line.startswith("port "):
        process.kill()
        sys.exit(f"the floor did not start: {line!r}")
    return process, f"http://127.0.0.1:{int(line.split()[1])}"


def _targets(options: argparse.Namespace, floor: str, floor_pid: int) -> list[tuple[str, str, str, int | None]]:
    """(label, base URL, model, pid) of the floor, the ASGI floor, the baseline gateway (if given) and the gateway."""
    targets: list[tuple[str, str, str, int | None]] = [("floor", floor, options.floor_model, floor_pid)]
    if options.asgi_floor is not None:
        process, url = options.asgi_floor
        targets.append(("asgi-floor", url, options.floor_model, process.pid))
    if options.baseline_gateway:
        targets.append(("baseline", _loopback(options.baseline_gateway), options.model, options.baseline_pid))
    targets.append(("gateway", _loopback(options.gateway), options.model, options.service_pid))
    return targets


def _summary(label: str, runs: list[Closed], floors: list[Closed]) -> None:
    ratio = statistics.median(run.rate / max(floor.rate, 1e-9) for run, floor in zip(runs, floors, strict=True))
    p99 = statistics.median(run.p99_ms / max(floor.p99_ms, 1e-9) for run, floor in zip(runs, floors, strict=True))
    cpus = [run.cpu_us for run in runs if run.cpu_us is not None]
    cpu = f", CPU/request {statistics.median(cpus):.0f} us" if cpus else ""
    _say(
        f"  {label:9s} {statistics.median(run.rate for run in runs):7.0f} req/s  / floor = {ratio:.2f}  "
        f"p99 / floor p99 = {p99:.2f}  (p50 {statistics.median(run.p50_ms for run in runs):.2f} ms, "
        f"p99 {statistics.median(run.p99_ms for run in runs):.2f} ms{cpu})"
    )


async def versus_floor(options: argparse.Namespace) -> None:
    """Floor, baseline and gateway in turn, same closed loop and upstream, `repeats` times: ratios of one run."""
    upstream = f"{_loopback(options.floor_upstream)}/v1/chat/completions"
    process, floor = _start_floor(upstream, options.floor_cpu)
    options.asgi_floor = _start_floor(upstream, options.floor_cpu, asgi=True) if options.with_asgi_floor else None
    try:
        targets = _targets(options, floor, process.pid)
        runs: dict[str, list[Closed]] = {label: [] for label, *_ in targets}
        for repeat in range(1, options.repeats + 1):
            _say(f"repeat {repeat}/{options.repeats}: load average {os.getloadavg()[0]:.2f}")
            for label, url, model, pid in targets:
                runs[label].append(await throughput(url, model, options.concurrency, options.seconds, pid))
        _say(f"median of {options.repeats} repeats (ratios taken per repeat):")
        for label, results in runs.items():
            _summary(label, results, runs["floor"])
    finally:
        for started in (process, *([options.asgi_floor[0]] if options.asgi_floor else [])):
            started.terminate()
            started.wait(timeout=10)


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
    lat.add_argument("--floor-upstream", help="also time the aiohttp pass-through floor to this upstream (the mock)")
    lat.add_argument("--floor-cpu", type=int, default=None, help="pin the floor to this CPU (the gateway's)")
    lat.add_argument("--baseline-gateway", help="also time an older build of the gateway, interleaved")
    lat.add_argument("--baseline-pid", type=int, default=None, help="report the baseline's CPU time per request")
    thr = sub.add_parser("throughput")
    thr.add_argument("--gateway", required=True)
    thr.add_argument("--model", default="mock/mock-comparison-v1")
    thr.add_argument("--concurrency", type=int, default=64)
    thr.add_argument("--seconds", type=float, default=10.0)
    thr.add_argument("--floor-upstream", help="also run the aiohttp pass-through floor to this upstream (the mock)")
    thr.add_argument("--floor-model", default="mock-comparison-v1", help="model name the upstream itself knows")
    thr.add_argument("--floor-cpu", type=int, default=None, help="pin the floor to this CPU (pin the gateway alike)")
    thr.add_argument("--repeats", type=int, default=3, help="with --floor-upstream: alternating runs, median ratio")
    thr.add_argument("--service-pid", type=int, default=None, help="report the gateway's CPU time per request")
    thr.add_argument("--baseline-gateway", help="with --floor-upstream: an older build, run in turn with the others")
    thr.add_argument("--baseline-pid", type=int, default=None, help="report the baseline's CPU time per request")
    thr.add_argument("--with-asgi-floor", action="store_true", help="also the same floor as raw ASGI under uvicorn")
    args = parser.parse_args()
    runner = uvloop.run  # the generator must not be the bottleneck
    if args.command == "latency":
        runner(latency(_loopback(args.gateway), _loopback(args.mock), args.model, args.requests, args.warmup, args))
    elif args.floor_upstream:
        args.seconds = min(args.seconds, 120.0)
        runner(versus_floor(args))
    else:
        runner(
            throughput(
                _loopback(args.gateway), args.model, args.concurrency, min(args.seconds, 120.0), args.service_pid
            )
        )


if __name__ == "__main__":
    main()
