"""The batch half of the SQL store: vendor batches in flight, and their jobs handed to the batch's lease owner."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from llm_provider_service.adapters.sql_engine import store_errors
from llm_provider_service.adapters.sql_tables import batches, jobs
from llm_provider_service.domain.batches import BatchPhase, BatchRecord
from llm_provider_service.domain.models import JobStatus

T = TypeVar("T")
_OPEN = batches.c.phase != BatchPhase.ENDED.value


def _record(row: RowMapping) -> BatchRecord:
    return BatchRecord(
        id=row["id"],
        provider=row["provider"],
        model=row["model"],
        job_ids=tuple(row["job_ids"]),
        phase=BatchPhase(row["phase"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        vendor_batch_id=row["vendor_batch_id"],
        submitted_at=row["submitted_at"],
        ended_at=row["ended_at"],
        vendor_state=row["vendor_state"],
        poll_owner=row["poll_owner"],
        poll_lease_expires_at=row["poll_lease_expires_at"],
    )


class SqlBatchStore:
    """`BatchStore` through the store's writes (`_write`: on SQLite the single writer, so a batch and its jobs'
    hand-over share one transaction with it) and reads (`_reads`)."""

    _reads: AsyncEngine

    async def _write(self, operation: str, write: Callable[[sa.Connection], T], *, atomic: bool = False) -> T:
        raise NotImplementedError  # provided by SqlJobStore

    async def create_batch(
        self, batch: BatchRecord, *, collector: str, job_lease_expires_at: datetime
    ) -> BatchRecord | None:
        def create(conn: sa.Connection) -> BatchRecord | None:
            moved: list[str] = []
            for job_id in batch.job_ids:
                result = conn.execute(
                    sa.update(jobs)
                    .where(
                        jobs.c.id == job_id,
                        jobs.c.status == JobStatus.PROCESSING.value,
                        jobs.c.lease_owner == collector,
                    )
                    .values(lease_owner=batch.job_owner, lease_expires_at=job_lease_expires_at)
                )
                if result.rowcount == 1:
                    moved.append(job_id)
            if not moved:
                return None  # nothing was changed: nothing to undo
            record = BatchRecord(**{**_fields(batch), "job_ids": tuple(moved)})
            conn.execute(sa.insert(batches).values(**_row(record)))
            return record

        return await self._write("create_batch", create, atomic=True)

    async def batch_submitted(self, batch_id: str, *, vendor_batch_id: str, now: datetime) -> bool:
        statement = (
            sa.update(batches)
            .where(batches.c.id == batch_id, batches.c.phase == BatchPhase.SUBMITTING.value)
            .values(phase=BatchPhase.SUBMITTED.value, vendor_batch_id=vendor_batch_id, submitted_at=now, updated_at=now)
        )
        return await self._changed("batch_submitted", statement)

    async def claim_batches(
        self, *, owner: str, now: datetime, lease_expires_at: datetime, limit: int
    ) -> list[BatchRecord]:
        claimable = sa.or_(
            batches.c.poll_owner == owner,
            batches.c.poll_lease_expires_at.is_(None),
            batches.c.poll_lease_expires_at <= now,
        )

        def claim(conn: sa.Connection) -> list[BatchRecord]:
            select = sa.select(batches.c.id).where(_OPEN, claimable).order_by(batches.c.created_at).limit(limit)
            claimed = []
            for batch_id in list(conn.execute(select).scalars()):
                # One conditional UPDATE per batch (there are few): two pollers never both win one.
                statement = (
                    sa.update(batches)
                    .where(batches.c.id == batch_id, _OPEN, claimable)
                    .values(poll_owner=owner, poll_lease_expires_at=lease_expires_at)
                    .returning(*batches.c)
                )
                row = conn.execute(statement).mappings().first()
                if row is not None:
                    claimed.append(_record(row))
            return claimed

        return await self._write("claim_batches", claim, atomic=True)

    async def end_batch(self, batch_id: str, *, vendor_state: str, now: datetime) -> bool:
        statement = (
            sa.update(batches)
            .where(batches.c.id == batch_id, _OPEN)
            .values(phase=BatchPhase.ENDED.value, vendor_state=vendor_state, ended_at=now, updated_at=now)
        )
        return await self._changed("end_batch", statement)

    async def open_batches(self, *, limit: int) -> list[BatchRecord]:
        select = sa.select(batches).where(_OPEN).order_by(batches.c.created_at).limit(limit)
        with store_errors("open_batches"):
            async with self._reads.connect() as conn:
                rows = (await conn.execute(select)).mappings().all()
        return [_record(row) for row in rows]

    async def _changed(self, operation: str, statement: sa.Update) -> bool:
        def run(conn: sa.Connection) -> bool:
            return int(conn.execute(statement).rowcount) == 1

        return await self._write(operation, run)


def _fields(batch: BatchRecord) -> dict[str, Any]:
    return {name: getattr(batch, name) for name in BatchRecord.__dataclass_fields__}


def _row(batch: BatchRecord) -> dict[str, Any]:
    row = _fields(batch)
    row["job_ids"] = list(batch.job_ids)
    row["phase"] = batch.phase.value
    return row
