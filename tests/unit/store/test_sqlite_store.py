"""The shared store behaviour on SQLite, the embedded default (a fresh file in a temporary directory per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from llm_provider_service.adapters.sql_store import SqlJobStore
from llm_provider_service.adapters.sql_tables import jobs
from llm_provider_service.domain.events import JobOutcome
from llm_provider_service.domain.models import JobStatus, TokenUsage
from tests.unit.store.contract import T0, JobStoreContract, make_job, start
from tests.unit.store.contract_batches import BatchStoreContract
from tests.unit.store.contract_job_batches import JobBatchesContract
from tests.unit.store.contract_outbox import OutboxUsageContract
from tests.unit.store.contract_sql import SqlStoreContract
from tests.unit.store.contract_transitions import JobTransitionsContract


class TestSqliteStore(
    JobStoreContract,
    BatchStoreContract,
    JobTransitionsContract,
    OutboxUsageContract,
    SqlStoreContract,
    JobBatchesContract,
):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SqlJobStore]:
        async with SqlJobStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'store.db'}") as store:
            yield store

    async def test_finish_writes_the_outcome_facts_to_their_columns(self, store: SqlJobStore, tmp_path: Path) -> None:
        job = await store.add(make_job())
        await start(store, job, owner="w1")
        outcome = JobOutcome(
            JobStatus.COMPLETED,
            {"winner": "Essay A", "token_usage": {"prompt_tokens": 999}},  # the payload is not read back
            prompt_sha256="ab" * 32,
            usage=TokenUsage(prompt_tokens=12, completion_tokens=7),
            cost_usd=0.0125,
            response_time_ms=340,
        )

        assert await store.finish(job.id, outcome, owner="w1", now=T0, events=[]) is not None

        columns = (jobs.c.prompt_tokens, jobs.c.completion_tokens, jobs.c.cost_usd, jobs.c.response_time_ms)
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'store.db'}")
        try:
            async with engine.connect() as conn:
                row = (await conn.execute(sa.select(*columns, jobs.c.prompt_sha256).where(jobs.c.id == job.id))).one()
        finally:
            await engine.dispose()
        assert tuple(row) == (12, 7, 0.0125, 340, "ab" * 32)
