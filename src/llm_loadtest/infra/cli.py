"""`perf infra`: Redis queue, Kafka produce and PostgreSQL insert micro-benchmarks beside native tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from llm_loadtest.infra.common import BenchResult
from llm_loadtest.infra.kafka_bench import bench_kafka
from llm_loadtest.infra.postgres_bench import bench_postgres, plain_dsn
from llm_loadtest.infra.redis_bench import bench_redis
from llm_loadtest.load import loop
from llm_loadtest.load.targets import TargetError, check
from llm_loadtest.metrics.fingerprint import fingerprint
from llm_loadtest.metrics.result import ExitCode
from llm_loadtest.reports.presentation import make_console

_console = make_console()


async def _all(
    redis_url: str | None, kafka: str | None, postgres_url: str | None, *, jobs: int, seconds: float
) -> list[BenchResult]:
    results: list[BenchResult] = []
    if redis_url:
        results += await bench_redis(redis_url, jobs=jobs, max_seconds=seconds)
    if kafka:
        results += await bench_kafka(kafka, messages=jobs * 10, max_seconds=seconds)
    if postgres_url:
        results += await bench_postgres(postgres_url, rows=jobs, connections=4, max_seconds=seconds)
    return results


def _check_loopback(redis_url: str | None, kafka: str | None, postgres_url: str | None, allow_remote: bool) -> None:
    if redis_url:
        check(redis_url.replace("redis://", "http://", 1), allow_remote=allow_remote)
    if kafka:
        for server in kafka.split(","):
            check(f"http://{server}", allow_remote=allow_remote)
    if postgres_url:
        check(plain_dsn(postgres_url).replace("postgresql://", "http://", 1), allow_remote=allow_remote)


def infra(
    redis_url: Annotated[str | None, typer.Option(help="redis://127.0.0.1:PORT/DB")] = None,
    kafka_bootstrap: Annotated[str | None, typer.Option(help="127.0.0.1:PORT")] = None,
    postgres_url: Annotated[str | None, typer.Option(help="postgresql://user@127.0.0.1:PORT/db")] = None,
    jobs: Annotated[int, typer.Option(help="Jobs / rows per benchmark (Kafka: 10x messages).")] = 5000,
    seconds: Annotated[float, typer.Option(help="Upper bound per benchmark, seconds.")] = 5.0,
    out: Annotated[Path, typer.Option("--out", help="Directory for infra.json.")] = Path("perf-results"),
    allow_remote: Annotated[bool, typer.Option(help="Allow non-loopback servers.")] = False,
) -> None:
    """Micro-benchmarks with the native tool (redis-benchmark, pgbench) in the same run, reported as ratios."""
    if not (redis_url or kafka_bootstrap or postgres_url):
        _console.print("[magenta]harness error:[/] give at least one of --redis-url, --kafka-bootstrap, --postgres-url")
        raise typer.Exit(int(ExitCode.HARNESS_ERROR))
    try:
        _check_loopback(redis_url, kafka_bootstrap, postgres_url, allow_remote)
        results = loop.run(_all(redis_url, kafka_bootstrap, postgres_url, jobs=jobs, seconds=seconds))
    except (TargetError, OSError) as exc:
        _console.print(f"[magenta]harness error:[/] {exc}")
        raise typer.Exit(int(ExitCode.HARNESS_ERROR)) from exc
    table = Table(title="Infrastructure micro-benchmarks", title_justify="left")
    for column in ("benchmark", "ops", "seconds", "per second", "native tool", "native /s", "ratio", "note"):
        table.add_column(column)
    for r in results:
        ratio = "-" if r.ratio_to_native is None else f"{r.ratio_to_native:.3f}"
        native = "-" if r.native_per_second is None else f"{r.native_per_second:,.0f}"
        table.add_row(r.name, str(r.operations), f"{r.seconds:.2f}", f"{r.per_second:,.0f} {r.unit}/s",
                      r.native_tool or "-", native, ratio, r.note)  # fmt: skip
    _console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    document = {"kind": "llm_loadtest.infra", "schema_version": 1, "fingerprint": fingerprint(),
                "results": [r.as_dict() for r in results]}  # fmt: skip
    (out / "infra.json").write_text(json.dumps(document, indent=1), encoding="utf-8")
    _console.print(f"Wrote {out / 'infra.json'}")
