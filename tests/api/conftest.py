"""An ASGI client over the real app, wired to fakes and the in-memory queue."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from llm_provider_service.api.app import create_app
from llm_provider_service.api.auth import KeyChecker
from llm_provider_service.api.context import ApiContext
from llm_provider_service.observability import Metrics
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.service.limits import ProviderLimits
from tests.unit.service.harness import Harness

MAX_BODY_BYTES = 4096


@dataclass
class Api:
    harness: Harness
    client: httpx.AsyncClient
    metrics: Metrics


def build_context(
    harness: Harness,
    *,
    api_keys: list[str] | None = None,
    admin_key: str | None = None,
    allow_anonymous_jobs: bool = False,
    idempotency_from: str | None = None,
) -> ApiContext:
    return ApiContext(
        jobs=harness.jobs,
        store=harness.store,
        usage=harness.store,
        queue=harness.queue,
        providers={"mock": harness.provider},
        configured_providers=frozenset({"mock"}),
        catalog=default_catalog(),
        breakers=harness.breakers,
        limits=ProviderLimits({}),
        keys=KeyChecker(
            [SecretStr(key) for key in api_keys or []],
            SecretStr(admin_key) if admin_key else None,
            allow_anonymous_jobs=allow_anonymous_jobs,
        ),
        metrics=Metrics(CollectorRegistry()),
        readiness_checks={"store": harness.store.ping, "queue": harness.queue.stats},
        max_wait_seconds=60,
        version="test",
        idempotency_from=idempotency_from,
    )


ApiFactory = Callable[..., Any]


@pytest.fixture
async def make_api() -> AsyncIterator[ApiFactory]:
    clients: list[httpx.AsyncClient] = []

    async def factory(harness: Harness | None = None, **keys: Any) -> Api:
        harness = harness or Harness()
        context = build_context(harness, **keys)
        app = create_app(context, max_body_bytes=MAX_BODY_BYTES)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service.test")
        clients.append(client)
        return Api(harness, client, context.metrics)

    yield factory
    for client in clients:
        await client.aclose()


@pytest.fixture
async def api(make_api: ApiFactory) -> Api:
    created: Api = await make_api()
    return created
