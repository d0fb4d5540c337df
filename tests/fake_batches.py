"""The batch half of the in-memory store: the same contract as the SQL store's (tests/unit/store/contract_batches)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from llm_provider_service.domain.batches import BatchPhase, BatchRecord
from llm_provider_service.domain.models import Job, JobStatus


class InMemoryBatches:
    """Mixed into `InMemoryJobStore`: batches by id, next to its jobs."""

    jobs: dict[str, Job]
    vendor_batches: dict[str, BatchRecord]

    def _check(self) -> None: ...

    async def create_batch(
        self, batch: BatchRecord, *, collector: str, job_lease_expires_at: datetime
    ) -> BatchRecord | None:
        self._check()
        moved = []
        for job_id in batch.job_ids:
            job = self.jobs.get(job_id)
            if job is not None and job.status == JobStatus.PROCESSING and job.lease_owner == collector:
                moved.append(job_id)
        if not moved:
            return None
        for job_id in moved:
            self.jobs[job_id] = replace(
                self.jobs[job_id], lease_owner=batch.job_owner, lease_expires_at=job_lease_expires_at
            )
        record = replace(batch, job_ids=tuple(moved))
        self.vendor_batches[batch.id] = record
        return record

    async def batch_submitted(self, batch_id: str, *, vendor_batch_id: str, now: datetime) -> bool:
        self._check()
        batch = self.vendor_batches.get(batch_id)
        if batch is None or batch.phase is not BatchPhase.SUBMITTING:
            return False
        self.vendor_batches[batch_id] = replace(
            batch, phase=BatchPhase.SUBMITTED, vendor_batch_id=vendor_batch_id, submitted_at=now, updated_at=now
        )
        return True

    async def claim_batches(
        self, *, owner: str, now: datetime, lease_expires_at: datetime, limit: int
    ) -> list[BatchRecord]:
        self._check()
        claimed: list[BatchRecord] = []
        for batch in sorted(self.vendor_batches.values(), key=lambda batch: batch.created_at):
            if len(claimed) >= limit:
                break
            if batch.phase is BatchPhase.ENDED:
                continue
            lease = batch.poll_lease_expires_at
            if batch.poll_owner == owner or lease is None or lease <= now:
                batch = replace(batch, poll_owner=owner, poll_lease_expires_at=lease_expires_at)
                self.vendor_batches[batch.id] = batch
                claimed.append(batch)
        return claimed

    async def end_batch(self, batch_id: str, *, vendor_state: str, now: datetime) -> bool:
        self._check()
        batch = self.vendor_batches.get(batch_id)
        if batch is None or batch.phase is BatchPhase.ENDED:
            return False
        self.vendor_batches[batch_id] = replace(
            batch, phase=BatchPhase.ENDED, vendor_state=vendor_state, ended_at=now, updated_at=now
        )
        return True

    async def open_batches(self, *, limit: int) -> list[BatchRecord]:
        self._check()
        open_ = [batch for batch in self.vendor_batches.values() if batch.phase is not BatchPhase.ENDED]
        return sorted(open_, key=lambda batch: batch.created_at)[:limit]
