"""Migrations on PostgreSQL: the CLI entry point, idempotence, concurrency, and a schema equal to the tables."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from llm_provider_service.adapters.sql_engine import create_engine
from llm_provider_service.adapters.sql_migrations import HEAD_REVISION, upgrade_database, upgrade_database_async
from llm_provider_service.adapters.sql_store import SqlJobStore
from llm_provider_service.adapters.sql_tables import metadata

pytestmark = pytest.mark.integration


def schema_differences(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


def test_upgrade_database_builds_the_schema_of_the_tables(postgres_url: str) -> None:
    upgrade_database(postgres_url)
    upgrade_database(postgres_url)  # a second run changes nothing

    async def inspect() -> tuple[str, list[object]]:
        engine = create_engine(postgres_url, pooled=False)
        try:
            async with engine.connect() as conn:
                version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
                return version, await conn.run_sync(schema_differences)
        finally:
            await engine.dispose()

    assert asyncio.run(inspect()) == (HEAD_REVISION, [])


async def test_concurrent_upgrades_are_serialised(postgres_url: str) -> None:
    await asyncio.gather(*(upgrade_database_async(postgres_url) for _ in range(4)))

    async with SqlJobStore.from_url(postgres_url) as store:
        assert await store.outbox_backlog() == 0


async def test_opening_an_unmigrated_postgresql_says_how_to_fix_it(postgres_url: str) -> None:
    with pytest.raises(RuntimeError, match="llm-provider db upgrade"):
        async with SqlJobStore.from_url(postgres_url):
            pass


async def test_opening_can_apply_the_migrations(postgres_url: str) -> None:
    async with SqlJobStore.from_url(postgres_url, apply_migrations=True) as store:
        assert await store.outbox_backlog() == 0
