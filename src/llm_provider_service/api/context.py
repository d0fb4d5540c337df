"""Everything the HTTP edge needs, handed over by the composition root (no globals, nothing at import)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from llm_provider_service.api.auth import KeyChecker
from llm_provider_service.domain.catalog import ModelCatalog
from llm_provider_service.observability import Metrics
from llm_provider_service.ports import BatchStore, JobQueue, LLMProvider, OutboxStore, UsageStore
from llm_provider_service.resilience.circuit_breaker import CircuitBreakerRegistry
from llm_provider_service.service.budget_gate import BudgetGate
from llm_provider_service.service.gateway import ChatGateway
from llm_provider_service.service.limits import ProviderLimits
from llm_provider_service.service.submission import JobService

ReadinessCheck = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class ApiContext:
    jobs: JobService
    outbox: OutboxStore
    usage: UsageStore
    queue: JobQueue
    providers: Mapping[str, LLMProvider]
    configured_providers: frozenset[str]
    catalog: ModelCatalog
    breakers: CircuitBreakerRegistry
    limits: ProviderLimits
    keys: KeyChecker
    metrics: Metrics
    readiness_checks: Mapping[str, ReadinessCheck]
    max_wait_seconds: float
    version: str
    gateway: ChatGateway | None = None  # the OpenAI-compatible `/v1` routes; absent, they answer 404
    idempotency_from: str | None = None  # "correlation_id": a job's correlation_id is its Idempotency-Key by default
    budgets: BudgetGate | None = None  # rate budgets, shown by GET /api/v1/providers
    batches: BatchStore | None = None  # open vendor batches, shown by GET /api/v1/providers
