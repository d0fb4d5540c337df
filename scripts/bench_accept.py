"""Accept-path benchmark: `POST /api/v1/comparison` req/s, p99 and CPU per accept, for 1 and 2 API processes.

Starts private Redis and PostgreSQL (durable defaults: fsync on, synchronous_commit on, unless
`--postgres-setting`) on loopback, then for each `--processes` value one `llm-provider serve --no-worker
--processes N` on them, and offers each `--rates` value open loop with vegeta (`scripts/install-load-tools.sh
vegeta`; light on CPU, so the two cores go to the service). With `--embedded` it also offers `--embedded-rate` to
an embedded `serve` (SQLite, in-process queue and worker). `--startups N` times N starts of an embedded `serve` to
a 200 from `/readyz` (a fresh data directory, then a restart on it). `--rss-jobs N` runs N jobs through `serve
--no-worker` + `worker` on Redis and PostgreSQL and reports both processes' resident memory and CPU per job once
they are done. `--before DIR` runs every configuration a second time, interleaved, from the source tree DIR/src
(e.g. an export made by `git archive <commit> | tar -x -C DIR`). CPU per accept is the service processes'
user+system time (`/proc`, children of the supervisor included) over the accepted requests; PostgreSQL and Redis
CPU are reported beside it. Bounded: every attack lasts `--duration` seconds; loopback only. Usage:

    .venv/bin/python scripts/bench_accept.py --processes 1,2 --rates 500,1000 --duration 10 [--embedded]
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # no stubs; only the scripts use it directly
import orjson

from llm_loadtest.load.payloads import PayloadFactory
from llm_provider_service.adapters.sql_migrations import upgrade_database
from llm_provider_service.infra import postgres_admin
from llm_provider_service.infra.local_server import free_port, make_base_dir
from llm_provider_service.infra.postgres_server import PostgresServer
from llm_provider_service.infra.redis_server import RedisServer
from llm_provider_service.infra.service_server import ServiceServer, llm_provider_command, service_environment

TOOLS = Path(os.environ.get("LLM_PROVIDER_TOOLS_DIR", Path.home() / ".cache/llm-provider/tools")) / "bin"
MAX_DURATION_SECONDS = 120.0
MAX_DRAIN_SECONDS = 120.0
READY_TIMEOUT_SECONDS = 30.0
WARMUP_REQUESTS_PER_SECOND = 100


def _proc_stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def _tree_cpu_seconds(root: int) -> float:
    """User + system CPU of `root` and every live descendant (PostgreSQL backends, `--processes` children)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _proc_stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
            ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    total, frontier = 0, [root]
    while frontier:
        pid = frontier.pop()
        total += ticks.get(pid, 0)
        frontier.extend(child for child, parent in parents.items() if parent == pid)
    return total / os.sysconf("SC_CLK_TCK")


def _rss_mib(root: int) -> list[float]:
    """VmRSS of the serving processes: `root` itself, or its children when it is a `--processes` supervisor."""
    children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and (_proc_stat(int(p.name)) or
                ["", "0"])[1] == str(root)]  # fmt: skip
    return [
        int(line.split()[1]) / 1024
        for pid in children or [root]
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    ]


def _attack(url: str, body: Path, rate: float, duration: float) -> dict[str, object]:
    vegeta = str(TOOLS / "vegeta")
    target = f"POST {url}/api/v1/comparison\nContent-Type: application/json\n@{body}\n"
    attack = subprocess.run(  # noqa: S603 - a pinned tool, loopback target
        [vegeta, "attack", f"-rate={rate:g}/s", f"-duration={duration:g}s", "-timeout=10s", "-keepalive=true"],
        input=target.encode(), capture_output=True, check=True, timeout=duration + 60,
    )  # fmt: skip
    report = subprocess.run(  # noqa: S603
        [vegeta, "report", "-type=json"], input=attack.stdout, capture_output=True, check=True, timeout=60
    )
    parsed: dict[str, object] = json.loads(report.stdout)
    return parsed


def _measure(label: str, service: ServiceServer, pg_redis: list[int], body: Path, rate: float, duration: float,
             ) -> dict[str, object]:  # fmt: skip
    assert service.pid is not None  # noqa: S101 - started by the caller
    _attack(service.url, body, WARMUP_REQUESTS_PER_SECOND, 2)  # connections, caches, JIT-free warm-up
    cpu_before = _tree_cpu_seconds(service.pid)
    infra_before = sum(_tree_cpu_seconds(pid) for pid in pg_redis)
    started = time.monotonic()
    report = _attack(service.url, body, rate, duration)
    wall = time.monotonic() - started
    cpu = _tree_cpu_seconds(service.pid) - cpu_before
    infra = sum(_tree_cpu_seconds(pid) for pid in pg_redis) - infra_before
    codes: Mapping[str, int] = report.get("status_codes") or {}  # type: ignore[assignment]
    accepted = int(codes.get("202", 0))
    latencies: Mapping[str, float] = report["latencies"]  # type: ignore[assignment]
    row = {
        "config": label, "offered_per_s": rate, "accepted_per_s": round(accepted / duration, 1),
        "p50_ms": round(latencies["50th"] / 1e6, 2), "p99_ms": round(latencies["99th"] / 1e6, 2),
        "max_ms": round(latencies["max"] / 1e6, 1), "status_codes": dict(codes),
        "service_cpu_us_per_accept": round(1e6 * cpu / max(accepted, 1)),
        "pg_redis_cpu_us_per_accept": round(1e6 * infra / max(accepted, 1)) if pg_redis else None,
        "rss_mib": [round(size, 1) for size in _rss_mib(service.pid)], "wall_s": round(wall, 1),
        "load_average": os.getloadavg()[0],
    }  # fmt: skip
    sys.stdout.write(json.dumps(row) + "\n")
    sys.stdout.flush()
    return row


def _body(directory: Path) -> Path:
    payload = PayloadFactory(seed=1, run_id=uuid.uuid4().hex[:8]).comparison("comparison", callback_topic=None)
    path = directory / "body.json"
    path.write_bytes(orjson.dumps(payload))
    return path


def _accept_runs(args: argparse.Namespace, trees: list[tuple[str, str | None]], base: Path, urls: list[str],
                 body: Path, infra_pids: list[int], duration: float) -> None:  # fmt: skip
    """Every (processes, rate) pair on Redis + PostgreSQL, each tree on a fresh database of its own."""
    redis_url, server_url = urls
    for processes in [int(value) for value in args.processes.split(",") if value]:
        for rate in [float(value) for value in args.rates.split(",")]:
            for tree, path in trees:
                database = f"bench_{tree}_{processes}_{int(rate)}"
                postgres_admin.create_database(server_url, database)
                url = postgres_admin.asyncpg_url(postgres_admin.with_database(server_url, database))
                upgrade_database(url)
                settings = {
                    "LLM_PROVIDER_REDIS_URL": redis_url, "LLM_PROVIDER_DATABASE_URL": url,
                    "LLM_PROVIDER_REDIS_NAMESPACE": database, "LLM_PROVIDER_LOG_LEVEL": "WARNING",
                }  # fmt: skip
                _run(f"{tree} pg+redis x{processes}", base, path, settings, infra_pids, body, rate, duration,
                     "--no-worker", "--processes", str(processes))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--rates", default="500,1000")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--embedded", action="store_true", help="also an embedded serve (SQLite, with worker)")
    parser.add_argument("--embedded-rate", type=float, default=200.0)
    parser.add_argument("--startups", type=int, default=0, help="time this many starts to /readyz")
    parser.add_argument("--rss-jobs", type=int, default=0, help="jobs through serve + worker, then their RSS")
    parser.add_argument("--postgres-setting", action="append", default=[], help="NAME=VALUE (reloadable only)")
    parser.add_argument("--before", type=Path, help="a source export to measure interleaved (its src/ is used)")
    args = parser.parse_args()
    duration = min(args.duration, MAX_DURATION_SECONDS)
    if not (TOOLS / "vegeta").is_file():
        sys.stderr.write("vegeta not found: run scripts/install-load-tools.sh vegeta\n")
        return 3
    trees = [("after", None), *([("before", str(args.before.resolve() / "src"))] if args.before else [])]
    base = make_base_dir("llm-provider-bench-accept-")
    for _tree, path in trees if args.startups > 0 else []:
        # Bytecode first, as an installed package has it: under PYTHONDONTWRITEBYTECODE each start would compile.
        compileall.compile_dir(path or str(Path(__file__).resolve().parents[1] / "src"), quiet=1)
    for _ in range(min(args.startups, 20)):
        for tree, path in trees:
            _startup(tree, base, path)
    servers = [RedisServer(base / "redis"), PostgresServer(base / "postgres", fast=False)]
    try:
        for server in servers:
            server.start()
        redis_server, postgres_server = servers
        postgres_admin.apply_reloadable_settings(postgres_server.url, args.postgres_setting)
        body = _body(base)
        infra_pids = [pid for pid in (server.pid for server in servers) if pid is not None]
        _accept_runs(args, trees, base, [redis_server.url, postgres_server.url], body, infra_pids, duration)
        for tree, path in trees if args.rss_jobs > 0 else []:
            _rss_after_jobs(tree, base, path, redis_server.url, postgres_server.url, body, min(args.rss_jobs, 100_000))
        if args.embedded:
            for tree, path in trees:
                settings = {"LLM_PROVIDER_MOCK_PERFORMANCE_MODE": "true", "LLM_PROVIDER_LOG_LEVEL": "WARNING"}
                _run(f"{tree} embedded", base, path, settings, [], body, args.embedded_rate, duration)
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


def _ready_seconds(data: Path, source: str | None) -> tuple[float, float, float]:
    """Seconds from spawning an embedded `serve` to its first 200 from /readyz, its CPU seconds and RSS then."""
    port = free_port()
    env = service_environment(data, {"LLM_PROVIDER_LOG_LEVEL": "WARNING"})
    if source is not None:
        env["PYTHONPATH"] = source
    started = time.monotonic()
    command = [*llm_provider_command(), "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)  # noqa: S603 - our own console script
    try:
        while time.monotonic() - started < READY_TIMEOUT_SECONDS:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.01)
        ready = time.monotonic() - started
        return ready, _tree_cpu_seconds(process.pid), _rss_mib(process.pid)[0]
    finally:
        process.terminate()
        process.wait(timeout=30)


def _startup(tree: str, base: Path, source: str | None) -> None:
    data = Path(tempfile.mkdtemp(dir=base, prefix="start-"))
    fresh, fresh_cpu, fresh_rss = _ready_seconds(data, source)
    again, again_cpu, again_rss = _ready_seconds(data, source)
    row = {"config": f"{tree} start-up", "fresh_ready_s": round(fresh, 3), "restart_ready_s": round(again, 3),
           "cpu_s": [round(fresh_cpu, 2), round(again_cpu, 2)], "rss_mib": [round(fresh_rss, 1), round(again_rss, 1)],
           "load_average": os.getloadavg()[0]}  # fmt: skip
    sys.stdout.write(json.dumps(row) + "\n")
    sys.stdout.flush()


def _completed(libpq: str) -> int:
    async def count() -> int:
        connection = await asyncpg.connect(libpq)
        try:
            return int(await connection.fetchval("SELECT count(*) FROM jobs WHERE status = 'completed'"))
        finally:
            await connection.close()

    return asyncio.run(count())


def _rss_after_jobs(tree: str, base: Path, source: str | None, redis_url: str, server_url: str, body: Path,
                    jobs: int) -> None:  # fmt: skip
    """`jobs` jobs through one API and one worker process; then the RSS of each."""
    database = f"rss_{tree}"
    postgres_admin.create_database(server_url, database)
    url = postgres_admin.asyncpg_url(postgres_admin.with_database(server_url, database))
    upgrade_database(url)
    settings = {
        "LLM_PROVIDER_REDIS_URL": redis_url, "LLM_PROVIDER_DATABASE_URL": url, "LLM_PROVIDER_REDIS_NAMESPACE": database,
        "LLM_PROVIDER_MOCK_PERFORMANCE_MODE": "true", "LLM_PROVIDER_LOG_LEVEL": "WARNING",
    }  # fmt: skip
    data = Path(tempfile.mkdtemp(dir=base, prefix="data-"))
    processes = [ServiceServer(data, "serve", "--no-worker", settings=settings), ServiceServer(data, "worker",
                 settings=settings)]  # fmt: skip
    with _source_tree(source):
        try:
            for process in processes:
                process.start()
            rate = 200
            cpu_before = [_tree_cpu_seconds(process.pid or 0) for process in processes]
            started = time.monotonic()
            _attack(processes[0].url, body, rate, jobs / rate)
            deadline = time.monotonic() + MAX_DRAIN_SECONDS
            while _completed(postgres_admin.libpq_url(postgres_admin.with_database(server_url, database))) < jobs:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            wall = time.monotonic() - started
            row = {"config": f"{tree} serve + worker, {jobs} jobs at {rate}/s", "drained_s": round(wall, 1)}
            for process, before in zip(processes, cpu_before, strict=True):
                cpu_us = 1e6 * (_tree_cpu_seconds(process.pid or 0) - before) / jobs
                row[process.args[0]] = {"rss_mib": _rss_mib(process.pid or 0), "cpu_us_per_job": round(cpu_us)}
            sys.stdout.write(json.dumps(row) + "\n")
        finally:
            for process in reversed(processes):
                process.stop(timeout_seconds=30)


def _run(label: str, base: Path, source: str | None, settings: dict[str, str], infra_pids: list[int], body: Path,
         rate: float, duration: float, *serve_args: str) -> None:  # fmt: skip
    data = Path(tempfile.mkdtemp(dir=base, prefix="data-"))
    service = ServiceServer(data, "serve", *serve_args, settings=settings)
    with _source_tree(source):
        try:
            service.start()
            _measure(label, service, infra_pids, body, rate, duration)
        finally:
            service.stop(timeout_seconds=30)


@contextmanager
def _source_tree(source: str | None) -> Iterator[None]:
    """Children started meanwhile (and their `--processes` children) import the package from `source`."""
    previous = os.environ.get("PYTHONPATH")
    if source is not None:
        os.environ["PYTHONPATH"] = source
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous


if __name__ == "__main__":
    raise SystemExit(main())
