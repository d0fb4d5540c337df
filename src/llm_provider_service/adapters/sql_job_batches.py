"""Begins and finishes of many jobs in one transaction: read and lock the rows once, decide, write them together.

A worker claims many jobs at once and many of its jobs end moments apart; one per-job UPDATE ... RETURNING each
costs a statement (and on PostgreSQL a round trip) per job. Here the rows are read once (locked, in id order, so
two batches over the same jobs wait instead of deadlocking; SQLite's single writer needs no lock), each item is
decided in order exactly as the single-job statement's WHERE would decide it, and the changes go out as one
executemany per statement plus one multi-row outbox INSERT. The UPDATEs keep their conditions: if a row changed
anyway (another process writing the same SQLite file), the matched count differs and the whole batch is undone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from llm_provider_service.adapters import sql_queries as queries
from llm_provider_service.adapters.sql_rows import job_from_row, outbox_rows
from llm_provider_service.adapters.sql_tables import outbox
from llm_provider_service.domain.errors import StoreUnavailableError
from llm_provider_service.domain.models import Job
from llm_provider_service.ports import AttemptStart, JobFinish

_INSERT_OUTBOX = outbox.insert()


def begin_many(conn: sa.Connection, starts: Sequence[AttemptStart]) -> list[Job | None]:
    """`JobStore.begin_attempts` as a write (a sync function of a connection in a transaction)."""
    ids = sorted({start.job_id for start in starts})
    rows = {
        row["id"]: dict(row)
        for row in conn.execute(queries.by_ids(conn.dialect.name).lock_jobs, {"p_ids": ids}).mappings()
    }
    begun: list[dict[str, Any] | None] = []
    parameters: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for start in starts:
        row = rows.get(start.job_id)
        if row is None or not _claimable(row, start):
            begun.append(None)
            continue
        row.update(
            status=queries.PROCESSING,
            attempts=row["attempts"] + 1,
            lease_owner=start.owner,
            lease_expires_at=start.lease_expires_at,
            started_at=row["started_at"] or start.now,
            updated_at=start.now,
        )
        begun.append(dict(row))
        parameters.append(
            queries.begin_attempt(
                start.job_id, owner=start.owner, now=start.now, lease_expires_at=start.lease_expires_at
            )
        )
        events.extend(outbox_rows(start.events, now=start.now))
    _update(conn, queries.BEGIN_ATTEMPT_MANY, parameters)
    if events:
        conn.execute(_INSERT_OUTBOX, events)
    return [job_from_row(row) if row is not None else None for row in begun]


def finish_many(conn: sa.Connection, finishes: Sequence[JobFinish]) -> list[bool]:
    """`JobStore.finish_many` as a write."""
    ids = sorted({finish.job_id for finish in finishes})
    states = {
        row.id: [row.status, row.lease_owner]
        for row in conn.execute(queries.by_ids(conn.dialect.name).lock_job_states, {"p_ids": ids})
    }
    finished: list[bool] = []
    owned: list[dict[str, Any]] = []
    queued: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for finish in finishes:
        state = states.get(finish.job_id)
        if state is None or not _finishable(state, finish.owner):
            finished.append(False)
            continue
        state[:] = [finish.outcome.status.value, None]
        finished.append(True)
        _, parameters = queries.finish(finish.job_id, finish.outcome, owner=finish.owner, now=finish.now)
        (queued if finish.owner is None else owned).append(parameters)
        events.extend(outbox_rows(finish.events, now=finish.now))
    _update(conn, queries.FINISH_OWNED_MANY, owned)
    _update(conn, queries.FINISH_QUEUED_MANY, queued)
    if events:
        conn.execute(_INSERT_OUTBOX, events)
    return finished


def _claimable(row: dict[str, Any], start: AttemptStart) -> bool:
    """`sql_queries.claimable`, on a row read in this transaction."""
    if row["status"] == queries.QUEUED:
        return bool(row["available_at"] <= start.now)
    lease_expires_at = row["lease_expires_at"]
    return row["status"] == queries.PROCESSING and lease_expires_at is not None and lease_expires_at <= start.now


def _finishable(state: list[Any], owner: str | None) -> bool:
    """The WHERE of `FINISH_QUEUED` (no owner) or `FINISH_OWNED`."""
    status, lease_owner = state
    if owner is None:
        return bool(status == queries.QUEUED)
    return bool(status == queries.PROCESSING and lease_owner == owner)


def _update(conn: sa.Connection, statement: sa.Update, parameters: list[dict[str, Any]]) -> None:
    if not parameters:
        return
    matched = conn.execute(statement, parameters).rowcount
    if conn.dialect.supports_sane_multi_rowcount and matched != len(parameters):
        # Raised inside the transaction, so none of the batch is applied; the jobs' leases expire and they return.
        raise StoreUnavailableError("jobs changed under a batched write; it was undone", retry_after_seconds=1)
