"""The SQL statements of the store, built with SQLAlchemy Core; each state change is one conditional UPDATE."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects import postgresql as postgresql_types

from llm_provider_service.adapters.sql_rows import outcome_columns
from llm_provider_service.adapters.sql_tables import UtcDateTime, jobs, outbox, usage, utc_day
from llm_provider_service.domain.events import JobOutcome
from llm_provider_service.domain.models import JobStatus
from llm_provider_service.domain.usage import UsageGrouping

QUEUED = JobStatus.QUEUED.value
PROCESSING = JobStatus.PROCESSING.value
# Status filters are rendered as SQL literals, not bound parameters: only then can the planner match them to the
# partial indexes (a prepared statement's generic plan on PostgreSQL, and SQLite always, ignore bound values).
QUEUED_SQL = sa.literal_column(f"'{QUEUED}'", sa.String)
PROCESSING_SQL = sa.literal_column(f"'{PROCESSING}'", sa.String)


def claimable(now: datetime | sa.BindParameter[datetime]) -> sa.ColumnElement[bool]:
    """A queued job that is due, or a processing job whose lease ran out (its worker is gone)."""
    return sa.or_(
        sa.and_(jobs.c.status == QUEUED_SQL, jobs.c.available_at <= now),
        sa.and_(jobs.c.status == PROCESSING_SQL, jobs.c.lease_expires_at <= now),
    )


def held_by(owner: str) -> sa.ColumnElement[bool]:
    return sa.and_(jobs.c.status == PROCESSING, jobs.c.lease_owner == owner)


# The per-job statements are built once with named parameters: building an UPDATE ... RETURNING costs ~1 ms of CPU
# (more than running it), and a constant statement also keeps its compiled form cached.
_NOW = sa.bindparam("p_now", type_=UtcDateTime())

GET_JOB = sa.select(jobs).where(jobs.c.id == sa.bindparam("p_id"))


def any_of(column: sa.ColumnElement[str], *, postgresql: bool) -> sa.ColumnElement[bool]:
    """`column` is one of the list bound as `p_ids`. On PostgreSQL one array parameter (`= ANY`): the statement's
    text, and so its prepared statement, is the same for every batch size, where an expanding IN is prepared once
    per size (and asyncpg caches 100 statements per connection). SQLite has no arrays: an expanding IN."""
    if postgresql:
        return column == sa.any_(sa.bindparam("p_ids", type_=postgresql_types.ARRAY(sa.String())))
    return column.in_(sa.bindparam("p_ids", expanding=True))


@dataclass(frozen=True, slots=True)
class ByIds:
    """The statements over a list of ids (`p_ids`), built once per dialect."""

    get_jobs: sa.Select[Any]
    # The rows a batch of begins or finishes decides on, locked (PostgreSQL; SQLite's single writer needs no lock)
    # in one order, so two batches over the same jobs wait for each other instead of deadlocking.
    lock_jobs: sa.Select[Any]
    lock_job_states: sa.Select[Any]
    mark_published: sa.Update

    @classmethod
    def build(cls, *, postgresql: bool) -> ByIds:
        get_jobs = sa.select(jobs).where(any_of(jobs.c.id, postgresql=postgresql))
        states = sa.select(jobs.c.id, jobs.c.status, jobs.c.lease_owner).where(any_of(jobs.c.id, postgresql=postgresql))
        mark_published = (
            sa.update(outbox)
            .where(any_of(outbox.c.event_id, postgresql=postgresql))
            .values(published_at=_NOW, locked_until=None)
        )
        return cls(
            get_jobs=get_jobs,
            lock_jobs=get_jobs.order_by(jobs.c.id).with_for_update(),
            lock_job_states=states.order_by(jobs.c.id).with_for_update(),
            mark_published=mark_published,
        )


_READS = {False: ByIds.build(postgresql=False), True: ByIds.build(postgresql=True)}


def by_ids(dialect_name: str) -> ByIds:
    return _READS[dialect_name == "postgresql"]


_BEGIN_ATTEMPT = (
    sa.update(jobs)
    .where(jobs.c.id == sa.bindparam("p_id"), claimable(_NOW))
    .values(
        status=PROCESSING,
        attempts=jobs.c.attempts + 1,
        lease_owner=sa.bindparam("p_owner", type_=sa.String()),
        lease_expires_at=sa.bindparam("p_lease_expires_at", type_=UtcDateTime()),
        started_at=sa.func.coalesce(jobs.c.started_at, _NOW),
        updated_at=_NOW,
    )
)
BEGIN_ATTEMPT = _BEGIN_ATTEMPT.returning(*jobs.c)
# For many jobs at once (executemany: no RETURNING); the caller has read and locked the rows and knows the outcome.
BEGIN_ATTEMPT_MANY = _BEGIN_ATTEMPT


def begin_attempt(job_id: str, *, owner: str, now: datetime, lease_expires_at: datetime) -> dict[str, Any]:
    """The parameters of `BEGIN_ATTEMPT`."""
    return {"p_id": job_id, "p_owner": owner, "p_now": now, "p_lease_expires_at": lease_expires_at}


def extend_lease(job_id: str, *, owner: str, lease_expires_at: datetime) -> sa.Update:
    return sa.update(jobs).where(jobs.c.id == job_id, held_by(owner)).values(lease_expires_at=lease_expires_at)


def requeue(job_id: str, *, owner: str, now: datetime, available_at: datetime, **values: Any) -> sa.Update:
    """Processing -> queued under the caller's lease, claimable again at `available_at`."""
    return (
        sa.update(jobs)
        .where(jobs.c.id == job_id, held_by(owner))
        .values(
            status=QUEUED, available_at=available_at, lease_owner=None, lease_expires_at=None, updated_at=now, **values
        )
    )


def uncounted_attempt() -> sa.ColumnElement[int]:
    return sa.case((jobs.c.attempts > 0, jobs.c.attempts - 1), else_=0)


_OUTCOME_COLUMNS = ("prompt_tokens", "completion_tokens", "cost_usd", "response_time_ms", "prompt_sha256")


def _finish_statement(applicable: sa.ColumnElement[bool], *, returning: bool = True) -> sa.Update:
    statement = (
        sa.update(jobs)
        .where(jobs.c.id == sa.bindparam("p_id"), applicable)
        .values(
            status=sa.bindparam("p_status", type_=sa.String()),
            result=sa.bindparam("p_result", type_=jobs.c.result.type),
            lease_owner=None,
            lease_expires_at=None,
            updated_at=_NOW,
            finished_at=_NOW,
            **{name: sa.bindparam(f"p_{name}", type_=jobs.c[name].type) for name in _OUTCOME_COLUMNS},
        )
    )
    return statement.returning(*jobs.c) if returning else statement


# With an owner the job must be running under that lease; without one it must still wait in the queue.
_OWNED = sa.and_(jobs.c.status == PROCESSING, jobs.c.lease_owner == sa.bindparam("p_owner", type_=sa.String()))
FINISH_OWNED = _finish_statement(_OWNED)
FINISH_QUEUED = _finish_statement(jobs.c.status == QUEUED)
# For many jobs at once (executemany), like BEGIN_ATTEMPT_MANY.
FINISH_OWNED_MANY = _finish_statement(_OWNED, returning=False)
FINISH_QUEUED_MANY = _finish_statement(jobs.c.status == QUEUED, returning=False)


def finish(job_id: str, outcome: JobOutcome, *, owner: str | None, now: datetime) -> tuple[sa.Update, dict[str, Any]]:
    """The finishing statement for this case and its parameters."""
    columns = outcome_columns(outcome)
    parameters: dict[str, Any] = {
        "p_id": job_id,
        "p_now": now,
        "p_status": outcome.status.value,
        "p_result": dict(outcome.payload),
        **{f"p_{name}": columns[name] for name in _OUTCOME_COLUMNS},
    }
    if owner is None:
        return FINISH_QUEUED, parameters
    return FINISH_OWNED, {**parameters, "p_owner": owner}


def due_jobs(now: datetime, limit: int) -> sa.Select[Any]:
    return sa.select(jobs).where(claimable(now)).order_by(jobs.c.created_at).limit(limit)


def overdue_jobs(now: datetime, limit: int) -> sa.Select[Any]:
    overdue = sa.and_(jobs.c.status.in_([QUEUED_SQL, PROCESSING_SQL]), jobs.c.expires_at <= now)
    return sa.select(jobs).where(overdue).order_by(jobs.c.expires_at).limit(limit)


def _claim_outbox_statement() -> sa.Update:
    # FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite serialises writers anyway and omits it) makes concurrent
    # relays take disjoint rows; the lock column hides the rows until published or the lock runs out.
    candidates = (
        sa.select(outbox.c.seq)
        .where(
            outbox.c.published_at.is_(None),
            sa.or_(outbox.c.locked_until.is_(None), outbox.c.locked_until <= _NOW),
        )
        .order_by(outbox.c.seq)
        .limit(sa.bindparam("p_limit", type_=sa.Integer()))
        .with_for_update(skip_locked=True)
    )
    return (
        sa.update(outbox)
        .where(outbox.c.seq.in_(candidates.scalar_subquery()))
        .values(locked_until=sa.bindparam("p_locked_until", type_=UtcDateTime()))
        .returning(*outbox.c)
    )


CLAIM_OUTBOX = _claim_outbox_statement()
RELEASE_OUTBOX = (
    sa.update(outbox)
    .where(outbox.c.event_id.in_(sa.bindparam("p_event_ids", expanding=True)), outbox.c.published_at.is_(None))
    .values(locked_until=None)
)


def claim_outbox(now: datetime, limit: int, lock_seconds: float) -> tuple[sa.Update, dict[str, Any]]:
    """The outbox claim and its parameters."""
    return CLAIM_OUTBOX, {"p_now": now, "p_limit": limit, "p_locked_until": now + timedelta(seconds=lock_seconds)}


def prune_outbox(published_before: datetime, limit: int) -> sa.Delete:
    """Old published rows, oldest first: they sit at the start of the primary key, so no extra index is needed."""
    candidates = (
        sa.select(outbox.c.seq)
        .where(outbox.c.published_at.is_not(None), outbox.c.published_at < published_before)
        .order_by(outbox.c.seq)
        .limit(limit)
    )
    return sa.delete(outbox).where(outbox.c.seq.in_(candidates.scalar_subquery()))


def outbox_backlog() -> sa.Select[Any]:
    return sa.select(sa.func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))


def insert_usage(dialect_name: str) -> sa.Insert:
    """An insert that skips records already written (a retried write counts once)."""
    insert = postgresql.insert(usage) if dialect_name == "postgresql" else sqlite.insert(usage)
    return insert.on_conflict_do_nothing(index_elements=[usage.c.id])


# The same insert as driver SQL for SQLite's writer thread: one `executemany` of tuples, without SQLAlchemy's
# per-row bind processing (parameters from `sql_rows.usage_to_sqlite_params`, in `USAGE_COLUMNS` order).
USAGE_COLUMNS = tuple(column.name for column in usage.columns)
SQLITE_INSERT_USAGE = (
    "INSERT INTO usage (id, source, provider, model, prompt_tokens, completion_tokens, cost_usd, latency_ms, "
    "outcome, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
)


def usage_summary(start: datetime | None, end: datetime | None, group_by: UsageGrouping) -> sa.Select[Any]:
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
    return statement.group_by(sa.literal_column("grp")).order_by(sa.literal_column("grp"))
