"""The SQLite group commit: writes share transactions, resolve only after COMMIT, and a failure is never lost."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import exc

from llm_provider_service.adapters.sql_store import SqlJobStore
from llm_provider_service.adapters.sqlite_writer import SqliteWriter
from llm_provider_service.domain.errors import StoreUnavailableError
from tests.unit.store.contract import make_job

Write = Callable[[sa.Connection], object]


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "writer.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE item (name TEXT PRIMARY KEY)")
    return path


@pytest.fixture
async def writer(database: Path) -> AsyncIterator[SqliteWriter]:
    writer = SqliteWriter(f"sqlite+aiosqlite:///{database}")
    await writer.open()
    try:
        yield writer
    finally:
        await writer.close()


def stored(database: Path) -> set[str]:
    """What a separate connection sees: only committed rows."""
    with sqlite3.connect(database) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM item")}


def insert(name: str) -> Write:
    return lambda conn: conn.execute(sa.text("INSERT INTO item (name) VALUES (:name)"), {"name": name}).rowcount


def failing(error: Exception) -> Write:
    def write(conn: sa.Connection) -> object:
        conn.execute(sa.text("INSERT INTO item (name) VALUES ('doomed')"))
        raise error

    return write


async def test_concurrent_writes_share_one_transaction(writer: SqliteWriter, database: Path) -> None:
    results = await asyncio.gather(*(writer.write(insert(f"n{i}")) for i in range(50)))

    assert results == [1] * 50
    assert writer.transactions == 1
    assert stored(database) == {f"n{i}" for i in range(50)}


async def test_a_write_resolves_only_once_its_transaction_committed(writer: SqliteWriter, database: Path) -> None:
    seen: list[set[str]] = []

    async def write_then_look(name: str) -> None:
        await writer.write(insert(name))
        seen.append(stored(database))

    await asyncio.gather(*(write_then_look(f"n{i}") for i in range(10)))

    # Every caller, when it resumed, found the whole shared batch (its own row included) committed.
    assert seen == [{f"n{i}" for i in range(10)}] * 10


async def test_a_transient_failure_fails_every_caller_in_the_transaction(writer: SqliteWriter, database: Path) -> None:
    unavailable = exc.OperationalError("INSERT", {}, sqlite3.OperationalError("disk I/O error"))

    outcomes = await asyncio.gather(
        writer.write(insert("a")), writer.write(failing(unavailable)), writer.write(insert("b")), return_exceptions=True
    )

    assert list(outcomes) == [unavailable] * 3
    assert stored(database) == set()  # nothing of the shared transaction was applied
    assert await writer.write(insert("later")) == 1  # and the writer goes on


async def test_a_failing_write_fails_only_its_own_caller(writer: SqliteWriter, database: Path) -> None:
    bug = ValueError("a bug in one write")

    outcomes = await asyncio.gather(
        writer.write(insert("a")), writer.write(failing(bug)), writer.write(insert("b")), return_exceptions=True
    )

    assert list(outcomes) == [1, bug, 1]
    assert stored(database) == {"a", "b"}  # its own rows were rolled back with it


async def test_a_closed_writer_refuses_writes_as_unavailable(database: Path) -> None:
    writer = SqliteWriter(f"sqlite+aiosqlite:///{database}")
    await writer.open()
    queued = asyncio.ensure_future(writer.write(insert("queued")))
    await asyncio.sleep(0)
    await writer.close()

    assert await queued == 1  # what was queued before close was committed
    with pytest.raises(StoreUnavailableError):
        await writer.write(insert("late"))
    assert stored(database) == {"queued"}


async def test_concurrent_submissions_under_one_idempotency_key_share_a_transaction(tmp_path: Path) -> None:
    async with SqlJobStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}") as store:
        jobs = [make_job(key="same") for _ in range(5)] + [make_job() for _ in range(5)]

        recorded = await asyncio.gather(*(store.add(job) for job in jobs))

        # The constraint failure of the duplicates undid only their INSERTs: the first job is everyone's answer.
        assert {job.id for job in recorded[:5]} == {jobs[0].id}
        assert [job.id for job in recorded[5:]] == [job.id for job in jobs[5:]]
        for job in jobs[5:]:
            assert await store.get(job.id) is not None


async def test_the_writer_connection_has_the_store_pragmas(writer: SqliteWriter) -> None:
    pragmas = ("journal_mode", "busy_timeout", "synchronous")

    def read(conn: sa.Connection) -> list[object]:
        return [conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in pragmas]

    # WAL, a busy handler instead of failing, synchronous=NORMAL (1): as durable as the async engine's connections.
    assert await writer.write(read) == ["wal", 5000, 1]
