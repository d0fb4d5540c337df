"""The composition root: Settings in, every service out, opened and closed in one AsyncExitStack."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from llm_provider_service import __version__
from llm_provider_service.adapters.jsonl_events import JsonlEventPublisher
from llm_provider_service.adapters.memory_budget import InMemoryRateBudget
from llm_provider_service.adapters.memory_queue import InMemoryJobQueue
from llm_provider_service.adapters.sql_store import SqlJobStore
from llm_provider_service.api.auth import KeyChecker
from llm_provider_service.api.context import ApiContext
from llm_provider_service.config import Settings
from llm_provider_service.domain.usage import UsageRecord
from llm_provider_service.mock.engine import MockEngine
from llm_provider_service.mock.profile import MockProfile
from llm_provider_service.observability import Metrics
from llm_provider_service.ports import Clock, EventPublisher, JobQueue, JobStore, RateBudget
from llm_provider_service.providers.http_client import open_http_session
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.providers.mock import MockProvider
from llm_provider_service.providers.registry import VendorEndpoint, build_provider_registry
from llm_provider_service.resilience.circuit_breaker import CircuitBreakerRegistry, CircuitState
from llm_provider_service.resilience.retry import RetryPolicy
from llm_provider_service.service.budget_gate import BudgetGate
from llm_provider_service.service.budgets import BudgetPolicy
from llm_provider_service.service.clock import SystemClock
from llm_provider_service.service.event_factory import EventFactory, LifecycleTopics
from llm_provider_service.service.gateway import (
    GATEWAY_MAX_ATTEMPTS,
    GATEWAY_MAX_RETRY_WAIT_SECONDS,
    ChatGateway,
    Route,
)
from llm_provider_service.service.limits import ProviderLimits
from llm_provider_service.service.outbox import OutboxRelay
from llm_provider_service.service.processing import JobProcessor
from llm_provider_service.service.reconciliation import Reconciler
from llm_provider_service.service.signals import CompletionSignals
from llm_provider_service.service.submission import JobService
from llm_provider_service.service.usage_recorder import UsageRecorder
from llm_provider_service.tracing import Tracing


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a process runs, built from settings. Which parts run is the runtime's choice."""

    settings: Settings
    api: ApiContext
    processor: JobProcessor
    relay: OutboxRelay
    reconciler: Reconciler
    metrics: Metrics
    queue: JobQueue
    store: JobStore
    clock: Clock
    usage_recorder: UsageRecorder
    tracing: Tracing | None = None


def vendor_endpoints(settings: Settings) -> dict[str, VendorEndpoint]:
    return {
        "anthropic": VendorEndpoint(settings.anthropic_api_key, settings.anthropic_base_url),
        "openai": VendorEndpoint(settings.openai_api_key, settings.openai_base_url),
        "google": VendorEndpoint(settings.gemini_api_key, settings.gemini_base_url),
        "openrouter": VendorEndpoint(settings.openrouter_api_key, settings.openrouter_base_url),
        "openai_compatible": VendorEndpoint(settings.openai_compatible_api_key, settings.openai_compatible_base_url),
    }


def mock_profile(settings: Settings) -> MockProfile:
    return MockProfile(
        seed=settings.mock_seed,
        performance_mode=settings.mock_performance_mode,
        latency_model=settings.mock_latency_model,
        latency_ms=settings.mock_latency_ms,
        latency_min_ms=settings.mock_latency_min_ms,
        latency_max_ms=settings.mock_latency_max_ms,
        latency_p99_ms=settings.mock_latency_p99_ms,
        ttft_ms=settings.mock_ttft_ms,
        inter_token_ms=settings.mock_inter_token_ms,
        fault_rates=settings.mock_fault_rates,
        burst_every=settings.mock_burst_every,
        burst_length=settings.mock_burst_length,
        burst_kind=settings.mock_burst_kind,
        timeout_seconds=settings.mock_timeout_seconds,
        rate_limit_requests=settings.mock_rate_limit_requests,
        rate_limit_tokens=settings.mock_rate_limit_tokens,
        rate_limit_window_seconds=settings.mock_rate_limit_window_seconds,
    )


def budget_policy(settings: Settings) -> BudgetPolicy:
    return BudgetPolicy(
        window_seconds=settings.budget_window_seconds,
        burst_fraction=settings.budget_burst_fraction,
        headroom_fraction=settings.budget_headroom_fraction,
        horizon_seconds=settings.budget_horizon_seconds,
        max_defer_seconds=settings.budget_max_defer_seconds,
        configured=settings.budgets,
        learn=settings.budget_learn,
    )


async def _open_budgets(settings: Settings, stack: AsyncExitStack) -> BudgetGate | None:
    """The rate-budget gate: shared through Redis when there is one, else in this process; None when off."""
    if not settings.budgets and not settings.budget_learn:
        return None
    policy = budget_policy(settings)
    budget: RateBudget
    if settings.redis_url:
        from llm_provider_service.adapters.redis_budget import RedisRateBudget

        budget = await stack.enter_async_context(
            RedisRateBudget.from_url(settings.redis_url, policy, namespace=settings.redis_namespace)
        )
    else:
        budget = InMemoryRateBudget(policy)
    return BudgetGate(budget, policy, clock=time.time)


def _gateway_observer(metrics: Metrics) -> Callable[[Route, UsageRecord], None]:
    """Counts each gateway call inline (cheap); the label is the manifest model or "other", never free text."""

    # `.labels()` takes a lock and builds a key on every call; the children are cached per label set
    # (bounded: providers x manifest models or "other" x outcomes).
    children: dict[tuple[str, str, str], tuple[Counter, Counter, Counter, Counter]] = {}

    def observe(route: Route, record: UsageRecord) -> None:
        key = (record.provider, route.metric_model, record.outcome)
        cached = children.get(key)
        if cached is None:
            provider, model, outcome = key
            cached = children[key] = (
                metrics.provider_calls.labels(provider, model, outcome),
                metrics.tokens.labels(provider, model, "prompt"),
                metrics.tokens.labels(provider, model, "completion"),
                metrics.cost_usd.labels(provider, model),
            )
        calls, prompt_tokens, completion_tokens, cost_usd = cached
        calls.inc()
        if record.prompt_tokens or record.completion_tokens:
            prompt_tokens.inc(record.prompt_tokens)
            completion_tokens.inc(record.completion_tokens)
            cost_usd.inc(record.cost_usd)

    return observe


async def _open_queue(settings: Settings, stack: AsyncExitStack) -> JobQueue:
    if settings.redis_url:
        from llm_provider_service.adapters.redis_queue import RedisJobQueue

        return await stack.enter_async_context(
            RedisJobQueue.from_url(
                settings.redis_url, capacity=settings.queue_capacity, namespace=settings.redis_namespace
            )
        )
    return InMemoryJobQueue(capacity=settings.queue_capacity)


async def _open_publisher(settings: Settings, stack: AsyncExitStack) -> EventPublisher:
    if settings.kafka_bootstrap_servers:
        from llm_provider_service.adapters.kafka_events import KafkaEventPublisher

        return await stack.enter_async_context(
            KafkaEventPublisher(bootstrap_servers=settings.kafka_bootstrap_servers, client_id=settings.kafka_client_id)
        )
    return await stack.enter_async_context(JsonlEventPublisher(settings.resolved_events_path))


def _open_tracing(settings: Settings, stack: AsyncExitStack) -> Tracing | None:
    if not settings.otlp_endpoint:
        return None
    tracing = Tracing.to_otlp(settings.otlp_endpoint, service_name=settings.service_name)
    stack.callback(tracing.close)
    return tracing


@asynccontextmanager
async def build_services(settings: Settings, *, registry: CollectorRegistry | None = None) -> AsyncIterator[Services]:
    clock = SystemClock()
    metrics = Metrics(registry or CollectorRegistry())
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(SqlJobStore.from_url(settings.resolved_database_url))
        queue = await _open_queue(settings, stack)
        budgets = await _open_budgets(settings, stack)
        publisher = await _open_publisher(settings, stack)
        catalog = default_catalog()
        session = await stack.enter_async_context(
            open_http_session(
                timeout_seconds=settings.provider_timeout_seconds,
                connect_timeout_seconds=settings.provider_connect_timeout_seconds,
            )
        )
        registry_of_providers = build_provider_registry(
            session=session,
            catalog=catalog,
            mock=MockProvider(MockEngine(mock_profile(settings))),
            endpoints=vendor_endpoints(settings),
        )
        providers = registry_of_providers.providers
        events = EventFactory(
            source_service=settings.service_name,
            topics=LifecycleTopics(
                settings.topic_request_started,
                settings.topic_request_completed,
                settings.topic_request_failed,
                settings.topic_circuit_state_changed,
            ),
        )
        signals = CompletionSignals()
        relay = OutboxRelay(
            store=store,
            publisher=publisher,
            clock=clock,
            poll_interval_seconds=settings.outbox_poll_interval_seconds,
            on_published=metrics.events_published.inc,
        )

        def on_circuit_change(provider: str, old: CircuitState, new: CircuitState) -> None:
            metrics.circuit_changed(provider, new.value)
            relay.publish_direct(events.circuit_changed(provider, old.value, new.value, now=clock.now()))

        breakers = CircuitBreakerRegistry(
            failure_threshold=settings.circuit_failure_threshold,
            reset_seconds=settings.circuit_reset_seconds,
            half_open_probes=settings.circuit_half_open_probes,
            clock=clock.monotonic,
            on_state_change=on_circuit_change,
        )
        limits = ProviderLimits(settings.provider_concurrency)
        jobs = JobService(
            store=store,
            queue=queue,
            providers=providers,
            catalog=catalog,
            default_provider=settings.default_provider.value,
            job_ttl_seconds=settings.job_ttl_seconds,
            worker_slots=settings.worker_concurrency,
            events=events,
            signals=signals,
            clock=clock,
            unsupported_params=settings.unsupported_params,
        )
        processor = JobProcessor(
            store=store,
            queue=queue,
            providers=providers,
            catalog=catalog,
            breakers=breakers,
            retry_policy=RetryPolicy(
                max_attempts=settings.max_attempts,
                base_delay_seconds=settings.retry_base_delay_seconds,
                max_delay_seconds=settings.retry_max_delay_seconds,
            ),
            limits=limits,
            events=events,
            signals=signals,
            clock=clock,
            lease_seconds=settings.lease_seconds,
            call_timeout_seconds=settings.provider_timeout_seconds,
            random=random.random,
            on_events_written=relay.wake,
            budgets=budgets,
        )
        reconciler = Reconciler(
            store=store,
            queue=queue,
            events=events,
            signals=signals,
            clock=clock,
            outbox_retention_seconds=settings.outbox_retention_seconds,
            on_events_written=relay.wake,
        )
        usage_recorder = UsageRecorder(store)
        gateway = ChatGateway(
            providers=providers,
            catalog=catalog,
            aliases=settings.model_aliases,
            breakers=breakers,
            limits=limits,
            retry_policy=RetryPolicy(
                max_attempts=GATEWAY_MAX_ATTEMPTS,
                base_delay_seconds=settings.retry_base_delay_seconds,
                max_delay_seconds=settings.retry_max_delay_seconds,
            ),
            max_retry_wait_seconds=GATEWAY_MAX_RETRY_WAIT_SECONDS,
            call_timeout_seconds=settings.provider_timeout_seconds,
            recorder=usage_recorder,
            clock=clock,
            random=random.random,
            on_call=_gateway_observer(metrics),
            unsupported_params=settings.unsupported_params,
        )
        api = ApiContext(
            jobs=jobs,
            store=store,
            usage=store,
            queue=queue,
            providers=providers,
            configured_providers=frozenset(providers),
            catalog=catalog,
            breakers=breakers,
            limits=limits,
            keys=KeyChecker(settings.api_keys, settings.admin_key, allow_anonymous_jobs=settings.allow_anonymous_jobs),
            metrics=metrics,
            readiness_checks={"store": store.ping, "queue": queue.stats},
            max_wait_seconds=settings.max_wait_seconds,
            version=__version__,
            gateway=gateway,
            idempotency_from=settings.idempotency_from,
        )
        yield Services(
            settings=settings,
            api=api,
            processor=processor,
            relay=relay,
            reconciler=reconciler,
            metrics=metrics,
            queue=queue,
            store=store,
            clock=clock,
            usage_recorder=usage_recorder,
            tracing=_open_tracing(settings, stack),
        )
