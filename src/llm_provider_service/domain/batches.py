"""Vendor batch jobs (OpenAI Batch, Anthropic Message Batches) as the core sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from llm_provider_service.domain.errors import ProviderError
from llm_provider_service.domain.models import CompletionResponse


class BatchState(StrEnum):
    """Where a vendor batch is: still running, or ended in one of the ways a vendor ends one."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def ended(self) -> bool:
        return self is not BatchState.IN_PROGRESS


@dataclass(frozen=True, slots=True)
class VendorBatch:
    """A submitted batch: the vendor's id, its state and how many of its items are done."""

    id: str
    state: BatchState
    total: int = 0
    done: int = 0


@dataclass(frozen=True, slots=True)
class BatchItemOutcome:
    """One item of an ended batch: its answer or its error (items the vendor lost have no outcome at all)."""

    custom_id: str
    response: CompletionResponse | None = None
    error: ProviderError | None = None


class BatchPhase(StrEnum):
    """Our record of a vendor batch: being submitted, submitted (polled until it ends), or ended."""

    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """A batch as the store records it, so that any worker can resume polling it after a crash.

    Its jobs are `processing` under the lease owner `job_owner` while it is open; whoever polls the batch ends
    them under that owner, and the store's compare-and-set keeps each job's end to one.
    """

    id: str
    provider: str
    model: str
    job_ids: tuple[str, ...]
    phase: BatchPhase
    created_at: datetime
    updated_at: datetime
    vendor_batch_id: str | None = None
    submitted_at: datetime | None = None
    ended_at: datetime | None = None
    vendor_state: str | None = None
    poll_owner: str | None = None
    poll_lease_expires_at: datetime | None = None

    @property
    def job_owner(self) -> str:
        return batch_job_owner(self.id)


def batch_job_owner(batch_id: str) -> str:
    """The lease owner of a batch's jobs: the batch itself, not the worker that collected them."""
    return f"batch:{batch_id}"
