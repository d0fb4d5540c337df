"""Gemini adapter: responseSchema translation, thinkingConfig, usageMetadata, blocks and streams."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llm_provider_service.domain.comparison import COMPARISON_SCHEMA
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import CompletionChunk, ReasoningEffort, TokenUsage
from llm_provider_service.providers.gemini import GeminiProvider, gemini_headers, gemini_schema
from llm_provider_service.providers.http_client import VendorTransport
from tests.unit.providers.requests import VERDICT, chat_request, comparison_request
from tests.unit.providers.scripted_vendor import ScriptedAnswer, sse_events, vendor_session

K = ProviderErrorKind
MODEL = "gemini-2.5-flash"


def generated(text: str, finish: str = "STOP", **extra: Any) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": finish}],
        "usageMetadata": {"promptTokenCount": 80, "candidatesTokenCount": 20, "thoughtsTokenCount": 300,
                          "totalTokenCount": 400},
        "modelVersion": MODEL,
        "responseId": "r1",
        **extra,
    }  # fmt: skip


def provider_for(session: Any, base_url: str) -> GeminiProvider:
    return GeminiProvider(VendorTransport(session, provider="google", base_url=base_url, headers=gemini_headers("g")))


def test_schema_translates_to_the_openapi_subset() -> None:
    translated = gemini_schema(COMPARISON_SCHEMA.json_schema)
    assert translated["type"] == "OBJECT"
    assert "additionalProperties" not in translated
    assert translated["properties"]["winner"] == {
        "type": "STRING",
        "description": "The better essay.",
        "enum": ["Essay A", "Essay B"],
    }
    assert translated["propertyOrdering"] == ["winner", "justification", "confidence"]
    assert translated["required"] == ["winner", "justification", "confidence"]
    assert gemini_schema({"type": ["string", "null"]}) == {"type": "STRING", "nullable": True}
    assert gemini_schema({"type": "array", "items": {"const": "x"}}) == {"type": "ARRAY", "items": {"enum": ["x"]}}


@pytest.mark.parametrize("schema", [{"$ref": "#/$defs/x"}, {"type": ["string", "integer"]}])
def test_untranslatable_schemas_are_refused(schema: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Gemini"):
        gemini_schema(schema)


async def test_comparison_uses_response_schema_thinking_and_real_usage() -> None:
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(body=generated(json.dumps(VERDICT))))
        request = comparison_request(MODEL, reasoning_effort=ReasoningEffort.LOW, max_tokens=500, temperature=0.1)
        response = await provider_for(session, base_url).complete(request)
    sent = vendor.last.body
    assert vendor.last.path == f"/v1beta/models/{MODEL}:generateContent"
    assert vendor.last.headers["x-goog-api-key"] == "g"
    config = sent["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"]["type"] == "OBJECT"
    assert config["thinkingConfig"] == {"thinkingBudget": 1024}
    assert config["maxOutputTokens"] == 1524
    assert config["temperature"] == 0.1
    assert sent["systemInstruction"]["parts"][0] == {"text": "You are an assessor."}
    assert sent["contents"][0]["role"] == "user"
    assert response.structured == VERDICT
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (80, 320)


def test_reasoning_none_turns_flash_thinking_off_and_is_refused_for_pro() -> None:
    provider = provider_for(None, "http://unused")
    payload = provider.build_payload(chat_request(MODEL, reasoning_effort=ReasoningEffort.NONE))
    assert payload["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}
    with pytest.raises(ProviderError) as raised:
        provider.build_payload(chat_request("gemini-2.5-pro", reasoning_effort=ReasoningEffort.NONE))
    assert raised.value.kind is K.INVALID_REQUEST


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({"promptFeedback": {"blockReason": "SAFETY"}}, K.CONTENT_FILTERED),
        (generated("", finish="SAFETY"), K.CONTENT_FILTERED),
        (generated('{"winner": "Ess', finish="MAX_TOKENS"), K.INVALID_RESPONSE),
        (generated("no json"), K.INVALID_RESPONSE),
        ({"candidates": []}, K.INVALID_RESPONSE),
    ],
)
async def test_unusable_answers_are_errors(answer: dict[str, Any], kind: ProviderErrorKind) -> None:
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(body=answer))
        with pytest.raises(ProviderError) as raised:
            await provider_for(session, base_url).complete(comparison_request(MODEL))
    assert raised.value.kind is kind


async def test_thought_parts_are_not_the_answer() -> None:
    body = generated("Hello")
    body["candidates"][0]["content"]["parts"].insert(0, {"text": "thinking...", "thought": True})
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(body=body))
        response = await provider_for(session, base_url).complete(chat_request(MODEL))
    assert response.text == "Hello"


async def test_stream_uses_sse_and_yields_text() -> None:
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(sse=sse_events(generated("Hel"), generated("lo"))))
        parts = [part async for part in provider_for(session, base_url).stream(chat_request(MODEL))]
    assert [part.delta for part in parts] == ["Hel", "lo", ""]
    assert parts[-1] == CompletionChunk(usage=TokenUsage(80, 320), finish_reason="stop")
    assert vendor.last.path == f"/v1beta/models/{MODEL}:streamGenerateContent"
    assert vendor.last.query == "alt=sse"


async def test_unavailable_503_is_overloaded() -> None:
    body = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(status=503, body=body))
        with pytest.raises(ProviderError) as raised:
            await provider_for(session, base_url).complete(chat_request(MODEL))
    assert raised.value.kind is K.OVERLOADED
