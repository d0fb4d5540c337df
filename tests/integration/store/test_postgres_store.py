"""The shared store behaviour on PostgreSQL (asyncpg), after `upgrade_database` on a fresh database per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import exc

from llm_provider_service.adapters.sql_migrations import upgrade_database_async
from llm_provider_service.adapters.sql_store import SqlJobStore
from tests.unit.store.contract import JobStoreContract, make_job
from tests.unit.store.contract_batches import BatchStoreContract
from tests.unit.store.contract_job_batches import JobBatchesContract
from tests.unit.store.contract_outbox import OutboxUsageContract
from tests.unit.store.contract_sql import SqlStoreContract
from tests.unit.store.contract_transitions import JobTransitionsContract

pytestmark = pytest.mark.integration


class TestPostgresStore(
    JobStoreContract,
    BatchStoreContract,
    JobTransitionsContract,
    OutboxUsageContract,
    SqlStoreContract,
    JobBatchesContract,
):
    @pytest.fixture
    async def store(self, postgres_url: str) -> AsyncIterator[SqlJobStore]:
        await upgrade_database_async(postgres_url)
        async with SqlJobStore.from_url(postgres_url, pool_size=5) as store:
            yield store

    async def test_concurrent_adds_share_inserts_and_each_is_durable_when_it_returns(self, store: SqlJobStore) -> None:
        jobs = [make_job(key=f"k{n % 40}") for n in range(50)]  # ten keys used twice

        results = await asyncio.gather(*(store.add(job) for job in jobs))

        assert store._adds is not None
        assert store._adds.batches < 10
        assert len({job.id for job in results}) == 40
        for job in results:  # each answer was committed before it was given: another connection sees it
            assert await store.get(job.id) == job

    async def test_a_row_the_database_refuses_fails_only_its_own_add(self, store: SqlJobStore) -> None:
        good = [make_job() for _ in range(5)]
        bad = make_job(key="k" * 300)  # longer than the column: a data error, not an outage

        outcomes = await asyncio.gather(*(store.add(job) for job in [*good, bad]), return_exceptions=True)

        assert outcomes[:5] == good
        assert isinstance(outcomes[5], exc.DBAPIError)
        assert await store.get(bad.id) is None
