"""Vendor batch jobs (OpenAI Batch, Anthropic Message Batches) as the core sees them."""

from __future__ import annotations

from dataclasses import dataclass
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
