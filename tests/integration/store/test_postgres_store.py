"""The shared store behaviour on PostgreSQL (asyncpg), after `upgrade_database` on a fresh database per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from llm_provider_service.adapters.sql_migrations import upgrade_database_async
from llm_provider_service.adapters.sql_store import SqlJobStore
from tests.unit.store.contract import JobStoreContract
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
