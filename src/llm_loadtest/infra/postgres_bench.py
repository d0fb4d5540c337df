"""PostgreSQL insert micro-benchmark with asyncpg, beside pgbench running a custom insert script."""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information

from llm_loadtest.infra.common import BenchResult, NativeToolError, run_tool

_TPS = re.compile(r"tps = ([0-9.]+) \(without initial connection time\)")


def plain_dsn(url: str) -> str:
    """SQLAlchemy-style `postgresql+asyncpg://` -> libpq/asyncpg `postgresql://`."""
    return re.sub(r"^postgres(?:ql)?(?:\+\w+)?://", "postgresql://", url)


async def _insert_rows(pool: asyncpg.Pool, table: str, *, connections: int, rows: int, max_seconds: float) -> int:
    done = 0
    deadline = time.perf_counter() + max_seconds

    async def writer(count: int) -> None:
        nonlocal done
        async with pool.acquire() as connection:
            statement = await connection.prepare(f"INSERT INTO {table} (payload) VALUES ($1)")  # noqa: S608 - our table
            for index in range(count):
                await statement.fetchval(f"row-{index}")
                done += 1
                if time.perf_counter() > deadline:
                    return

    async with asyncio.TaskGroup() as group:
        for _ in range(connections):
            group.create_task(writer(rows // connections))
    return done


async def pgbench_tps(dsn: str, table: str, *, connections: int, seconds: int) -> float:
    with tempfile.TemporaryDirectory(prefix="llm-loadtest-pgbench-") as directory:
        script = Path(directory) / "insert.sql"
        script.write_text(f"\\set r random(1, 1000000)\nINSERT INTO {table} (payload) VALUES ('row-' || :r);\n")
        output = await run_tool(
            "pgbench", "-n", "-f", str(script), "-c", str(connections), "-j", str(min(connections, 2)),
            "-T", str(seconds), dsn, timeout_seconds=seconds + 30,
        )  # fmt: skip
    match = _TPS.search(output)
    if match is None:
        raise NativeToolError("pgbench printed no tps line")
    return float(match.group(1))


async def bench_postgres(url: str, *, rows: int, connections: int, max_seconds: float) -> list[BenchResult]:
    dsn = plain_dsn(url)
    table = f"llm_loadtest_bench_{uuid.uuid4().hex[:10]}"
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    try:
        await pool.execute(
            f"CREATE TABLE {table} (id bigserial PRIMARY KEY, payload text NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now())"
        )
        start = time.perf_counter()
        inserted = await _insert_rows(pool, table, connections=connections, rows=rows, max_seconds=max_seconds)
        ours = BenchResult(f"postgres insert (asyncpg, {connections} connections, autocommit)", inserted,
                           time.perf_counter() - start, "rows")  # fmt: skip
        try:
            native = await pgbench_tps(dsn, table, connections=connections, seconds=max(1, round(max_seconds)))
            note = ""
        except NativeToolError as exc:
            native, note = None, str(exc)
        return [BenchResult(ours.name, ours.operations, ours.seconds, ours.unit, "pgbench -f insert.sql", native, note)]
    finally:
        await pool.execute(f"DROP TABLE IF EXISTS {table}")
        await pool.close()
