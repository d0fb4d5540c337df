"""The fake store passes the same contract as the SQL store, so unit tests over it mean what they say."""

from __future__ import annotations

import pytest

from tests.fakes import InMemoryJobStore
from tests.unit.store.contract import JobStoreContract
from tests.unit.store.contract_batches import BatchStoreContract
from tests.unit.store.contract_job_batches import JobBatchesContract
from tests.unit.store.contract_outbox import OutboxUsageContract
from tests.unit.store.contract_transitions import JobTransitionsContract


class TestInMemoryStore(
    JobStoreContract, BatchStoreContract, JobTransitionsContract, OutboxUsageContract, JobBatchesContract
):
    @pytest.fixture
    def store(self) -> InMemoryJobStore:
        return InMemoryJobStore()
