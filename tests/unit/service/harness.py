"""The use cases as bootstrap wires them, over fakes and the in-memory queue, with a clock tests move."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from llm_provider_service.adapters.memory_budget import InMemoryRateBudget
from llm_provider_service.adapters.memory_queue import InMemoryJobQueue
from llm_provider_service.bootstrap import compose
from llm_provider_service.config import Settings
from llm_provider_service.domain.models import ComparisonRequest, OutboxEvent
from llm_provider_service.ports import BatchProvider, StreamingLLMProvider
from llm_provider_service.service.budget_gate import BudgetGate
from llm_provider_service.service.budgets import BudgetPolicy
from llm_provider_service.service.event_factory import EventFactory, LifecycleTopics
from llm_provider_service.service.processing_report import ProcessingReport
from tests.fakes import FakeClock, InMemoryJobStore, RecordingPublisher, ScriptedProvider

CALLBACK_TOPIC = "essay.results"


@dataclass
class Harness:
    """The real composition root (`bootstrap.compose`) over fakes, a fake clock and the in-memory queue."""

    provider: ScriptedProvider = field(default_factory=ScriptedProvider)
    max_attempts: int = 3
    failure_threshold: int = 5
    ttl_seconds: float = 3600.0
    capacity: int = 100
    store: InMemoryJobStore = field(default_factory=InMemoryJobStore)
    providers: Mapping[str, StreamingLLMProvider] | None = None
    settings_overrides: Mapping[str, Any] = field(default_factory=dict)
    sleep: Callable[[float], Awaitable[None]] | None = None  # default: record the wait and move the clock
    random: Callable[[], float] = lambda: 0.5
    budget_policy: BudgetPolicy | None = None
    unsupported_params: Literal["drop", "reject"] = "drop"
    batch_clients: Mapping[str, BatchProvider] | None = None

    def __post_init__(self) -> None:
        self.clock = FakeClock()
        self.queue = InMemoryJobQueue(capacity=self.capacity, clock=self.clock.epoch)
        self.publisher = RecordingPublisher()
        self.slept: list[float] = []
        self.budgets = (
            BudgetGate(InMemoryRateBudget(self.budget_policy), self.budget_policy, clock=self.clock.epoch)
            if self.budget_policy is not None
            else None
        )
        self.settings = test_settings(
            max_attempts=self.max_attempts,
            circuit_failure_threshold=self.failure_threshold,
            job_ttl_seconds=self.ttl_seconds,
            queue_capacity=self.capacity,
            unsupported_params=self.unsupported_params,
            **self.settings_overrides,
        )
        self.services = compose(
            self.settings,
            store=self.store,
            queue=self.queue,
            publisher=self.publisher,
            providers=self.providers if self.providers is not None else {"mock": self.provider},
            clock=self.clock,
            random=self.random,
            sleep=self.sleep or self._sleep,
            budgets=self.budgets,
            batch_clients=self.batch_clients,
        )
        self.jobs = self.services.jobs
        self.processor = self.services.processor
        self.relay = self.services.relay
        self.reconciler = self.services.reconciler
        self.breakers = self.services.breakers
        # For tests that build events of their own (the services' factory is private to them).
        self.events = EventFactory(source_service=self.settings.service_name, topics=LifecycleTopics())

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


def test_settings(**values: Any) -> Settings:
    """Settings as a test wants them: no `.env`, quick retries, four worker slots, a fast relay poll."""
    defaults: dict[str, Any] = {
        "retry_base_delay_seconds": 1.0,
        "retry_max_delay_seconds": 10.0,
        "provider_timeout_seconds": 60.0,
        "worker_concurrency": 4,
        "outbox_poll_interval_seconds": 0.01,
    }
    return Settings(_env_file=None, **{**defaults, **values})


def comparison(**overrides: Any) -> ComparisonRequest:
    values: dict[str, Any] = {
        "user_prompt": "Essay A: ...\n\nEssay B: ...",
        "correlation_id": "7b0c1c4e-0000-4000-8000-000000000001",
        "callback_topic": CALLBACK_TOPIC,
        "metadata": {"batch_id": "b-1", "pair": 3},
    }
    values.update(overrides)
    return ComparisonRequest(**values)
