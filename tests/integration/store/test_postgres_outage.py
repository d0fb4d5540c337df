"""PostgreSQL stopped and restarted under an open store: 503-style errors, nothing half-recorded, then recovery."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from llm_provider_service.adapters.sql_migrations import upgrade_database_async
from llm_provider_service.adapters.sql_store import SqlJobStore
from llm_provider_service.domain.errors import StoreUnavailableError
from llm_provider_service.domain.models import JobStatus
from llm_provider_service.infra import postgres_admin
from llm_provider_service.infra.postgres_server import PostgresServer
from tests.unit.store.contract import make_job

pytestmark = pytest.mark.integration


async def test_a_stopped_database_is_unavailable_until_it_returns(postgres_server: PostgresServer) -> None:
    await asyncio.to_thread(postgres_server.start)  # a no-op unless an earlier test left it stopped
    name = f"outage_{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(postgres_admin.create_database, postgres_server.url, name)
    url = postgres_admin.asyncpg_url(postgres_admin.with_database(postgres_server.url, name))
    await upgrade_database_async(url)
    async with SqlJobStore.from_url(url, pool_size=4) as store:
        recorded = await store.add(make_job())
        # Keep several pooled connections open, so that all of them go stale at once.
        await asyncio.gather(*(store.get(recorded.id) for _ in range(8)))

        await asyncio.to_thread(postgres_server.stop)
        try:
            with pytest.raises(StoreUnavailableError) as raised:
                await store.add(make_job())
            with pytest.raises(StoreUnavailableError):
                await store.ping()
        finally:
            await asyncio.to_thread(postgres_server.start)

        # One failure invalidates the whole pool: the first calls after the restart already succeed.
        await store.ping()
        after = await store.add(make_job())
        counts = await store.status_counts()

    await asyncio.to_thread(postgres_admin.drop_database, postgres_server.url, name)
    assert raised.value.retry_after_seconds == 1
    # Only the jobs recorded while the database was up exist.
    assert counts == dict.fromkeys(JobStatus, 0) | {JobStatus.QUEUED: 2}
    assert after.status == JobStatus.QUEUED
