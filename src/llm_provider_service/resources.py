"""The real parts Settings ask for, each opened on the caller's AsyncExitStack (which closes it): bootstrap's I/O."""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import AsyncExitStack

from llm_provider_service.adapters.jsonl_events import JsonlEventPublisher
from llm_provider_service.adapters.memory_budget import InMemoryRateBudget
from llm_provider_service.adapters.memory_queue import InMemoryJobQueue
from llm_provider_service.adapters.sql_store import SqlJobStore
from llm_provider_service.config import Settings
from llm_provider_service.mock.engine import MockEngine
from llm_provider_service.mock.profile import MockProfile
from llm_provider_service.ports import EventPublisher, JobQueue, RateBudget, Store, StreamingLLMProvider
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.providers.mock import MockProvider
from llm_provider_service.service.budget_gate import BudgetGate
from llm_provider_service.service.budgets import BudgetPolicy
from llm_provider_service.tracing import Tracing


async def open_store(settings: Settings, stack: AsyncExitStack) -> Store:
    """PostgreSQL at `database_url`, else SQLite in `data_dir`."""
    return await stack.enter_async_context(SqlJobStore.from_url(settings.resolved_database_url))


def mock_profile(settings: Settings) -> MockProfile:
    return MockProfile(**settings.mock.model_dump())


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


async def open_budgets(settings: Settings, stack: AsyncExitStack) -> BudgetGate | None:
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


def vendors_configured(settings: Settings) -> bool:
    """Whether a deployment is named or a vendor has a key or a base URL (each vendor needs one of them)."""
    vendors = settings.vendors.values()
    return bool(settings.deployments) or any(
        (vendor.api_key and vendor.api_key.get_secret_value()) or vendor.base_url for vendor in vendors
    )


async def open_providers(settings: Settings, stack: AsyncExitStack) -> Mapping[str, StreamingLLMProvider]:
    mock = MockProvider(MockEngine(mock_profile(settings)))
    if not vendors_configured(settings):
        # The mock alone needs no HTTP session: aiohttp and the vendor adapters stay unimported (start-up, memory).
        return {mock.name: mock}
    from llm_provider_service.providers.http_client import open_http_session
    from llm_provider_service.providers.registry import build_deployments, build_provider_registry

    session = await stack.enter_async_context(
        open_http_session(
            timeout_seconds=settings.provider_timeout_seconds,
            connect_timeout_seconds=settings.provider_connect_timeout_seconds,
        )
    )
    catalog = default_catalog()
    providers = dict(
        build_provider_registry(session=session, catalog=catalog, mock=mock, endpoints=settings.vendors).providers
    )
    deployments = {name: (spec.vendor, spec) for name, spec in settings.deployments.items()}
    providers.update(build_deployments(session=session, catalog=catalog, deployments=deployments))
    return providers


async def open_queue(settings: Settings, stack: AsyncExitStack) -> JobQueue:
    if not settings.redis_url:
        return InMemoryJobQueue(capacity=settings.queue_capacity)
    from llm_provider_service.adapters.redis_queue import RedisJobQueue

    redis = RedisJobQueue.from_url(
        settings.redis_url, capacity=settings.queue_capacity, namespace=settings.redis_namespace
    )
    return await stack.enter_async_context(redis)


async def open_publisher(settings: Settings, stack: AsyncExitStack) -> EventPublisher:
    if not settings.kafka_bootstrap_servers:
        return await stack.enter_async_context(JsonlEventPublisher(settings.resolved_events_path))
    from llm_provider_service.adapters.kafka_events import KafkaEventPublisher

    kafka = KafkaEventPublisher(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=settings.kafka_client_id,
        delivery_timeout_seconds=settings.kafka_delivery_timeout_seconds,
    )
    return await stack.enter_async_context(kafka)


def open_tracing(settings: Settings, stack: AsyncExitStack) -> Tracing | None:
    if not settings.otlp_endpoint:
        return None
    tracing = Tracing.to_otlp(settings.otlp_endpoint, service_name=settings.service_name)
    stack.callback(tracing.close)
    return tracing
