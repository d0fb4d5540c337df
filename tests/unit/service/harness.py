"""Wires the use cases over fakes and the in-memory queue, the way bootstrap wires the real thing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from llm_provider_service.adapters.memory_budget import InMemoryRateBudget
from llm_provider_service.adapters.memory_queue import InMemoryJobQueue
from llm_provider_service.domain.models import ComparisonRequest, OutboxEvent
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.resilience.circuit_breaker import CircuitBreakerRegistry
from llm_provider_service.resilience.retry import RetryPolicy
from llm_provider_service.service.budget_gate import BudgetGate
from llm_provider_service.service.budgets import BudgetPolicy
from llm_provider_service.service.event_factory import EventFactory, LifecycleTopics
from llm_provider_service.service.limits import ProviderLimits
from llm_provider_service.service.outbox import OutboxRelay
from llm_provider_service.service.processing import JobProcessor, ProcessingReport
from llm_provider_service.service.reconciliation import Reconciler
from llm_provider_service.service.signals import CompletionSignals
from llm_provider_service.service.submission import JobService
from tests.fakes import FakeClock, InMemoryJobStore, RecordingPublisher, ScriptedProvider

CALLBACK_TOPIC = "essay.results"


@dataclass
class Harness:
    provider: ScriptedProvider = field(default_factory=ScriptedProvider)
    max_attempts: int = 3
    failure_threshold: int = 5
    ttl_seconds: float = 3600.0
    capacity: int = 100
    store: InMemoryJobStore = field(default_factory=InMemoryJobStore)
    unsupported_params: Literal["drop", "reject"] = "drop"
    budget_policy: BudgetPolicy | None = None

    def __post_init__(self) -> None:
        self.clock = FakeClock()
        self.queue = InMemoryJobQueue(capacity=self.capacity, clock=self.clock.epoch)
        self.publisher = RecordingPublisher()
        self.signals = CompletionSignals()
        self.events = EventFactory(source_service="llm_provider_service", topics=LifecycleTopics())
        self.breakers = CircuitBreakerRegistry(
            failure_threshold=self.failure_threshold, reset_seconds=30, half_open_probes=1, clock=self.clock.monotonic
        )
        providers = {"mock": self.provider}
        catalog = default_catalog()
        self.slept: list[float] = []
        self.budgets = (
            BudgetGate(InMemoryRateBudget(self.budget_policy), self.budget_policy, clock=self.clock.epoch)
            if self.budget_policy is not None
            else None
        )
        self.jobs = JobService(
            store=self.store,
            queue=self.queue,
            providers=providers,
            catalog=catalog,
            default_provider="mock",
            job_ttl_seconds=self.ttl_seconds,
            worker_slots=4,
            events=self.events,
            signals=self.signals,
            clock=self.clock,
            unsupported_params=self.unsupported_params,
        )
        self.processor = JobProcessor(
            store=self.store,
            queue=self.queue,
            providers=providers,
            catalog=catalog,
            breakers=self.breakers,
            retry_policy=RetryPolicy(max_attempts=self.max_attempts, base_delay_seconds=1.0, max_delay_seconds=10.0),
            limits=ProviderLimits({}),
            events=self.events,
            signals=self.signals,
            clock=self.clock,
            lease_seconds=30.0,
            call_timeout_seconds=60.0,
            random=lambda: 0.5,
            budgets=self.budgets,
            sleep=self._sleep,
        )
        self.relay = OutboxRelay(
            store=self.store, publisher=self.publisher, clock=self.clock, poll_interval_seconds=0.01
        )
        self.reconciler = Reconciler(
            store=self.store,
            queue=self.queue,
            events=self.events,
            signals=self.signals,
            clock=self.clock,
            grace_seconds=0,
        )

    async def _sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds)

    async def process_next(self) -> ProcessingReport:
        leases = await self.queue.claim(max_jobs=1, lease_seconds=30)
        assert leases, "expected a claimable job"
        return await self.processor.process(leases[0])

    async def published(self) -> list[OutboxEvent]:
        while await self.relay.relay_once() > 0:
            pass
        return self.publisher.events

    async def callbacks(self) -> list[dict[str, Any]]:
        return [json.loads(event.value) for event in await self.published() if event.topic == CALLBACK_TOPIC]


def comparison(**overrides: Any) -> ComparisonRequest:
    values: dict[str, Any] = {
        "user_prompt": "Essay A: ...\n\nEssay B: ...",
        "correlation_id": "7b0c1c4e-0000-4000-8000-000000000001",
        "callback_topic": CALLBACK_TOPIC,
        "metadata": {"batch_id": "b-1", "pair": 3},
    }
    values.update(overrides)
    return ComparisonRequest(**values)
