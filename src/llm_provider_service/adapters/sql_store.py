"""The system of record on SQLAlchemy Core (async): jobs, their transactional outbox, and usage.

One code base for PostgreSQL (asyncpg) and SQLite. Every state change is a single conditional UPDATE
(compare-and-set on status and lease owner); a change that reports events writes them in the same transaction.
Each write is a sync function of a connection: on PostgreSQL it runs on a pooled connection (single statements
in autocommit mode, which saves the BEGIN/COMMIT round trips); on SQLite the single writer (`SqliteWriter`)
commits the writes queued by many callers together. Reads use their own connections on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine

from llm_provider_service.adapters import sql_queries as queries
from llm_provider_service.adapters.sql_batches import SqlBatchStore
from llm_provider_service.adapters.sql_engine import create_engine, is_sqlite, sqlite_file, store_errors
from llm_provider_service.adapters.sql_job_batches import begin_many, finish_many
from llm_provider_service.adapters.sql_job_inserts import JobInserts
from llm_provider_service.adapters.sql_migrations import check_schema, migrate
from llm_provider_service.adapters.sql_rows import (
    job_from_row,
    job_to_row,
    outbox_event_from_row,
    outbox_rows,
    usage_to_row,
    usage_to_sqlite_params,
)
from llm_provider_service.adapters.sql_tables import jobs, outbox
from llm_provider_service.adapters.sqlite_writer import SqliteWriter
from llm_provider_service.domain.errors import StoreUnavailableError
from llm_provider_service.domain.events import JobOutcome
from llm_provider_service.domain.models import Job, JobStatus, OutboxEvent
from llm_provider_service.domain.usage import UsageGrouping, UsageRecord, UsageSummaryRow
from llm_provider_service.ports import AttemptStart, JobFinish

ADD_ATTEMPTS = 3
T = TypeVar("T")


_INSERT_JOB = jobs.insert()
_INSERT_OUTBOX = outbox.insert()


class SqlJobStore(SqlBatchStore):
    """`JobStore`, `UsageStore` and `BatchStore` on a SQL database. Build it with `from_url`, which owns the engine."""

    def __init__(
        self, engine: AsyncEngine, *, reader: AsyncEngine | None = None, writer: SqliteWriter | None = None
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._by_ids = queries.by_ids(engine.dialect.name)
        # Plain reads may use their own connections: on SQLite (one writer connection) they then never queue
        # behind writes, and WAL lets them read while a write commits.
        self._reads = reader if reader is not None else self._autocommit  # a reader engine is autocommit already
        # Group commit of accepts on PostgreSQL (the SQLite writer already commits queued writes together).
        self._adds = JobInserts(self._autocommit) if writer is None and engine.dialect.name == "postgresql" else None

    @classmethod
    @asynccontextmanager
    async def from_url(
        cls,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int = 10,
        pool_timeout_seconds: float = 10.0,
        echo: bool = False,
        apply_migrations: bool | None = None,
    ) -> AsyncIterator[SqlJobStore]:
        """Open the store; the engine is disposed on exit.

        `apply_migrations` applies the packaged migrations at open; by default only on SQLite (the embedded
        default). PostgreSQL deployments run `llm-provider db upgrade` (`upgrade_database`) instead; the
        store then only checks that the schema exists.
        """
        path = sqlite_file(url)
        if path is not None:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        sqlite = is_sqlite(url)
        # On SQLite the async engine only migrates: the writer has the one write connection.
        engine = create_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, pool_timeout_seconds=pool_timeout_seconds, echo=echo,
            pooled=not sqlite,
        )  # fmt: skip
        reader = create_engine(url, readonly=True, echo=echo) if sqlite else None
        writer: SqliteWriter | None = None
        try:
            if apply_migrations if apply_migrations is not None else sqlite:
                await migrate(engine)
            else:
                await check_schema(engine)
            if sqlite:
                writer = SqliteWriter(url, echo=echo)
                with store_errors("open"):
                    await writer.open()
            yield cls(engine, reader=reader, writer=writer)
        finally:
            if writer is not None:
                await writer.close()
            await engine.dispose()
            if reader is not None:
                await reader.dispose()

    # -- jobs ---------------------------------------------------------------------------------------------

    async def add(self, job: Job) -> Job:
        row = job_to_row(job)

        def insert(conn: sa.Connection) -> bool:
            try:
                # A constant statement with the row as parameters compiles once and stays cached.
                conn.execute(_INSERT_JOB, row)
            except exc.IntegrityError:
                return False  # only this statement was undone: a transaction it shares goes on
            return True

        with store_errors("add"):
            for _ in range(ADD_ATTEMPTS):
                added = await (self._adds.insert(row) if self._adds is not None else self._write("add", insert))
                if added:
                    return job
                # The idempotency key (or the id) is taken: the first writer's job is the answer.
                existing = await self._find_existing(job)
                if existing is not None:
                    return existing
                # the other job was discarded in between: try to record ours again
        raise StoreUnavailableError("could not record the job under a contended idempotency key")

    async def _find_existing(self, job: Job) -> Job | None:
        if job.idempotency_key is not None:
            by_key = await self._one(sa.select(jobs).where(jobs.c.idempotency_key == job.idempotency_key))
            if by_key is not None:
                return by_key
        return await self._one(sa.select(jobs).where(jobs.c.id == job.id))

    async def discard(self, job_id: str) -> None:
        await self._execute("discard", sa.delete(jobs).where(jobs.c.id == job_id))

    async def get(self, job_id: str) -> Job | None:
        with store_errors("get"):
            async with self._reads.connect() as conn:
                row = (await conn.execute(queries.GET_JOB, {"p_id": job_id})).mappings().first()
            return job_from_row(row) if row is not None else None

    async def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        if not job_ids:
            return {}
        parameters = {"p_ids": list(job_ids)}
        if self._writer is not None:
            # A worker's claim, read on the SQLite writer's thread in one hop beside the writes queued there (an
            # aiosqlite read pays a hop per cursor call): the worker's next step writes these very rows there.
            def read(conn: sa.Connection) -> dict[str, Job]:
                return {
                    row["id"]: job_from_row(row) for row in conn.execute(self._by_ids.get_jobs, parameters).mappings()
                }

            return await self._write("get_many", read)
        with store_errors("get_many"):
            async with self._reads.connect() as conn:
                rows = (await conn.execute(self._by_ids.get_jobs, parameters)).mappings().all()
        return {row["id"]: job_from_row(row) for row in rows}

    async def begin_attempts(self, starts: Sequence[AttemptStart]) -> list[Job | None]:
        if not starts:
            return []
        return await self._write("begin_attempts", lambda conn: begin_many(conn, starts), atomic=True)

    async def finish_many(self, finishes: Sequence[JobFinish]) -> list[bool]:
        if not finishes:
            return []
        return await self._write("finish_many", lambda conn: finish_many(conn, finishes), atomic=True)

    async def begin_attempt(
        self, job_id: str, *, owner: str, now: datetime, lease_expires_at: datetime, events: Sequence[OutboxEvent]
    ) -> Job | None:
        parameters = queries.begin_attempt(job_id, owner=owner, now=now, lease_expires_at=lease_expires_at)
        return await self._change_with_events("begin_attempt", queries.BEGIN_ATTEMPT, events, now=now,
                                              parameters=parameters)  # fmt: skip

    async def extend_lease(self, job_id: str, *, owner: str, lease_expires_at: datetime) -> bool:
        statement = queries.extend_lease(job_id, owner=owner, lease_expires_at=lease_expires_at)
        return await self._execute("extend_lease", statement) == 1

    async def reschedule(
        self, job_id: str, *, owner: str, now: datetime, available_at: datetime, last_error: Mapping[str, Any]
    ) -> bool:
        statement = queries.requeue(
            job_id, owner=owner, now=now, available_at=available_at, last_error=dict(last_error)
        )
        return await self._execute("reschedule", statement) == 1

    async def release_attempt(self, job_id: str, *, owner: str, now: datetime, available_at: datetime) -> bool:
        # The attempt counted by begin_attempt never reached the provider: give it back.
        statement = queries.requeue(
            job_id, owner=owner, now=now, available_at=available_at, attempts=queries.uncounted_attempt()
        )
        return await self._execute("release_attempt", statement) == 1

    async def finish(
        self, job_id: str, outcome: JobOutcome, *, owner: str | None, now: datetime, events: Sequence[OutboxEvent]
    ) -> Job | None:
        statement, parameters = queries.finish(job_id, outcome, owner=owner, now=now)
        return await self._change_with_events("finish", statement, events, now=now, parameters=parameters)

    async def due_jobs(self, *, now: datetime, limit: int) -> list[Job]:
        return await self._many("due_jobs", queries.due_jobs(now, limit))

    async def overdue_jobs(self, *, now: datetime, limit: int) -> list[Job]:
        return await self._many("overdue_jobs", queries.overdue_jobs(now, limit))

    async def status_counts(self) -> dict[JobStatus, int]:
        counts = dict.fromkeys(JobStatus, 0)
        statement = sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
        with store_errors("status_counts"):
            async with self._reads.connect() as conn:
                for status, count in await conn.execute(statement):
                    counts[JobStatus(status)] = int(count)
        return counts

    async def ping(self) -> None:
        with store_errors("ping"):
            async with self._reads.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))

    # -- outbox -------------------------------------------------------------------------------------------

    async def claim_outbox(self, *, now: datetime, limit: int, lock_seconds: float) -> list[OutboxEvent]:
        statement, parameters = queries.claim_outbox(now, limit, lock_seconds)

        def claim(conn: sa.Connection) -> list[OutboxEvent]:
            rows = conn.execute(statement, parameters).mappings().all()
            # RETURNING has no order: restore the outbox order.
            return [outbox_event_from_row(row) for row in sorted(rows, key=lambda row: row["seq"])]

        return await self._write("claim_outbox", claim)

    async def mark_published(self, event_ids: Sequence[str], *, now: datetime) -> None:
        if event_ids:
            parameters = {"p_ids": list(event_ids), "p_now": now}
            await self._execute("mark_published", self._by_ids.mark_published, parameters)

    async def release_outbox(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            await self._execute("release_outbox", queries.RELEASE_OUTBOX, {"p_event_ids": list(event_ids)})

    async def prune_outbox(self, *, published_before: datetime, limit: int) -> int:
        return await self._execute("prune_outbox", queries.prune_outbox(published_before, limit))

    async def outbox_backlog(self) -> int:
        with store_errors("outbox_backlog"):
            async with self._reads.connect() as conn:
                return int((await conn.execute(queries.outbox_backlog())).scalar_one())

    # -- usage --------------------------------------------------------------------------------------------

    async def record_usage(self, records: Sequence[UsageRecord]) -> None:
        if not records:
            return
        if self._writer is not None:  # SQLite: plain driver executemany (SQLAlchemy's binding cost more per row)
            params = [usage_to_sqlite_params(record) for record in records]
            await self._write("record_usage", lambda conn: conn.exec_driver_sql(queries.SQLITE_INSERT_USAGE, params))
            return
        statement = queries.insert_usage(self._engine.dialect.name)
        rows = [usage_to_row(record) for record in records]
        await self._write("record_usage", lambda conn: conn.execute(statement, rows))

    async def usage_summary(
        self, *, start: datetime | None, end: datetime | None, group_by: UsageGrouping
    ) -> list[UsageSummaryRow]:
        with store_errors("usage_summary"):
            async with self._reads.connect() as conn:
                rows = (await conn.execute(queries.usage_summary(start, end, group_by))).all()
        return [
            UsageSummaryRow(
                group=str(grp),
                calls=int(calls),
                prompt_tokens=int(prompt),
                completion_tokens=int(completion),
                cost_usd=float(cost),
            )
            for grp, calls, prompt, completion, cost in rows
        ]

    # -- plumbing -----------------------------------------------------------------------------------------

    async def _one(self, statement: sa.Select[Any]) -> Job | None:
        async with self._reads.connect() as conn:
            row = (await conn.execute(statement)).mappings().first()
        return job_from_row(row) if row is not None else None

    async def _many(self, operation: str, statement: sa.Select[Any]) -> list[Job]:
        with store_errors(operation):
            async with self._reads.connect() as conn:
                rows = (await conn.execute(statement)).mappings().all()
        return [job_from_row(row) for row in rows]

    async def _write(self, operation: str, write: Callable[[sa.Connection], T], *, atomic: bool = False) -> T:
        """Run `write` in a transaction of its own (PostgreSQL) or one it shares with other writes (SQLite).

        On PostgreSQL a write that is not `atomic` (a single statement, atomic by itself) runs in autocommit mode.
        """
        with store_errors(operation):
            if self._writer is not None:
                return await self._writer.write(write)
            async with (self._engine if atomic else self._autocommit).connect() as conn:
                result = await conn.run_sync(write)
                if atomic:
                    await conn.commit()
            return result

    async def _execute(
        self, operation: str, statement: sa.Executable, parameters: Mapping[str, Any] | None = None
    ) -> int:
        """Run one statement on its own (atomic by itself); the number of rows it matched."""

        def run(conn: sa.Connection) -> int:
            return int(getattr(conn.execute(statement, parameters), "rowcount", 0))

        return await self._write(operation, run)

    async def _change_with_events(
        self,
        operation: str,
        statement: sa.UpdateBase,
        events: Sequence[OutboxEvent],
        *,
        now: datetime,
        parameters: Mapping[str, Any] | None = None,
    ) -> Job | None:
        """Apply a conditional UPDATE ... RETURNING and, if it matched, insert `events` in the same transaction."""

        def change(conn: sa.Connection) -> Job | None:
            row = conn.execute(statement, parameters).mappings().first()
            if row is None:
                return None  # it changed nothing: there is nothing to undo
            if events:
                conn.execute(_INSERT_OUTBOX, outbox_rows(events, now=now))
            return job_from_row(row)

        return await self._write(operation, change, atomic=bool(events))
