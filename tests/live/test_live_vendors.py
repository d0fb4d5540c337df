"""Live calls to the real vendors: each runs only when that vendor's key is set, else skips saying why."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from llm_provider_service.domain.comparison import build_completion_request, parse_comparison
from llm_provider_service.domain.models import (
    ComparisonRequest,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
)
from llm_provider_service.providers.http_client import open_http_session
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.providers.registry import VendorEndpoint, build_provider_registry

pytestmark = pytest.mark.live

# provider name -> (env vars holding its key, in order of preference; env var of its base URL)
VENDOR_ENV = {
    "anthropic": (("LLM_PROVIDER_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"), "LLM_PROVIDER_ANTHROPIC_BASE_URL"),
    "openai": (("LLM_PROVIDER_OPENAI_API_KEY", "OPENAI_API_KEY"), "LLM_PROVIDER_OPENAI_BASE_URL"),
    "google": (("LLM_PROVIDER_GEMINI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"), "LLM_PROVIDER_GEMINI_BASE_URL"),
    "openrouter": (("LLM_PROVIDER_OPENROUTER_API_KEY", "OPENROUTER_API_KEY"), "LLM_PROVIDER_OPENROUTER_BASE_URL"),
}

PROMPT = (
    "Essay A: Cities should plant more trees because shade lowers summer temperatures and improves health.\n"
    "Essay B: trees good. i like trees.\n"
    "Which essay is better?"
)


class UnusedMock:
    """The registry always holds a mock; these tests never call it."""

    name = "mock"

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        raise AssertionError("the live tests never call the mock")

    async def stream(self, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        raise AssertionError("the live tests never call the mock")
        yield CompletionChunk()


def endpoint(provider: str) -> VendorEndpoint:
    key_vars, base_url_var = VENDOR_ENV[provider]
    key = next((os.environ[name] for name in key_vars if os.environ.get(name)), None)
    if key is None:
        pytest.skip(f"{provider}: no API key set ({' or '.join(key_vars)})")
    return VendorEndpoint(SecretStr(key), os.environ.get(base_url_var) or None)


@pytest.mark.parametrize("provider", sorted(VENDOR_ENV))
async def test_real_vendor_answers_a_comparison_strictly(provider: str) -> None:
    vendor = endpoint(provider)
    catalog = default_catalog()
    model = catalog.resolve(provider, None).model_id
    comparison = ComparisonRequest(user_prompt=PROMPT, correlation_id="live-test")
    call = build_completion_request(comparison, job_id="live-test", model=model, attempt=1)
    async with open_http_session(timeout_seconds=120.0, connect_timeout_seconds=10.0) as session:
        registry = build_provider_registry(
            session=session,
            catalog=catalog,
            mock=UnusedMock(),
            endpoints={provider: vendor},
        )
        response = await registry.get(provider).complete(call)
    verdict = parse_comparison(response, provider=provider)
    assert verdict.winner in {"Essay A", "Essay B"}
    assert 1 <= verdict.confidence <= 5
    assert response.usage.prompt_tokens > 0
    assert response.usage.completion_tokens > 0
