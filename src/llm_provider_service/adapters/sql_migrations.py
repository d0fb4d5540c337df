"""Running the packaged Alembic migrations: `upgrade_database` for the CLI, `migrate` for an open engine.

Alembic (and Mako under it) is imported only when a migration has to run: a process starting on a current schema
learns that from one SELECT of the version table, which keeps start-up short and Alembic out of its memory.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from llm_provider_service.adapters.sql_engine import create_engine, sqlite_file, store_errors
from llm_provider_service.domain.errors import StoreUnavailableError

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS_DIRECTORY = Path(__file__).with_name("migrations")
# Serialises concurrent upgrades (several processes starting at once) on PostgreSQL.
MIGRATION_LOCK_KEY = 7_265_118_734
# The newest revision in migrations/versions (a unit test keeps the two equal).
HEAD_REVISION = "0002"
VERSION_TABLE = "alembic_version"


def alembic_config() -> Config:
    """Alembic settings pointing at the migrations inside the installed package (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    return config


def _upgrade_on(connection: Connection, revision: str) -> None:
    if revision in ("head", HEAD_REVISION) and _current_revision(connection) == HEAD_REVISION:
        return  # already current: nothing for Alembic to do
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema of `engine`'s database to `revision`, in one transaction, one process at a time."""
    with store_errors("migrate"):
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            elif connection.dialect.name == "sqlite":
                # Take the write lock first: another process migrating waits (busy_timeout) and then finds
                # the schema current, instead of both creating the same tables.
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
            await connection.run_sync(_upgrade_on, revision)


def _current_revision(connection: Connection) -> str | None:
    """The schema's revision (what Alembic would read), or None for a database that was never migrated."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    revision = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()  # noqa: S608 - constant
    return str(revision) if revision is not None else None


async def check_schema(engine: AsyncEngine) -> None:
    """Refuse a database that was never migrated, with the fix in the message.

    An unreachable database is only logged: the store answers 503 until it returns, and a process that
    starts during an outage should not crash-loop.
    """
    try:
        with store_errors("check_schema"):
            async with engine.connect() as connection:
                revision = await connection.run_sync(_current_revision)
    except StoreUnavailableError:
        logger.warning("database unreachable at start; requests get 503 until it answers")
        return
    if revision is None:
        raise RuntimeError("the database has no schema: run `llm-provider db upgrade` first")
    if revision != HEAD_REVISION:
        logger.warning("database schema is at revision %s, this build expects %s", revision, HEAD_REVISION)


async def upgrade_database_async(url: str, revision: str = "head") -> None:
    """Async form of `upgrade_database`, for callers already inside an event loop."""
    path = sqlite_file(url)
    if path is not None:
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    engine = create_engine(url, pooled=False)
    try:
        await migrate(engine, revision)
    finally:
        await engine.dispose()


def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply the migrations to the database at `url` (SQLAlchemy async URL). Synchronous: it runs its own
    event loop, so call it from the CLI, not from a coroutine (use `upgrade_database_async` there).
    Raises `StoreUnavailableError` if the database cannot be reached."""
    asyncio.run(upgrade_database_async(url, revision))
