"""The composition root: Settings (and any fakes) in, every service out; resources owned by one AsyncExitStack."""

from __future__ import annotations

import asyncio
import random as random_module
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from llm_provider_service import __version__, resources
from llm_provider_service.api.auth import KeyChecker
from llm_provider_service.api.context import ApiContext
from llm_provider_service.config import Settings
from llm_provider_service.observability import Metrics
from llm_provider_service.ports import BatchProvider, Clock, EventPublisher, JobQueue, Store, StreamingLLMProvider
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.resilience.circuit_breaker import CircuitBreakerRegistry, CircuitState
from llm_provider_service.resilience.retry import RetryPolicy
from llm_provider_service.service.batching import BatchConfig, BatchCoordinator, BatchFallback
from llm_provider_service.service.budget_gate import BudgetGate
from llm_provider_service.service.clock import SystemClock
from llm_provider_service.service.event_factory import EventFactory, LifecycleTopics
from llm_provider_service.service.gateway import GATEWAY_MAX_ATTEMPTS, GATEWAY_MAX_RETRY_WAIT_SECONDS, ChatGateway
from llm_provider_service.service.job_context import JobContext
from llm_provider_service.service.job_routing import JobRoutes, job_route_groups
from llm_provider_service.service.limits import ProviderLimits
from llm_provider_service.service.outbox import OutboxRelay, outbox_claim_seconds
from llm_provider_service.service.processing import JobProcessor
from llm_provider_service.service.reconciliation import Reconciler
from llm_provider_service.service.routing import RouteSpec
from llm_provider_service.service.signals import CompletionSignals
from llm_provider_service.service.submission import JobService
from llm_provider_service.service.usage_recorder import UsageRecorder
from llm_provider_service.tracing import Tracing
from llm_provider_service.worker import Worker


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a process runs, built from settings. Which parts run is the runtime's choice."""

    settings: Settings
    api: ApiContext
    jobs: JobService
    processor: JobProcessor
    worker: Worker
    relay: OutboxRelay
    reconciler: Reconciler
    gateway: ChatGateway
    breakers: CircuitBreakerRegistry
    metrics: Metrics
    queue: JobQueue
    store: Store
    clock: Clock
    usage_recorder: UsageRecorder
    batching: BatchCoordinator
    tracing: Tracing | None = None


def compose(
    settings: Settings,
    *,
    store: Store,
    queue: JobQueue,
    publisher: EventPublisher,
    providers: Mapping[str, StreamingLLMProvider],
    clock: Clock,
    registry: CollectorRegistry | None = None,
    random: Callable[[], float] = random_module.random,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    budgets: BudgetGate | None = None,
    tracing: Tracing | None = None,
    batch_clients: Mapping[str, BatchProvider] | None = None,
) -> Services:
    """Wire the use cases over already-open parts (no I/O): the one place that knows every constructor."""
    catalog = default_catalog()
    metrics = Metrics(registry or CollectorRegistry(), catalog=catalog)
    t = settings
    events = EventFactory(
        source_service=t.service_name,
        topics=LifecycleTopics(
            t.topic_request_started, t.topic_request_completed, t.topic_request_failed, t.topic_circuit_state_changed
        ),
    )
    relay = OutboxRelay(
        store=store,
        publisher=publisher,
        clock=clock,
        poll_interval_seconds=t.outbox_poll_interval_seconds,
        lock_seconds=outbox_claim_seconds(t.kafka_delivery_timeout_seconds),
        on_published=metrics.events_published.inc,
        on_failure=metrics.outbox_relay_failed,
        on_recovered=metrics.outbox_relay_recovered,
    )

    def on_circuit_change(provider: str, old: CircuitState, new: CircuitState) -> None:
        metrics.circuit_changed(provider, new.value)
        relay.publish_direct(events.circuit_changed(provider, old.value, new.value, now=clock.now()))

    breakers = CircuitBreakerRegistry(
        failure_threshold=t.circuit_failure_threshold,
        reset_seconds=t.circuit_reset_seconds,
        half_open_probes=t.circuit_half_open_probes,
        clock=clock.monotonic,
        on_state_change=on_circuit_change,
    )
    limits = ProviderLimits(t.provider_concurrency)
    context = JobContext(store, queue, events, CompletionSignals(), clock, on_events_written=relay.wake)
    usage_recorder = UsageRecorder(store)
    gateway = ChatGateway(
        providers=providers,
        catalog=catalog,
        aliases=t.model_aliases,
        breakers=breakers,
        limits=limits,
        retry_policy=_retry_policy(t, GATEWAY_MAX_ATTEMPTS),
        max_retry_wait_seconds=GATEWAY_MAX_RETRY_WAIT_SECONDS,
        call_timeout_seconds=t.provider_timeout_seconds,
        recorder=usage_recorder,
        clock=clock,
        sleep=sleep,
        random=random,
        on_call=metrics.record_usage,
        unsupported_params=t.unsupported_params,
        budgets=budgets,
        budget_wait_seconds=t.gateway_budget_wait_seconds,
        model_routes={
            name: RouteSpec(tuple(spec.targets), spec.strategy, tuple(spec.weights))
            for name, spec in t.model_routes.items()
        },
        deployment_vendors={name: spec.vendor for name, spec in t.deployments.items()},
    )
    # Jobs share the gateway's routes (and its aliases, as one-target routes).
    job_routes = JobRoutes(
        job_route_groups(gateway.route_groups(), t.model_aliases, gateway.route, providers=providers),
        breakers=breakers,
        limits=limits,
        random=random,
    )
    jobs = JobService(
        context,
        providers=providers,
        catalog=catalog,
        default_provider=t.default_provider.value,
        job_ttl_seconds=t.job_ttl_seconds,
        worker_slots=t.worker_concurrency,
        unsupported_params=t.unsupported_params,
        routes=job_routes,
    )
    processor = JobProcessor(
        context,
        providers=providers,
        catalog=catalog,
        breakers=breakers,
        retry_policy=_retry_policy(t, t.max_attempts),
        limits=limits,
        lease_seconds=t.lease_seconds,
        call_timeout_seconds=t.provider_timeout_seconds,
        random=random,
        budgets=budgets,
        sleep=sleep,
        routes=job_routes,
    )
    reconciler = Reconciler(
        context, outbox=store, outbox_retention_seconds=t.outbox_retention_seconds, routes=job_routes
    )
    worker = Worker(
        queue=queue,
        store=store,
        processor=processor,
        clock=clock,
        metrics=metrics,
        concurrency=t.worker_concurrency,
        lease_seconds=t.lease_seconds,
        usage=usage_recorder,
        tracing=tracing,
    )
    batching = BatchCoordinator(
        context,
        store=store,
        clients=(
            _batch_clients(providers, submit_headers=t.batch_submit_headers) if batch_clients is None else batch_clients
        ),
        catalog=catalog,
        retry_policy=_retry_policy(t, t.max_attempts),
        config=BatchConfig(
            window_seconds=t.batch_window_seconds,
            max_size=t.batch_max_size,
            poll_interval_seconds=t.batch_poll_interval_seconds,
            job_lease_seconds=t.batch_job_lease_seconds,
            fallback=BatchFallback(t.batch_fallback),
            collector_lease_seconds=t.lease_seconds,
        ),
        on_report=worker.record,
        on_batch=lambda provider, state: metrics.vendor_batches.labels(provider, state).inc(),
        budgets=budgets,
    )
    processor.batching = batching
    configured = {name for name, vendor in t.vendors.items() if vendor.api_key or vendor.base_url} | {"mock"}
    api = ApiContext(
        jobs=jobs,
        outbox=store,
        usage=store,
        queue=queue,
        providers=providers,
        configured_providers=frozenset(configured),
        catalog=catalog,
        breakers=breakers,
        limits=limits,
        keys=KeyChecker(t.api_keys, t.admin_key, allow_anonymous_jobs=t.allow_anonymous_jobs),
        metrics=metrics,
        readiness_checks={"store": store.ping, "queue": queue.stats},
        max_wait_seconds=t.max_wait_seconds,
        version=__version__,
        gateway=gateway,
        idempotency_from=t.idempotency_from,
        budgets=budgets,
        batches=store,
    )
    return Services(
        t, api, jobs, processor, worker, relay, reconciler, gateway, breakers, metrics, queue, store, clock,
        usage_recorder, batching, tracing,
    )  # fmt: skip


def _retry_policy(settings: Settings, max_attempts: int) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=max_attempts,
        base_delay_seconds=settings.retry_base_delay_seconds,
        max_delay_seconds=settings.retry_max_delay_seconds,
    )


@asynccontextmanager
async def build_services(
    settings: Settings,
    *,
    store: Store | None = None,
    queue: JobQueue | None = None,
    publisher: EventPublisher | None = None,
    providers: Mapping[str, StreamingLLMProvider] | None = None,
    clock: Clock | None = None,
    registry: CollectorRegistry | None = None,
    budgets: BudgetGate | None = None,
) -> AsyncIterator[Services]:
    """Open what settings ask for (parts passed in are used as they are, and not closed here), then compose."""
    # `is None`, not `or`: a fake may well be falsy (an empty in-memory queue has a length).
    async with AsyncExitStack() as stack:
        if store is None:
            store = await resources.open_store(settings, stack)
        if queue is None:
            queue = await resources.open_queue(settings, stack)
        if publisher is None:
            publisher = await resources.open_publisher(settings, stack)
        if providers is None:
            providers = await resources.open_providers(settings, stack)
        if budgets is None:
            budgets = await resources.open_budgets(settings, stack)
        yield compose(
            settings,
            store=store,
            queue=queue,
            publisher=publisher,
            providers=providers,
            clock=clock if clock is not None else SystemClock(),
            registry=registry,
            budgets=budgets,
            tracing=resources.open_tracing(settings, stack),
        )


def _batch_clients(
    providers: Mapping[str, StreamingLLMProvider], *, submit_headers: Mapping[str, str]
) -> Mapping[str, BatchProvider]:
    """The vendor batch clients; their modules (and aiohttp) are imported only when such a vendor is configured."""
    if not {"openai", "anthropic"} & providers.keys():
        return {}
    from llm_provider_service.providers.batch_registry import build_batch_clients

    return build_batch_clients(providers, submit_headers=submit_headers)
