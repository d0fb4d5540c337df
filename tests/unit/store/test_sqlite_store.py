"""The shared store behaviour on SQLite, the embedded default (a fresh file in a temporary directory per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from llm_provider_service.adapters.sql_store import SqlJobStore
from tests.unit.store.contract import JobStoreContract
from tests.unit.store.contract_outbox import OutboxUsageContract
from tests.unit.store.contract_transitions import JobTransitionsContract


class TestSqliteStore(JobStoreContract, JobTransitionsContract, OutboxUsageContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SqlJobStore]:
        async with SqlJobStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'store.db'}") as store:
            yield store
