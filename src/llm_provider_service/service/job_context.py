"""What every job use case shares: the store of record, the queue, lifecycle events and outcomes, signals, time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from llm_provider_service.ports import Clock, JobQueue, JobStore
from llm_provider_service.service.event_factory import EventFactory
from llm_provider_service.service.outcomes import Outcomes
from llm_provider_service.service.signals import CompletionSignals


def _nothing() -> None:
    return None


@dataclass(frozen=True, slots=True)
class JobContext:
    """Handed to `JobService`, `JobProcessor` and `Reconciler` alike, so the composition root wires it once.

    `on_events_written` is called after a transaction wrote outbox events (the relay's wake-up);
    `outcomes` names the same service as the envelopes `events` builds.
    """

    store: JobStore
    queue: JobQueue
    events: EventFactory
    signals: CompletionSignals
    clock: Clock
    on_events_written: Callable[[], None] = _nothing
    outcomes: Outcomes = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcomes", Outcomes.for_events(self.events))
