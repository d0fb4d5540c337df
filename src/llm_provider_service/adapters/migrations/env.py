"""Alembic environment: runs on the connection handed over by `sql_migrations`, or on `sqlalchemy.url`."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from llm_provider_service.adapters.sql_tables import metadata

config = context.config


def _run_on(connection: Connection) -> None:
    # render_as_batch: SQLite can only alter tables by copying them, which batch mode does for us.
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_url(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_on)
    finally:
        await engine.dispose()


def _main() -> None:
    connection = config.attributes.get("connection")
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    elif isinstance(connection, Connection):
        _run_on(connection)
    elif url:
        asyncio.run(_run_on_url(url))
    else:
        raise RuntimeError("no database: pass a connection in config.attributes or set sqlalchemy.url")


_main()
