"""The system of record on SQLAlchemy Core (async): jobs, their transactional outbox, and usage.

One code base for PostgreSQL (asyncpg) and SQLite (aiosqlite). Every state change is a single conditional
UPDATE (compare-and-set on status and lease owner); a change that reports events writes them in the same
transaction. Single statements run in autocommit mode, which saves the BEGIN/COMMIT round trips.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from llm_provider_service.adapters.sql_engine import create_engine, is_sqlite, sqlite_file, store_errors
from llm_provider_service.adapters.sql_migrations import migrate as migrate_schema
from llm_provider_service.adapters.sql_rows import (
    job_from_row,
    job_to_row,
    outbox_event_from_row,
    outbox_rows,
    result_columns,
    usage_to_row,
)
from llm_provider_service.adapters.sql_tables import UtcDateTime, jobs, outbox, usage, utc_day
from llm_provider_service.domain.errors import StoreUnavailableError
from llm_provider_service.domain.models import Job, JobStatus, OutboxEvent
from llm_provider_service.domain.usage import UsageGrouping, UsageRecord, UsageSummaryRow

logger = logging.getLogger(__name__)

QUEUED = JobStatus.QUEUED.value
PROCESSING = JobStatus.PROCESSING.value
ADD_ATTEMPTS = 3


class SqlJobStore:
    """`JobStore` and `UsageStore` on a SQL database. Build it with `from_url`, which owns the engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

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
        migrate: bool | None = None,
    ) -> AsyncIterator[SqlJobStore]:
        """Open the store; the engine is disposed on exit.

        `migrate` applies the packaged migrations at open; by default only on SQLite (the embedded
        default). PostgreSQL deployments run `llm-provider db upgrade` (`upgrade_database`) instead.
        """
        path = sqlite_file(url)
        if path is not None:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        engine = create_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, pool_timeout_seconds=pool_timeout_seconds, echo=echo
        )
        try:
            if migrate if migrate is not None else is_sqlite(url):
                await migrate_schema(engine)
            yield cls(engine)
        finally:
            await engine.dispose()

    # -- jobs ---------------------------------------------------------------------------------------------

    async def add(self, job: Job) -> Job:
        row = job_to_row(job)
        with store_errors("add"):
            for _ in range(ADD_ATTEMPTS):
                try:
                    async with self._autocommit.connect() as conn:
                        await conn.execute(jobs.insert().values(row))
                except exc.IntegrityError:
                    # The idempotency key (or the id) is taken: the first writer's job is the answer.
                    existing = await self._find_existing(job)
                    if existing is not None:
                        return existing
                    continue  # the other job was discarded in between: try to record ours again
                return job
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
            return await self._one(sa.select(jobs).where(jobs.c.id == job_id))

    async def begin_attempt(
        self, job_id: str, *, owner: str, now: datetime, lease_expires_at: datetime, events: Sequence[OutboxEvent]
    ) -> Job | None:
        claimable = sa.or_(
            sa.and_(jobs.c.status == QUEUED, jobs.c.available_at <= now),
            sa.and_(jobs.c.status == PROCESSING, jobs.c.lease_expires_at <= now),
        )
        statement = (
            sa.update(jobs)
            .where(jobs.c.id == job_id, claimable)
            .values(
                status=PROCESSING,
                attempts=jobs.c.attempts + 1,
                lease_owner=owner,
                lease_expires_at=lease_expires_at,
                started_at=sa.func.coalesce(jobs.c.started_at, sa.literal(now, UtcDateTime())),
                updated_at=now,
            )
            .returning(*jobs.c)
        )
        return await self._change_with_events("begin_attempt", statement, events, now=now)

    async def extend_lease(self, job_id: str, *, owner: str, lease_expires_at: datetime) -> bool:
        statement = (
            sa.update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == PROCESSING, jobs.c.lease_owner == owner)
            .values(lease_expires_at=lease_expires_at)
        )
        return await self._execute("extend_lease", statement) == 1

    async def reschedule(
        self, job_id: str, *, owner: str, now: datetime, available_at: datetime, last_error: Mapping[str, Any]
    ) -> bool:
        return await self._requeue(
            "reschedule", job_id, owner=owner, now=now, available_at=available_at, last_error=dict(last_error)
        )

    async def release_attempt(self, job_id: str, *, owner: str, now: datetime, available_at: datetime) -> bool:
        # The attempt counted by begin_attempt never reached the provider: give it back.
        uncounted = sa.case((jobs.c.attempts > 0, jobs.c.attempts - 1), else_=0)
        return await self._requeue(
            "release_attempt", job_id, owner=owner, now=now, available_at=available_at, attempts=uncounted
        )

    async def _requeue(self, operation: str, job_id: str, *, owner: str, **values: Any) -> bool:
        statement = (
            sa.update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == PROCESSING, jobs.c.lease_owner == owner)
            .values(status=QUEUED, lease_owner=None, lease_expires_at=None, updated_at=values.pop("now"), **values)
        )
        return await self._execute(operation, statement) == 1

    async def finish(
        self,
        job_id: str,
        *,
        status: JobStatus,
        owner: str | None,
        now: datetime,
        result: Mapping[str, Any],
        events: Sequence[OutboxEvent],
    ) -> Job | None:
        if not status.is_terminal:
            raise ValueError(f"finish needs a terminal status, not {status.value}")
        applicable = (
            sa.and_(jobs.c.status == PROCESSING, jobs.c.lease_owner == owner)
            if owner is not None
            else jobs.c.status == QUEUED
        )
        statement = (
            sa.update(jobs)
            .where(jobs.c.id == job_id, applicable)
            .values(
                status=status.value,
                result=dict(result),
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
                finished_at=now,
                **result_columns(result),
            )
            .returning(*jobs.c)
        )
        return await self._change_with_events("finish", statement, events, now=now)

    async def due_jobs(self, *, now: datetime, limit: int) -> list[Job]:
        due = sa.or_(
            sa.and_(jobs.c.status == QUEUED, jobs.c.available_at <= now),
            sa.and_(jobs.c.status == PROCESSING, jobs.c.lease_expires_at <= now),
        )
        return await self._many("due_jobs", sa.select(jobs).where(due).order_by(jobs.c.created_at).limit(limit))

    async def overdue_jobs(self, *, now: datetime, limit: int) -> list[Job]:
        overdue = sa.and_(jobs.c.status.in_((QUEUED, PROCESSING)), jobs.c.expires_at <= now)
        return await self._many("overdue_jobs", sa.select(jobs).where(overdue).order_by(jobs.c.expires_at).limit(limit))

    async def status_counts(self) -> dict[JobStatus, int]:
        counts = dict.fromkeys(JobStatus, 0)
        statement = sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
        with store_errors("status_counts"):
            async with self._autocommit.connect() as conn:
                for status, count in await conn.execute(statement):
                    counts[JobStatus(status)] = int(count)
        return counts

    async def ping(self) -> None:
        with store_errors("ping"):
            async with self._autocommit.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))

    # -- outbox -------------------------------------------------------------------------------------------

    async def claim_outbox(self, *, now: datetime, limit: int, lock_seconds: float) -> list[OutboxEvent]:
        # SKIP LOCKED (PostgreSQL; SQLite serialises writers anyway) lets concurrent relays take disjoint rows.
        candidates = (
            sa.select(outbox.c.seq)
            .where(
                outbox.c.published_at.is_(None),
                sa.or_(outbox.c.locked_until.is_(None), outbox.c.locked_until <= now),
            )
            .order_by(outbox.c.seq)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            sa.update(outbox)
            .where(outbox.c.seq.in_(candidates.scalar_subquery()))
            .values(locked_until=now + timedelta(seconds=lock_seconds))
            .returning(*outbox.c)
        )
        with store_errors("claim_outbox"):
            async with self._autocommit.connect() as conn:
                rows = (await conn.execute(statement)).mappings().all()
        return [outbox_event_from_row(row) for row in sorted(rows, key=lambda row: row["seq"])]

    async def mark_published(self, event_ids: Sequence[str], *, now: datetime) -> None:
        if not event_ids:
            return
        statement = (
            sa.update(outbox).where(outbox.c.event_id.in_(list(event_ids))).values(published_at=now, locked_until=None)
        )
        await self._execute("mark_published", statement)

    async def outbox_backlog(self) -> int:
        statement = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        with store_errors("outbox_backlog"):
            async with self._autocommit.connect() as conn:
                return int((await conn.execute(statement)).scalar_one())

    # -- usage --------------------------------------------------------------------------------------------

    async def record_usage(self, records: Sequence[UsageRecord]) -> None:
        if not records:
            return
        dialect = self._engine.dialect.name
        insert = postgresql.insert(usage) if dialect == "postgresql" else sqlite.insert(usage)
        # A record written twice (a retried write) counts once.
        statement = insert.on_conflict_do_nothing(index_elements=[usage.c.id])
        with store_errors("record_usage"):
            async with self._autocommit.connect() as conn:
                await conn.execute(statement, [usage_to_row(record) for record in records])

    async def usage_summary(
        self, *, start: datetime | None, end: datetime | None, group_by: UsageGrouping
    ) -> list[UsageSummaryRow]:
        group = {"provider": usage.c.provider, "model": usage.c.model, "day": utc_day(usage.c.created_at)}[group_by]
        statement = sa.select(
            group.label("grp"),
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(usage.c.prompt_tokens), 0),
            sa.func.coalesce(sa.func.sum(usage.c.completion_tokens), 0),
            sa.func.coalesce(sa.func.sum(usage.c.cost_usd), 0.0),
        )
        if start is not None:
            statement = statement.where(usage.c.created_at >= start)
        if end is not None:
            statement = statement.where(usage.c.created_at < end)
        statement = statement.group_by(sa.literal_column("grp")).order_by(sa.literal_column("grp"))
        with store_errors("usage_summary"):
            async with self._autocommit.connect() as conn:
                rows = (await conn.execute(statement)).all()
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
        async with self._autocommit.connect() as conn:
            row = (await conn.execute(statement)).mappings().first()
        return job_from_row(row) if row is not None else None

    async def _many(self, operation: str, statement: sa.Select[Any]) -> list[Job]:
        with store_errors(operation):
            async with self._autocommit.connect() as conn:
                rows = (await conn.execute(statement)).mappings().all()
        return [job_from_row(row) for row in rows]

    async def _execute(self, operation: str, statement: sa.Executable) -> int:
        """Run one statement on its own (atomic by itself); the number of rows it matched."""
        with store_errors(operation):
            async with self._autocommit.connect() as conn:
                result = await conn.execute(statement)
        return int(getattr(result, "rowcount", 0))

    async def _change_with_events(
        self, operation: str, statement: sa.UpdateBase, events: Sequence[OutboxEvent], *, now: datetime
    ) -> Job | None:
        """Apply a conditional UPDATE ... RETURNING and, if it matched, insert `events` in the same transaction."""
        with store_errors(operation):
            async with self._engine.connect() as conn:
                job = await self._apply(conn, statement, events, now=now)
                if job is None:
                    await conn.rollback()
                else:
                    await conn.commit()
        return job

    @staticmethod
    async def _apply(
        conn: AsyncConnection, statement: sa.UpdateBase, events: Sequence[OutboxEvent], *, now: datetime
    ) -> Job | None:
        row = (await conn.execute(statement)).mappings().first()
        if row is None:
            return None
        if events:
            await conn.execute(outbox.insert(), outbox_rows(events, now=now))
        return job_from_row(row)
