"""What processing one claimed job led to (the worker's metrics and logs read it), and the batch-mode intake."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from llm_provider_service.domain.models import Job, TokenUsage
from llm_provider_service.ports import Lease

BUDGET_DEFERRED = "budget_exhausted"


class BatchIntake(Protocol):
    """Batch mode (`service.batching`): which jobs go to a vendor batch, and taking one in."""

    def handles(self, job: Job) -> bool: ...

    async def accept(self, job: Job, lease: Lease) -> ProcessingReport: ...


class Outcome(StrEnum):
    """What processing one claim led to."""

    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    RETRY_SCHEDULED = "retry_scheduled"
    DEFERRED = "deferred"  # circuit open, provider at its concurrency limit or out of budget; no attempt counted
    SKIPPED = "skipped"  # not claimable any more (finished, cancelled, taken over)
    LOST = "lost"  # the lease was lost before the result could be written
    BATCHED = "batched"  # collected for a vendor batch (batch mode); the batch ends it later


@dataclass(frozen=True, slots=True)
class ProcessingReport:
    """Facts the worker turns into metrics and logs."""

    job_id: str
    outcome: Outcome
    provider: str = ""
    model: str = ""
    attempt: int = 0
    queue_wait_seconds: float | None = None
    call_seconds: float | None = None
    end_to_end_seconds: float | None = None
    usage: TokenUsage | None = None
    cost_usd: float = 0.0
    error_kind: str | None = None
    trace_id: str | None = None
    budget_wait_seconds: float | None = None
