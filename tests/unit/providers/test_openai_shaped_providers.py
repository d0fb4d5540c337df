"""OpenRouter and OpenAI-compatible servers: the OpenAI shape with their own reasoning and token fields."""

from __future__ import annotations

import json

import pytest

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import ReasoningEffort
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.providers.openai_compatible import OpenAICompatibleProvider
from llm_provider_service.providers.openrouter import OpenRouterProvider, openrouter_headers
from tests.unit.providers.requests import VERDICT, chat_request, comparison_request
from tests.unit.providers.scripted_vendor import ScriptedAnswer, transport, vendor_session
from tests.unit.providers.test_openai_adapter import completion


def test_openrouter_sends_reasoning_in_its_own_shape() -> None:
    provider = OpenRouterProvider(transport(None, "http://unused", "openrouter"), default_catalog())  # type: ignore[arg-type]
    payload = provider.build_payload(
        chat_request("anthropic/claude-sonnet-4.5", reasoning_effort=ReasoningEffort.HIGH, max_tokens=300),
        stream=False,
    )
    assert payload["reasoning"] == {"effort": "high", "exclude": True}
    assert "reasoning_effort" not in payload
    assert payload["max_tokens"] == 300


def test_openrouter_headers_carry_attribution() -> None:
    headers = openrouter_headers("or-key", app_url="https://example.test")
    assert headers == {"authorization": "Bearer or-key", "x-title": "llm-provider-service",
                       "http-referer": "https://example.test"}  # fmt: skip


async def test_openai_compatible_server_takes_any_model_and_json_schema() -> None:
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(body=completion(json.dumps(VERDICT))))
        provider = OpenAICompatibleProvider(transport(session, base_url, "openai_compatible"), default_catalog())
        response = await provider.complete(comparison_request("qwen2.5:7b", max_tokens=200, temperature=0.0))
    sent = vendor.last.body
    assert sent["model"] == "qwen2.5:7b"
    assert sent["max_tokens"] == 200
    assert sent["temperature"] == 0.0
    assert sent["response_format"]["json_schema"]["strict"] is True
    assert response.structured == VERDICT


async def test_a_call_is_bounded_by_the_sessions_total_timeout_and_says_so() -> None:
    # The gateway adds no timer of its own for providers that declare a bound within its timeout.
    async with vendor_session(timeout_seconds=0.05) as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(hang=True))
        provider = OpenAICompatibleProvider(transport(session, base_url, "openai_compatible"), default_catalog())
        assert provider.call_bound_seconds == 0.05
        with pytest.raises(ProviderError) as raised:
            await provider.complete(comparison_request("qwen2.5:7b", max_tokens=200))
    assert raised.value.kind is ProviderErrorKind.TIMEOUT
