"""Opening the embedded SQLite store (directory, WAL, busy timeout, migrations at open) and the dialect SQL."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from llm_provider_service.adapters import sql_queries
from llm_provider_service.adapters.sql_engine import SQLITE_BUSY_TIMEOUT_MS, create_engine, enable_sqlite_pragmas
from llm_provider_service.adapters.sql_migrations import (
    HEAD_REVISION,
    alembic_config,
    upgrade_database,
    upgrade_database_async,
)
from llm_provider_service.adapters.sql_store import SqlJobStore
from llm_provider_service.adapters.sql_tables import metadata
from tests.unit.store.contract import make_job


def schema_differences(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def test_open_creates_the_directory_and_a_migrated_wal_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a' / 'b' / 'store.db'}"

    async with SqlJobStore.from_url(url) as store:
        await store.ping()

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() == SQLITE_BUSY_TIMEOUT_MS
            assert (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one() == HEAD_REVISION
            assert await conn.run_sync(schema_differences) == []
    finally:
        await engine.dispose()


async def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    job = make_job()
    async with SqlJobStore.from_url(url) as store:
        await store.add(job)

    async with SqlJobStore.from_url(url) as store:
        assert await store.get(job.id) == job


def test_upgrade_database_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli' / 'store.db'}"

    upgrade_database(url)
    upgrade_database(url)

    assert (tmp_path / "cli" / "store.db").is_file()


def test_the_head_revision_constant_matches_the_migration_scripts() -> None:
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION


def test_the_outbox_claim_skips_rows_other_relays_hold_on_postgresql() -> None:
    sql = str(sql_queries.CLAIM_OUTBOX.compile(dialect=make_url("postgresql+asyncpg://").get_dialect()()))

    assert "FOR UPDATE SKIP LOCKED" in sql


async def test_concurrent_opens_of_a_new_file_migrate_it_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"

    await asyncio.gather(*(upgrade_database_async(url) for _ in range(4)))

    async with SqlJobStore.from_url(url) as store:
        assert await store.outbox_backlog() == 0


def test_a_new_file_locked_by_a_writer_is_switched_to_wal_once_the_writer_is_done(tmp_path: Path) -> None:
    # SQLite refuses the WAL switch at once ("database is locked", no busy wait) while another connection writes
    # to a file still in rollback mode: two processes opening a new data directory together hit that.
    path = tmp_path / "new.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (i INTEGER)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")

    def finish_writing() -> None:
        time.sleep(0.2)
        writer.execute("COMMIT")

    done = threading.Thread(target=finish_writing)
    done.start()
    opener = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        enable_sqlite_pragmas(opener, None)
        assert opener.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        done.join()
        opener.close()
        writer.close()
