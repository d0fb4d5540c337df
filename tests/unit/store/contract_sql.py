"""What only the SQL stores promise beyond the shared contract: one transaction, columns, the database's errors."""

from __future__ import annotations

import pytest
from sqlalchemy import exc

from llm_provider_service.adapters.sql_store import SqlJobStore
from llm_provider_service.domain.events import JobOutcome
from llm_provider_service.domain.models import JobStatus
from tests.unit.store.contract import LEASE, T0, event, make_job


class SqlStoreContract:
    """Mixed into the SQLite and PostgreSQL test classes (not the fake's): their `store` is a `SqlJobStore`."""

    async def test_finish_is_all_or_nothing(self, store: SqlJobStore) -> None:
        job = await store.add(make_job())
        taken = event(job.id)
        await store.begin_attempt(job.id, owner="w1", now=T0, lease_expires_at=T0 + LEASE, events=[taken])

        # A clashing event id makes the outbox insert fail after the state UPDATE ran.
        with pytest.raises(exc.IntegrityError):
            await store.finish(
                job.id,
                JobOutcome(JobStatus.COMPLETED, {"x": 1}),
                owner="w1",
                now=T0,
                events=[event(job.id, "completed"), taken],
            )

        stored = await store.get(job.id)
        assert stored is not None
        assert (stored.status, stored.result) == (JobStatus.PROCESSING, None)
        assert await store.outbox_backlog() == 1
