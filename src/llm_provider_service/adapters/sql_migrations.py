"""Running the packaged Alembic migrations: `upgrade_database` for the CLI, `migrate` for an open engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from llm_provider_service.adapters.sql_engine import create_engine, sqlite_file, store_errors

MIGRATIONS_DIRECTORY = Path(__file__).with_name("migrations")
# Serialises concurrent upgrades (several processes starting at once) on PostgreSQL.
MIGRATION_LOCK_KEY = 7_265_118_734


def alembic_config() -> Config:
    """Alembic settings pointing at the migrations inside the installed package (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    return config


def _upgrade_on(connection: Connection, revision: str) -> None:
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
