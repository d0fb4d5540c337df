"""OpenAI Chat Completions adapter: request shape from the manifest, strict schema, answers and streams."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import CompletionChunk, OutputVerbosity, ReasoningEffort, TokenUsage
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.providers.openai import OpenAIChatProvider, strict_json_schema
from tests.unit.providers.requests import VERDICT, chat_request, comparison_request
from tests.unit.providers.scripted_vendor import ScriptedAnswer, sse_events, transport, vendor_session

K = ProviderErrorKind


def completion(content: str | None, finish: str = "stop", **message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-5-mini-2025-08-07",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content, **message}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }


async def test_comparison_call_uses_strict_json_schema_and_manifest_parameters() -> None:
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(body=completion(json.dumps(VERDICT))))
        provider = OpenAIChatProvider(transport(session, base_url, "openai"), default_catalog())
        request = comparison_request(
            "gpt-5-mini",
            max_tokens=800,
            reasoning_effort=ReasoningEffort.LOW,
            output_verbosity=OutputVerbosity.HIGH,
        )
        response = await provider.complete(request)

    sent = vendor.last.body
    assert vendor.last.path == "/chat/completions"
    assert sent["max_completion_tokens"] == 800
    assert "max_tokens" not in sent
    assert "temperature" not in sent
    assert sent["reasoning_effort"] == "low"
    assert sent["verbosity"] == "high"
    assert sent["messages"][0] == {"role": "system", "content": "You are an assessor.\n\nRubric ..."}
    schema = sent["response_format"]["json_schema"]
    assert sent["response_format"]["type"] == "json_schema"
    assert schema["name"] == "comparison_result"
    assert schema["strict"] is True
    assert schema["schema"]["additionalProperties"] is False
    assert response.structured == VERDICT
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (120, 30)


async def test_older_models_take_max_tokens_and_temperature() -> None:
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(body=completion("hi")))
        provider = OpenAIChatProvider(transport(session, base_url, "openai"), default_catalog())
        response = await provider.complete(chat_request("gpt-4.1", max_tokens=50, temperature=0.2))
    assert vendor.last.body["max_tokens"] == 50
    assert vendor.last.body["temperature"] == 0.2
    assert "response_format" not in vendor.last.body
    assert response.text == "hi"


def test_temperature_is_refused_where_the_model_rejects_it() -> None:
    provider = OpenAIChatProvider(transport(None, "http://unused", "openai"), default_catalog())  # type: ignore[arg-type]
    with pytest.raises(ProviderError) as raised:
        provider.build_payload(chat_request("gpt-5", temperature=0.5), stream=False)
    assert raised.value.kind is K.INVALID_REQUEST


def test_reasoning_none_is_sent_as_minimal() -> None:
    provider = OpenAIChatProvider(transport(None, "http://unused", "openai"), default_catalog())  # type: ignore[arg-type]
    payload = provider.build_payload(chat_request("gpt-5", reasoning_effort=ReasoningEffort.NONE), stream=False)
    assert payload["reasoning_effort"] == "minimal"


def test_strict_schema_requires_everything_and_makes_optional_fields_nullable() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string"},
            "b": {"type": "integer"},
            "c": {"type": "object", "properties": {"d": {"type": ["number"]}}},
        },
        "required": ["a"],
    }
    strict = strict_json_schema(schema)
    assert strict["required"] == ["a", "b", "c"]
    assert strict["additionalProperties"] is False
    assert strict["properties"]["b"]["type"] == ["integer", "null"]
    assert strict["properties"]["c"]["properties"]["d"]["type"] == ["number", "null"]
    assert strict["properties"]["c"]["additionalProperties"] is False


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (completion(None, refusal="I can't help with that."), K.CONTENT_FILTERED),
        (completion("", finish="content_filter"), K.CONTENT_FILTERED),
        (completion("", finish="length"), K.INVALID_RESPONSE),
        (completion('{"winner": "Essay', finish="length"), K.INVALID_RESPONSE),
        (completion("not json at all"), K.INVALID_RESPONSE),
        (completion("[1, 2]"), K.INVALID_RESPONSE),
        ({"id": "x", "choices": []}, K.INVALID_RESPONSE),
    ],
)
async def test_unusable_answers_are_errors_never_defaults(answer: dict[str, Any], kind: ProviderErrorKind) -> None:
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(body=answer))
        provider = OpenAIChatProvider(transport(session, base_url, "openai"), default_catalog())
        with pytest.raises(ProviderError) as raised:
            await provider.complete(comparison_request("gpt-5-mini"))
    assert raised.value.kind is kind


async def test_vendor_error_statuses_surface_as_provider_errors() -> None:
    body = {
        "error": {"message": "Rate limit reached", "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    }
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(status=429, body=body, headers={"retry-after-ms": "1500"}))
        provider = OpenAIChatProvider(transport(session, base_url, "openai"), default_catalog())
        with pytest.raises(ProviderError) as raised:
            await provider.complete(chat_request("gpt-4.1"))
    assert raised.value.kind is K.RATE_LIMITED
    assert raised.value.retry_after_seconds == 1.5


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    delta_body = {"content": content, **delta} if content is not None or delta else {}
    return {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta_body,
                                                                       "finish_reason": finish}]}  # fmt: skip


async def test_stream_yields_content_deltas_until_done() -> None:
    usage = {"id": "c", "object": "chat.completion.chunk", "choices": [],
             "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}}  # fmt: skip
    frames = sse_events(
        chunk(role="assistant", content=""), chunk("Hel"), chunk("lo"), chunk(finish="stop"), usage, done=True
    )
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(sse=[":keep-alive\n\n", *frames]))
        provider = OpenAIChatProvider(transport(session, base_url, "openai"), default_catalog())
        parts = [part async for part in provider.stream(chat_request("gpt-4.1"))]
    assert parts == [
        CompletionChunk("Hel"),
        CompletionChunk("lo"),
        CompletionChunk(usage=TokenUsage(9, 2), finish_reason="stop"),
    ]
    assert vendor.last.body["stream"] is True
    assert vendor.last.body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        ({"error": {"message": "The server had an error", "type": "server_error"}}, K.SERVER_ERROR),
        (chunk(refusal="no"), K.CONTENT_FILTERED),
    ],
)
async def test_stream_errors_and_refusals_raise(frame: dict[str, Any], kind: ProviderErrorKind) -> None:
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(sse=sse_events(chunk("a"), frame)))
        provider = OpenAIChatProvider(transport(session, base_url, "openai"), default_catalog())
        with pytest.raises(ProviderError) as raised:
            [part async for part in provider.stream(chat_request("gpt-4.1"))]
    assert raised.value.kind is kind


async def test_stream_error_status_is_mapped() -> None:
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(status=401, body={"error": {"message": "bad key", "code": "invalid_api_key"}}))
        provider = OpenAIChatProvider(transport(session, base_url, "openai"), default_catalog())
        with pytest.raises(ProviderError) as raised:
            [part async for part in provider.stream(chat_request("gpt-4.1"))]
    assert raised.value.kind is K.AUTHENTICATION
