"""An ASGI client over the real app, composed by bootstrap over fakes and the in-memory queue."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from llm_provider_service.api.app import create_app
from llm_provider_service.api.context import ApiContext
from llm_provider_service.observability import Metrics
from tests.unit.service.harness import Harness

MAX_BODY_BYTES = 4096


@dataclass
class Api:
    harness: Harness
    client: httpx.AsyncClient
    metrics: Metrics


def build_context(harness: Harness) -> ApiContext:
    return harness.services.api


ApiFactory = Callable[..., Any]


@pytest.fixture
async def make_api() -> AsyncIterator[ApiFactory]:
    clients: list[httpx.AsyncClient] = []

    async def factory(harness: Harness | None = None, **settings: Any) -> Api:
        """The app over `harness`, or over a new one with these settings (e.g. `api_keys`, `admin_key`)."""
        if harness is None:
            harness = Harness(settings_overrides=settings)
        elif settings:
            raise ValueError("pass settings to the Harness, not next to it")
        context = build_context(harness)
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
