"""Every vendor adapter wired to an in-process mock server through its base URL, as the service does it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from llm_provider_service.mock.engine import MockEngine
from llm_provider_service.mock.server import create_mock_app
from llm_provider_service.mock.wire import Sleep
from llm_provider_service.ports import StreamingLLMProvider
from llm_provider_service.providers.http_client import open_http_session
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.providers.mock import MockProvider
from llm_provider_service.providers.registry import VendorEndpoint, build_provider_registry

# How each adapter's base URL points at the mock server (OpenAI-shaped adapters append /chat/completions).
BASE_PATHS = {"anthropic": "", "openai": "/v1", "google": "", "openrouter": "/v1", "openai_compatible": "/v1"}
VENDORS = sorted(BASE_PATHS)


class RecordingSleep:
    """The mock server's pacing: records each wait (seconds) and returns at once."""

    def __init__(self) -> None:
        self.waits_seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits_seconds.append(seconds)


@asynccontextmanager
async def adapter_against_mock_server(
    vendor: str, engine: MockEngine, *, sleep: Sleep = asyncio.sleep
) -> AsyncIterator[StreamingLLMProvider]:
    """The `vendor` adapter, built by the registry with a base URL pointing at a running mock server."""
    server = TestServer(create_mock_app(engine, sleep=sleep), host="127.0.0.1")
    await server.start_server()
    try:
        base_url = str(server.make_url("")).rstrip("/") + BASE_PATHS[vendor]
        async with open_http_session(timeout_seconds=10.0, connect_timeout_seconds=2.0) as session:
            registry = build_provider_registry(
                session=session,
                catalog=default_catalog(),
                mock=MockProvider(engine),
                endpoints={vendor: VendorEndpoint(SecretStr("test-key"), base_url)},
            )
            yield registry.get(vendor)
    finally:
        await server.close()
