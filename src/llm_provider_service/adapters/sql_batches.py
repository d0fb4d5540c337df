"""The batch half of the SQL store: vendor batches in flight, and their jobs handed to the batch's lease owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from llm_provider_service.adapters.sql_engine import store_errors
from llm_provider_service.adapters.sql_tables import batches, jobs
from llm_provider_service.domain.batches import BatchPhase, BatchRecord
from llm_provider_service.domain.models import JobStatus

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
    """`BatchStore` over the same engine as the jobs (a batch and its jobs' hand-over share a transaction)."""

    _engine: AsyncEngine

    async def create_batch(
        self, batch: BatchRecord, *, collector: str, job_lease_expires_at: datetime
    ) -> BatchRecord | None:
        moved: list[str] = []
        with store_errors("create_batch"):
            async with self._engine.connect() as conn:
                for job_id in batch.job_ids:
                    result = await conn.execute(
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
                    await conn.rollback()
                    return None
                record = BatchRecord(**{**_fields(batch), "job_ids": tuple(moved)})
                await conn.execute(sa.insert(batches).values(**_row(record)))
                await conn.commit()
        return record

    async def batch_submitted(self, batch_id: str, *, vendor_batch_id: str, now: datetime) -> bool:
        statement = (
            sa.update(batches)
            .where(batches.c.id == batch_id, batches.c.phase == BatchPhase.SUBMITTING.value)
            .values(phase=BatchPhase.SUBMITTED.value, vendor_batch_id=vendor_batch_id, submitted_at=now, updated_at=now)
        )
        return await self._batch_change("batch_submitted", statement)

    async def claim_batches(
        self, *, owner: str, now: datetime, lease_expires_at: datetime, limit: int
    ) -> list[BatchRecord]:
        claimable = sa.or_(
            batches.c.poll_owner == owner,
            batches.c.poll_lease_expires_at.is_(None),
            batches.c.poll_lease_expires_at <= now,
        )
        claimed: list[BatchRecord] = []
        with store_errors("claim_batches"):
            async with self._engine.connect() as conn:
                select = sa.select(batches.c.id).where(_OPEN, claimable).order_by(batches.c.created_at).limit(limit)
                candidates = list((await conn.execute(select)).scalars())
                await conn.commit()
            for batch_id in candidates:
                # One conditional UPDATE per batch (there are few): two pollers never both win one.
                async with self._engine.connect() as conn:
                    statement = (
                        sa.update(batches)
                        .where(batches.c.id == batch_id, _OPEN, claimable)
                        .values(poll_owner=owner, poll_lease_expires_at=lease_expires_at)
                        .returning(*batches.c)
                    )
                    row = (await conn.execute(statement)).mappings().first()
                    await conn.commit()
                if row is not None:
                    claimed.append(_record(row))
        return claimed

    async def end_batch(self, batch_id: str, *, vendor_state: str, now: datetime) -> bool:
        statement = (
            sa.update(batches)
            .where(batches.c.id == batch_id, _OPEN)
            .values(phase=BatchPhase.ENDED.value, vendor_state=vendor_state, ended_at=now, updated_at=now)
        )
        return await self._batch_change("end_batch", statement)

    async def open_batches(self, *, limit: int) -> list[BatchRecord]:
        with store_errors("open_batches"):
            async with self._engine.connect() as conn:
                select = sa.select(batches).where(_OPEN).order_by(batches.c.created_at).limit(limit)
                rows = (await conn.execute(select)).mappings().all()
                await conn.commit()
        return [_record(row) for row in rows]

    async def _batch_change(self, operation: str, statement: sa.Update) -> bool:
        with store_errors(operation):
            async with self._engine.connect() as conn:
                result = await conn.execute(statement)
                await conn.commit()
        return int(result.rowcount) == 1


def _fields(batch: BatchRecord) -> dict[str, Any]:
    return {name: getattr(batch, name) for name in BatchRecord.__dataclass_fields__}


def _row(batch: BatchRecord) -> dict[str, Any]:
    row = _fields(batch)
    row["job_ids"] = list(batch.job_ids)
    row["phase"] = batch.phase.value
    return row
