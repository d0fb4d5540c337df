"""A vendor batch API fake (the `BatchProvider` port): batches end when a test says, items lost or failed by script."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from llm_provider_service.domain.batches import BatchItemOutcome, BatchState, VendorBatch
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import CompletionRequest
from tests.fakes import comparison_answer


@dataclass
class FakeBatchVendor:
    """Holds submitted batches; `end(batch_id, state)` ends one. Items in `lost` are missing from the results,
    items in `errors` come back as that error; in an expired or cancelled batch, items in `unfinished` do too."""

    name: str = "openai"
    submitted: dict[str, list[str]] = field(default_factory=dict)
    states: dict[str, BatchState] = field(default_factory=dict)
    lost: set[str] = field(default_factory=set)
    errors: dict[str, ProviderError] = field(default_factory=dict)
    unfinished: set[str] = field(default_factory=set)
    refuse_submit: ProviderError | None = None
    status_calls: int = 0

    async def submit_batch(self, items: Sequence[tuple[str, CompletionRequest]]) -> VendorBatch:
        if self.refuse_submit is not None:
            raise self.refuse_submit
        batch_id = f"vb-{len(self.submitted) + 1}"
        self.submitted[batch_id] = [custom_id for custom_id, _ in items]
        self.states[batch_id] = BatchState.IN_PROGRESS
        return VendorBatch(batch_id, BatchState.IN_PROGRESS, len(items), 0)

    def end(self, batch_id: str, state: BatchState = BatchState.COMPLETED) -> None:
        self.states[batch_id] = state

    async def batch_status(self, batch_id: str) -> VendorBatch:
        self.status_calls += 1
        return VendorBatch(batch_id, self.states[batch_id], len(self.submitted[batch_id]), 0)

    async def batch_results(self, batch_id: str, requests: Mapping[str, CompletionRequest]) -> list[BatchItemOutcome]:
        state = self.states[batch_id]
        outcomes = []
        for custom_id in self.submitted[batch_id]:
            if custom_id not in requests or custom_id in self.lost:
                continue
            if custom_id in self.errors:
                outcomes.append(BatchItemOutcome(custom_id, error=self.errors[custom_id]))
            elif state in (BatchState.EXPIRED, BatchState.CANCELLED) and custom_id in self.unfinished:
                kind = ProviderErrorKind.TIMEOUT if state is BatchState.EXPIRED else ProviderErrorKind.SERVER_ERROR
                error = ProviderError(kind, f"batch item {state.value}", provider=self.name)
                outcomes.append(BatchItemOutcome(custom_id, error=error))
            else:
                outcomes.append(BatchItemOutcome(custom_id, response=comparison_answer()))
        return outcomes

    async def cancel_batch(self, batch_id: str) -> VendorBatch:
        self.states[batch_id] = BatchState.CANCELLED
        return await self.batch_status(batch_id)
