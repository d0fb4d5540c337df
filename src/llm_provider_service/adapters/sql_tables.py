"""Table definitions of the SQL store (jobs, outbox, usage, batches), shared by the store and the migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

# Stable constraint names, so that later migrations can refer to them on every database.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ACTIVE_STATUSES = ("queued", "processing")


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    PostgreSQL stores `timestamptz`; SQLite stores naive text, so values are converted to UTC on the way in
    (keeping text comparisons correct) and get their UTC zone back on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; timestamps must be timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _big_id() -> sa.types.TypeEngine[int]:
    # SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("correlation_id", sa.String(200), nullable=False),
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    sa.Column("lease_owner", sa.String(128), nullable=True),
    sa.Column("lease_expires_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("available_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=True),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("trace_id", sa.String(64), nullable=True),
    sa.Column("prompt_sha256", sa.String(64), nullable=True),
    sa.Column("prompt_tokens", sa.Integer, nullable=True),
    sa.Column("completion_tokens", sa.Integer, nullable=True),
    sa.Column("cost_usd", sa.Float, nullable=True),
    sa.Column("response_time_ms", sa.Integer, nullable=True),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("last_error", sa.JSON, nullable=True),
    # Idempotent submission: a key maps to one job (NULLs never collide).
    sa.Index("uq_jobs_idempotency_key", "idempotency_key", unique=True),
    # Claim/reconcile: due queued jobs, and processing jobs whose lease ran out. Partial indexes stay small
    # because terminal jobs (the vast majority over time) are not in them.
    sa.Index(
        "ix_jobs_due",
        "available_at",
        postgresql_where=sa.text("status = 'queued'"),
        sqlite_where=sa.text("status = 'queued'"),
    ),
    sa.Index(
        "ix_jobs_lease",
        "lease_expires_at",
        postgresql_where=sa.text("status = 'processing'"),
        sqlite_where=sa.text("status = 'processing'"),
    ),
    # Expiry sweep over non-terminal jobs.
    sa.Index(
        "ix_jobs_overdue",
        "expires_at",
        postgresql_where=sa.text("status IN ('queued', 'processing')"),
        sqlite_where=sa.text("status IN ('queued', 'processing')"),
    ),
    # Status counts (index-only scan) and per-model usage of jobs over time.
    sa.Index("ix_jobs_status", "status"),
    sa.Index("ix_jobs_finished_at", "finished_at"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    # Insertion order: events of one transaction keep the order in which they were written.
    sa.Column("seq", _big_id(), primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("topic", sa.String(255), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("value", sa.LargeBinary, nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("locked_until", UtcDateTime, nullable=True),
    sa.Column("published_at", UtcDateTime, nullable=True),
    # The relay's work list and the backlog gauge: only unpublished rows are indexed.
    sa.Index(
        "ix_outbox_unpublished",
        "seq",
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    ),
)

usage = sa.Table(
    "usage",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("prompt_tokens", sa.Integer, nullable=False),
    sa.Column("completion_tokens", sa.Integer, nullable=False),
    sa.Column("cost_usd", sa.Float, nullable=False),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Usage reports select a time range first.
    sa.Index("ix_usage_created_at", "created_at"),
)

# Vendor batches in flight (OpenAI Batch, Anthropic Message Batches): the vendor's id survives a worker's death.
batches = sa.Table(
    "batches",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("phase", sa.String(16), nullable=False),
    sa.Column("job_ids", sa.JSON, nullable=False),
    sa.Column("vendor_batch_id", sa.String(255), nullable=True),
    sa.Column("vendor_state", sa.String(32), nullable=True),
    sa.Column("poll_owner", sa.String(128), nullable=True),
    sa.Column("poll_lease_expires_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("submitted_at", UtcDateTime, nullable=True),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    # Pollers and operators read the open batches only.
    sa.Index(
        "ix_batches_open",
        "created_at",
        postgresql_where=sa.text("phase <> 'ended'"),
        sqlite_where=sa.text("phase <> 'ended'"),
    ),
)


class utc_day(FunctionElement[str]):  # noqa: N801 - SQL function constructs are lower case by convention
    """The UTC calendar day of a timestamp column as 'YYYY-MM-DD', per dialect."""

    type = sa.String()
    inherit_cache = True


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD')" % compiler.process(element.clauses, **kw)  # noqa: UP031


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (see UtcDateTime).
    return "substr(%s, 1, 10)" % compiler.process(element.clauses, **kw)  # noqa: UP031
