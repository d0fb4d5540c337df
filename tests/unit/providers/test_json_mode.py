"""JSON mode (`OutputSchema.json_object`): each adapter's wire shape, and a JSON object back from the mock server."""

from __future__ import annotations

import json

import pytest

from llm_provider_service.domain.models import OutputSchema
from llm_provider_service.mock.engine import MockEngine
from llm_provider_service.mock.profile import MockProfile
from llm_provider_service.providers.anthropic import AnthropicProvider
from llm_provider_service.providers.gemini import GeminiProvider
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.providers.mock import MockProvider
from llm_provider_service.providers.openai import OpenAIChatProvider
from llm_provider_service.providers.openai_compatible import OpenAICompatibleProvider
from llm_provider_service.providers.openrouter import OpenRouterProvider
from tests.unit.providers.mock_server import VENDORS, adapter_against_mock_server
from tests.unit.providers.requests import chat_request
from tests.unit.providers.scripted_vendor import transport, vendor_session

JSON_MODE = OutputSchema("json_object", "The whole answer as one JSON object.", {"type": "object"}, json_object=True)


@pytest.mark.parametrize("adapter_class", [OpenAIChatProvider, OpenRouterProvider, OpenAICompatibleProvider])
async def test_openai_shaped_adapters_send_json_object(adapter_class: type[OpenAIChatProvider]) -> None:
    async with vendor_session() as (_, base_url, session):
        adapter = adapter_class(transport(session, base_url, "openai"), default_catalog())
        payload = adapter.build_payload(chat_request("gpt-5-mini", output_schema=JSON_MODE), stream=False)
    assert payload["response_format"] == {"type": "json_object"}


async def test_gemini_asks_for_json_without_a_schema() -> None:
    async with vendor_session() as (_, base_url, session):
        adapter = GeminiProvider(transport(session, base_url, "google"))
        payload = adapter.build_payload(chat_request("gemini-2.5-flash", output_schema=JSON_MODE))
    assert payload["generationConfig"]["responseMimeType"] == "application/json"
    assert "responseSchema" not in payload["generationConfig"]


async def test_anthropic_forces_a_tool_that_takes_any_object() -> None:
    async with vendor_session() as (_, base_url, session):
        adapter = AnthropicProvider(transport(session, base_url, "anthropic"))
        payload = adapter.build_payload(chat_request("claude-sonnet-4-5", output_schema=JSON_MODE), stream=False)
    assert payload["tools"] == [
        {"name": "json_object", "description": JSON_MODE.description, "input_schema": {"type": "object"}}
    ]
    assert payload["tool_choice"] == {"type": "tool", "name": "json_object"}


@pytest.mark.parametrize("vendor", VENDORS)
async def test_every_adapter_gets_a_json_object_from_the_mock_server(vendor: str) -> None:
    model = default_catalog().resolve(vendor, None).model_id
    async with adapter_against_mock_server(vendor, MockEngine(MockProfile())) as adapter:
        response = await adapter.complete(chat_request(model, output_schema=JSON_MODE))
    assert isinstance(response.structured, dict)
    assert json.loads(response.text) == response.structured


async def test_the_in_process_mock_answers_an_object() -> None:
    response = await MockProvider(MockEngine(MockProfile())).complete(chat_request("m", output_schema=JSON_MODE))
    assert isinstance(response.structured, dict)
    assert set(response.structured) == {"answer"}
    assert json.loads(response.text) == response.structured
