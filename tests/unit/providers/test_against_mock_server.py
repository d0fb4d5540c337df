"""Every vendor adapter against the wire-compatible mock server, reached through its base URL."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from llm_provider_service.domain.comparison import build_completion_request, parse_comparison
from llm_provider_service.domain.models import ComparisonRequest
from llm_provider_service.mock.engine import MockEngine
from llm_provider_service.mock.profile import MockProfile
from llm_provider_service.mock.server import create_mock_app
from llm_provider_service.providers.http_client import open_http_session
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.providers.mock import MockProvider
from llm_provider_service.providers.registry import VendorEndpoint, build_provider_registry

# How each adapter's base URL points at the mock server (OpenAI-shaped adapters append /chat/completions).
BASE_PATHS = {"anthropic": "", "openai": "/v1", "google": "", "openrouter": "/v1", "openai_compatible": "/v1"}


@pytest.mark.parametrize("provider", sorted(BASE_PATHS))
async def test_adapter_parses_the_mock_servers_answers(provider: str) -> None:
    engine = MockEngine(MockProfile())
    server = TestServer(create_mock_app(engine), host="127.0.0.1")
    await server.start_server()
    try:
        base_url = str(server.make_url("")).rstrip("/") + BASE_PATHS[provider]
        catalog = default_catalog()
        async with open_http_session(timeout_seconds=10.0, connect_timeout_seconds=2.0) as session:
            registry = build_provider_registry(
                session=session,
                catalog=catalog,
                mock=MockProvider(engine),
                endpoints={provider: VendorEndpoint(SecretStr("test-key"), base_url)},
            )
            comparison = ComparisonRequest(user_prompt="Essay A: ... Essay B: ...", correlation_id="c-1")
            model = catalog.resolve(provider, None).model_id
            call = build_completion_request(comparison, job_id="job-1", model=model, attempt=1)
            response = await registry.get(provider).complete(call)
            chunks = [part async for part in registry.get(provider).stream(call)]
            streamed = "".join(part.delta for part in chunks)
    finally:
        await server.close()
    verdict = parse_comparison(response)
    assert verdict.winner in {"Essay A", "Essay B"}
    assert response.usage.prompt_tokens > 0
    assert response.usage.completion_tokens > 0
    assert streamed
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
