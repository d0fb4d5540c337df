"""Soak: `perf run endurance` at 100 jobs/s for 10 min on the real pipeline, with leak slopes and late/early p99.

Starts private Redis, PostgreSQL (durable defaults) and Apache Kafka (`--kafka tansu` for Tansu) on loopback, one
`llm-provider serve --no-worker` and one `llm-provider worker` (zero-latency mock in performance mode), then runs
the toolkit's endurance scenario (Poisson arrivals, quick/detailed/batch mix) against the API, consuming callbacks
from Kafka. The toolkit samples the API process's RSS and fds, Redis `used_memory` and the outbox backlog; this
script samples the worker process's RSS and fds beside it. Every series gets a Theil-Sen slope with its 95 %
confidence interval (`llm_loadtest.metrics.leak`), and the toolkit reports late/early p99. Not part of CI: it takes
warm-up + duration + at most the drain. Usage:

    .venv/bin/python scripts/soak.py --rate 100 --duration 600 --out perf-results/soak
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from llm_loadtest.metrics.leak import judge
from llm_provider_service.adapters.sql_migrations import upgrade_database
from llm_provider_service.infra import postgres_admin
from llm_provider_service.infra.kafka_broker import (
    BROKER_KINDS,
    consumer_session_timeout_ms,
    make_broker,
    parse_broker_kind,
)
from llm_provider_service.infra.local_server import make_base_dir
from llm_provider_service.infra.postgres_server import PostgresServer
from llm_provider_service.infra.redis_server import RedisServer
from llm_provider_service.infra.service_server import ServiceServer, service_environment

CLI = str(Path(sys.executable).with_name("llm-provider"))
MIB = 1024 * 1024
SAMPLE_SECONDS = 5.0
# The same allowance the toolkit uses for the API process: the target is a slope CI that includes 0 or < 1 MiB/min.
ALLOWED_RSS_MIB_PER_MINUTE = 1.0
ALLOWED_FDS_PER_MINUTE = 1.0


def _sample_worker(pid: int, stop: threading.Event, warmup_seconds: float, into: dict[str, list[float]]) -> None:
    """RSS (MiB) and open fds of the worker every SAMPLE_SECONDS, warm-up left out, until `stop`."""
    process = psutil.Process(pid)
    start = time.monotonic()
    while not stop.wait(SAMPLE_SECONDS):
        elapsed = time.monotonic() - start
        if elapsed < warmup_seconds:
            continue
        try:
            into["seconds"].append(elapsed)
            into["rss_mib"].append(process.memory_info().rss / MIB)
            into["open_fds"].append(float(process.num_fds()))
        except psutil.Error:
            return


def _worker_verdicts(samples: dict[str, list[float]]) -> list[dict[str, Any]]:
    seconds = samples["seconds"]
    return [
        judge("worker_rss_mib", "MiB/min", seconds, samples["rss_mib"], allowed_per_minute=ALLOWED_RSS_MIB_PER_MINUTE)
        .as_dict(),
        judge("worker_open_fds", "fds/min", seconds, samples["open_fds"], allowed_per_minute=ALLOWED_FDS_PER_MINUTE)
        .as_dict(),
    ]  # fmt: skip


def _summary(result_path: Path, worker: list[dict[str, Any]]) -> dict[str, Any]:
    result = json.loads(result_path.read_text())
    steady = result["percentiles"]
    return {
        "verdict": result["verdict"],
        "thresholds": result["thresholds"],
        "scalars": result["scalars"],
        "leaks": result["resources"].get("leaks", []) + worker,
        "accept_latency_steady_ms": steady.get("accept_latency", {}).get("steady", {}).get("ok"),
        "accept_to_callback_steady_ms": steady.get("accept_to_callback", {}).get("steady", {}).get("ok"),
        "completion": result["e2e"].get("completion"),
        "audit": {k: v for k, v in result["e2e"].get("audit", {}).items() if not isinstance(v, list)},
        "fingerprint": result["fingerprint"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=Path("perf-results/soak"))
    parser.add_argument("--keep", action="store_true", help="Keep the service logs and data directory.")
    parser.add_argument("--kafka", type=parse_broker_kind, default="kafka", help=f"one of {', '.join(BROKER_KINDS)}")
    args = parser.parse_args()
    base = make_base_dir("llm-provider-soak-")
    servers = [RedisServer(base / "redis"), PostgresServer(base / "postgres", fast=False), make_broker(args.kafka,
               base / args.kafka)]  # fmt: skip
    processes: list[ServiceServer] = []
    stop_sampling = threading.Event()
    try:
        for server in servers:
            server.start()
        redis_server, postgres_server, broker = servers
        postgres_admin.create_database(postgres_server.url, "soak")
        database_url = postgres_admin.asyncpg_url(postgres_admin.with_database(postgres_server.url, "soak"))
        upgrade_database(database_url)
        settings = {
            "LLM_PROVIDER_REDIS_URL": redis_server.url,
            "LLM_PROVIDER_DATABASE_URL": database_url,
            "LLM_PROVIDER_KAFKA_BOOTSTRAP_SERVERS": broker.url,
            "LLM_PROVIDER_MOCK_PERFORMANCE_MODE": "true",
            "LLM_PROVIDER_LOG_LEVEL": "WARNING",
        }
        for command in (("serve", "--no-worker"), ("worker",)):
            processes.append(ServiceServer(base / "data", *command, settings=settings))
            processes[-1].start()
        api, worker = processes
        if api.pid is None or worker.pid is None:
            raise RuntimeError("a service process exited right after start")
        samples: dict[str, list[float]] = {"seconds": [], "rss_mib": [], "open_fds": []}
        sampler = threading.Thread(
            target=_sample_worker, args=(worker.pid, stop_sampling, args.warmup, samples), daemon=True
        )
        sampler.start()
        perf = [CLI, "perf", "run", "endurance", "--target", api.url, "--rate", f"{args.rate:g}",
                   "--duration", f"{args.duration:g}", "--warmup", f"{args.warmup:g}",
                   "--kafka-bootstrap", broker.url,
                   "--kafka-session-timeout-ms", str(consumer_session_timeout_ms(args.kafka)),
                   "--pid", str(api.pid), "--redis-url", redis_server.url, "--metrics-url", f"{api.url}/metrics",
                   "--threshold", "degradation: late_early_p99<=1.2", "--threshold", "rss_mib: leaking==0",
                   "--drain", "60", "--out", str(args.out)]  # fmt: skip
        env = service_environment(base / "data", settings)
        bound = args.duration + args.warmup + 300
        completed = subprocess.run(perf, env=env, check=False, timeout=bound)  # noqa: S603 - our own CLI
        stop_sampling.set()
        sampler.join(timeout=SAMPLE_SECONDS * 2)
        summary = _summary(args.out / "result.json", _worker_verdicts(samples))
        summary["perf_exit_code"] = completed.returncode
        summary["rate"], summary["duration_seconds"] = args.rate, args.duration
        (args.out / "soak.json").write_text(json.dumps(summary, indent=1))
        sys.stdout.write(json.dumps(summary["leaks"], indent=1) + "\n")
        sys.stdout.write(json.dumps({"scalars": summary["scalars"], "logs": str(base)}, indent=1) + "\n")
    finally:
        stop_sampling.set()
        for process in reversed(processes):
            process.stop(timeout_seconds=30)
        for server in reversed(servers):
            server.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
