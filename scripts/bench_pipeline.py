"""Pipeline benchmark: accept latency and accept->callback latency at fixed open-loop rates, all co-located.

Starts private Redis, PostgreSQL (durable defaults: fsync on, synchronous_commit on) and Apache Kafka (`--kafka tansu`
for Tansu) on loopback, one
`llm-provider serve --no-worker` and one `llm-provider worker` (zero-latency mock in performance mode), then runs
`llm-provider perf run load` once per rate, consuming callbacks from Kafka. Bounded: each run lasts
warm-up + duration seconds plus at most the drain time. Usage:

    .venv/bin/python scripts/bench_pipeline.py --rates 100,300 --duration 20 --out perf-results/pipeline
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,300")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=Path("perf-results/pipeline"))
    parser.add_argument("--postgres-setting", action="append", default=[], help="NAME=VALUE (reloadable only)")
    parser.add_argument("--keep", action="store_true", help="Keep the service logs and data directory.")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        help="LLM_PROVIDER_NAME=VALUE for both service processes, e.g. LLM_PROVIDER_WORKER_CONCURRENCY=256",
    )
    parser.add_argument("--kafka", type=parse_broker_kind, default="kafka", help=f"one of {', '.join(BROKER_KINDS)}")
    args = parser.parse_args()
    base = make_base_dir("llm-provider-bench-")
    postgres = PostgresServer(base / "postgres", fast=False)
    servers = [RedisServer(base / "redis"), postgres, make_broker(args.kafka, base / args.kafka)]
    processes: list[ServiceServer] = []
    try:
        for server in servers:
            server.start()
        redis_server, postgres_server, broker = servers
        postgres_admin.apply_reloadable_settings(postgres_server.url, args.postgres_setting)
        postgres_admin.create_database(postgres_server.url, "bench")
        database_url = postgres_admin.asyncpg_url(postgres_admin.with_database(postgres_server.url, "bench"))
        upgrade_database(database_url)
        settings = {
            "LLM_PROVIDER_REDIS_URL": redis_server.url,
            "LLM_PROVIDER_DATABASE_URL": database_url,
            "LLM_PROVIDER_KAFKA_BOOTSTRAP_SERVERS": broker.url,
            "LLM_PROVIDER_MOCK_PERFORMANCE_MODE": "true",
            "LLM_PROVIDER_LOG_LEVEL": "WARNING",
            **dict(setting.split("=", 1) for setting in args.setting),
        }
        for role in (("serve", "--no-worker"), ("worker",)):
            processes.append(ServiceServer(base / "data", *role, settings=settings))
            processes[-1].start()  # returns once it answers (/readyz, or the worker's metrics port)
        api_url = processes[0].url
        env = service_environment(base / "data", settings)
        summary: dict[str, object] = {}
        for rate in [float(value) for value in args.rates.split(",")]:
            out = args.out / f"rate-{rate:g}"
            command = [CLI, "perf", "run", "load", "--target", api_url, "--rate", f"{rate:g}",
                       "--duration", f"{args.duration:g}", "--warmup", f"{args.warmup:g}", "--mix", "quick=1",
                       "--kafka-bootstrap", broker.url,
                       "--kafka-session-timeout-ms", str(consumer_session_timeout_ms(args.kafka)),
                       "--drain", "20", "--out", str(out)]  # fmt: skip
            subprocess.run(command, env=env, check=False, timeout=args.duration + args.warmup + 120)  # noqa: S603
            summary[f"{rate:g}"] = str(out / "summary.md")
        postgres_settings = " ".join(args.postgres_setting) or "defaults (fsync=on, synchronous_commit=on)"
        service_settings = " ".join(args.setting) or "defaults"
        sys.stdout.write(
            json.dumps({"postgres": postgres_settings, "service": service_settings, "logs": str(base), **summary})
            + "\n"
        )
    finally:
        for process in reversed(processes):
            process.stop(timeout_seconds=30)
        for server in reversed(servers):
            server.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
