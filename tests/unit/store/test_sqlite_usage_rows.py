"""SQLite's usage insert bypasses SQLAlchemy's binding: its rows must be exactly what SQLAlchemy would store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite

from llm_provider_service.adapters.sql_queries import SQLITE_INSERT_USAGE, USAGE_COLUMNS
from llm_provider_service.adapters.sql_rows import usage_to_row, usage_to_sqlite_params
from llm_provider_service.adapters.sql_tables import UtcDateTime
from llm_provider_service.domain.usage import UsageRecord

RECORD = UsageRecord(
    id="u1",
    source="gateway",
    provider="openai",
    model="gpt-a",
    prompt_tokens=3,
    completion_tokens=4,
    cost_usd=0.5,
    latency_ms=12,
    outcome="ok",
    created_at=datetime(2026, 3, 1, 23, 59, 59, 123456, tzinfo=UTC),
)


def _sqlalchemy_text(value: datetime) -> str:
    dialect = sqlite.dialect()
    column_type = UtcDateTime()
    bound = column_type.process_bind_param(value, dialect)
    processor = column_type.impl_instance.dialect_impl(dialect).bind_processor(dialect)
    assert processor is not None
    return str(processor(bound))


@pytest.mark.parametrize(
    "created_at",
    [
        RECORD.created_at,
        datetime(2026, 3, 2, 1, 0, 0, tzinfo=timezone(timedelta(hours=2))),  # the day changes in UTC
        datetime(2026, 12, 31, 23, 0, 0, 5, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_the_driver_parameters_match_what_sqlalchemy_binds(created_at: datetime) -> None:
    record = replace(RECORD, created_at=created_at)
    params = usage_to_sqlite_params(record)
    row = usage_to_row(record)

    assert f"INSERT INTO usage ({', '.join(USAGE_COLUMNS)}) VALUES" in SQLITE_INSERT_USAGE
    assert params[:-1] == tuple(row[name] for name in USAGE_COLUMNS[:-1])
    assert USAGE_COLUMNS[-1] == "created_at"
    assert params[-1] == _sqlalchemy_text(created_at)


def test_a_naive_timestamp_is_refused_as_before() -> None:
    with pytest.raises(ValueError, match="naive"):
        usage_to_sqlite_params(replace(RECORD, created_at=datetime(2026, 3, 1)))  # noqa: DTZ001 - the point
