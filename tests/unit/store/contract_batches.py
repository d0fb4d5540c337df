"""Vendor batches in the store, as every store must keep them; mixed into the SQLite, PostgreSQL and fake suites."""

from __future__ import annotations

import uuid
from datetime import timedelta

from llm_provider_service.domain.batches import BatchPhase, BatchRecord
from llm_provider_service.domain.models import JobStatus
from llm_provider_service.ports import Store
from tests.unit.store.contract import T0, make_job, start

LONG = timedelta(hours=25)


def batch(*job_ids: str, poll_owner: str = "w1") -> BatchRecord:
    return BatchRecord(
        id=uuid.uuid4().hex,
        provider="openai",
        model="gpt-4.1",
        job_ids=job_ids,
        phase=BatchPhase.SUBMITTING,
        created_at=T0,
        updated_at=T0,
        poll_owner=poll_owner,
        poll_lease_expires_at=T0 + timedelta(seconds=30),
    )


class BatchStoreContract:
    async def test_a_batch_takes_over_only_the_jobs_its_collector_still_holds(self, store: Store) -> None:
        held, other, queued = [await store.add(make_job()) for _ in range(3)]
        await start(store, held, owner="collector")
        await start(store, other, owner="someone-else")

        record = await store.create_batch(
            batch(held.id, other.id, queued.id), collector="collector", job_lease_expires_at=T0 + LONG
        )

        assert record is not None
        assert record.job_ids == (held.id,)
        moved = await store.get(held.id)
        assert moved is not None
        assert (moved.status, moved.lease_owner) == (JobStatus.PROCESSING, record.job_owner)
        assert moved.lease_expires_at == T0 + LONG
        untouched = await store.get(other.id)
        assert untouched is not None
        assert untouched.lease_owner == "someone-else"
        assert [open_.id for open_ in await store.open_batches(limit=10)] == [record.id]

    async def test_a_batch_with_no_job_left_is_not_recorded(self, store: Store) -> None:
        job = await store.add(make_job())
        assert await store.create_batch(batch(job.id), collector="collector", job_lease_expires_at=T0 + LONG) is None
        assert await store.open_batches(limit=10) == []

    async def test_the_vendor_id_is_recorded_once_and_survives_for_the_next_poller(self, store: Store) -> None:
        job = await store.add(make_job())
        await start(store, job, owner="collector")
        record = await store.create_batch(batch(job.id), collector="collector", job_lease_expires_at=T0 + LONG)
        assert record is not None

        assert await store.batch_submitted(record.id, vendor_batch_id="batch_abc", now=T0)
        assert not await store.batch_submitted(record.id, vendor_batch_id="batch_other", now=T0)

        # The first poller's lease has not run out: another worker gets nothing; afterwards it takes over.
        assert await store.claim_batches(owner="w2", now=T0, lease_expires_at=T0 + LONG, limit=10) == []
        later = T0 + timedelta(seconds=31)
        claimed = await store.claim_batches(owner="w2", now=later, lease_expires_at=later + LONG, limit=10)
        assert [(b.id, b.vendor_batch_id, b.phase, b.poll_owner) for b in claimed] == [
            (record.id, "batch_abc", BatchPhase.SUBMITTED, "w2")
        ]
        assert claimed[0].job_ids == (job.id,)
        assert await store.claim_batches(owner="w1", now=later, lease_expires_at=later + LONG, limit=10) == []
        again = await store.claim_batches(owner="w2", now=later, lease_expires_at=later + LONG, limit=10)
        assert [b.id for b in again] == [record.id]

    async def test_an_ended_batch_is_neither_open_nor_claimable(self, store: Store) -> None:
        job = await store.add(make_job())
        await start(store, job, owner="collector")
        record = await store.create_batch(batch(job.id), collector="collector", job_lease_expires_at=T0 + LONG)
        assert record is not None

        assert await store.end_batch(record.id, vendor_state="completed", now=T0)
        assert not await store.end_batch(record.id, vendor_state="expired", now=T0)

        assert await store.open_batches(limit=10) == []
        later = T0 + LONG
        assert await store.claim_batches(owner="w1", now=later, lease_expires_at=later + LONG, limit=10) == []
