"""Anthropic Messages adapter: forced tool use, cache_control, thinking, strict answers and streams."""

from __future__ import annotations

from typing import Any

import pytest

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import CompletionChunk, OutputVerbosity, ReasoningEffort, TokenUsage
from llm_provider_service.providers.anthropic import AnthropicProvider, anthropic_headers
from llm_provider_service.providers.http_client import VendorTransport
from tests.unit.providers.requests import VERDICT, chat_request, comparison_request
from tests.unit.providers.scripted_vendor import ScriptedAnswer, sse_events, vendor_session

K = ProviderErrorKind
MODEL = "claude-sonnet-4-5"


def message(*content: dict[str, Any], stop: str = "tool_use") -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": list(content),
        "stop_reason": stop,
        "usage": {"input_tokens": 100, "output_tokens": 40, "cache_read_input_tokens": 900,
                  "cache_creation_input_tokens": 0},
    }  # fmt: skip


def tool_use(tool_input: Any, name: str = "comparison_result") -> dict[str, Any]:
    return {"type": "tool_use", "id": "toolu_01", "name": name, "input": tool_input}


def provider_for(session: Any, base_url: str) -> AnthropicProvider:
    return AnthropicProvider(
        VendorTransport(session, provider="anthropic", base_url=base_url, headers=anthropic_headers("sk-ant"))
    )


async def test_comparison_forces_the_tool_and_marks_cacheable_system_blocks() -> None:
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(body=message(tool_use(VERDICT))))
        response = await provider_for(session, base_url).complete(comparison_request(MODEL, temperature=0.3))
    sent, headers = vendor.last.body, vendor.last.headers
    assert vendor.last.path == "/v1/messages"
    assert headers["x-api-key"] == "sk-ant"
    assert headers["anthropic-version"] == "2023-06-01"
    assert sent["tool_choice"] == {"type": "tool", "name": "comparison_result"}
    assert sent["tools"][0]["input_schema"]["required"] == ["winner", "justification", "confidence"]
    assert sent["system"] == [
        {"type": "text", "text": "You are an assessor."},
        {"type": "text", "text": "Rubric ...", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
    ]
    assert sent["max_tokens"] == 4096
    assert sent["temperature"] == 0.3
    assert "thinking" not in sent
    assert response.structured == VERDICT
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (1000, 40)


def test_thinking_uses_a_budget_and_an_unforced_tool() -> None:
    provider = provider_for(None, "http://unused")
    payload = provider.build_payload(
        comparison_request(MODEL, reasoning_effort=ReasoningEffort.MEDIUM, max_tokens=1000), stream=False
    )
    assert payload["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert payload["max_tokens"] == 5096
    assert payload["tool_choice"] == {"type": "auto"}
    assert "comparison_result" in payload["system"][-1]["text"]


def test_reasoning_none_disables_thinking_explicitly() -> None:
    payload = provider_for(None, "http://unused").build_payload(
        comparison_request(MODEL, reasoning_effort=ReasoningEffort.NONE), stream=False
    )
    assert payload["thinking"] == {"type": "disabled"}
    assert payload["tool_choice"]["type"] == "tool"


@pytest.mark.parametrize(
    "changes",
    [
        {"output_verbosity": OutputVerbosity.LOW},
        {"reasoning_effort": ReasoningEffort.HIGH, "temperature": 0.5},
    ],
)
def test_unsupported_combinations_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ProviderError) as raised:
        provider_for(None, "http://unused").build_payload(comparison_request(MODEL, **changes), stream=False)
    assert raised.value.kind is K.INVALID_REQUEST


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (message({"type": "text", "text": "Essay A is better."}, stop="end_turn"), K.INVALID_RESPONSE),
        (message({"type": "text", "text": ""}, stop="max_tokens"), K.INVALID_RESPONSE),
        (message(tool_use("not an object")), K.INVALID_RESPONSE),
        (message(tool_use(VERDICT, name="other_tool")), K.INVALID_RESPONSE),
        (message(stop="refusal"), K.CONTENT_FILTERED),
    ],
)
async def test_unusable_answers_are_errors(answer: dict[str, Any], kind: ProviderErrorKind) -> None:
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(body=answer))
        with pytest.raises(ProviderError) as raised:
            await provider_for(session, base_url).complete(comparison_request(MODEL))
    assert raised.value.kind is kind


async def test_overloaded_529_is_retryable() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(status=529, body=body))
        with pytest.raises(ProviderError) as raised:
            await provider_for(session, base_url).complete(chat_request(MODEL))
    assert raised.value.kind is K.OVERLOADED
    assert raised.value.retryable


async def test_chat_answer_returns_text() -> None:
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(body=message({"type": "text", "text": "Hi there"}, stop="end_turn")))
        response = await provider_for(session, base_url).complete(chat_request(MODEL))
    assert response.text == "Hi there"
    assert response.structured is None


STREAM: list[dict[str, Any]] = [
    {"type": "message_start", "message": {"id": "msg_01", "usage": {"input_tokens": 10, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
    {"type": "message_stop"},
]


async def test_stream_yields_text_deltas() -> None:
    names = [event["type"] for event in STREAM]
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(sse=sse_events(*STREAM, event_names=names)))
        parts = [part async for part in provider_for(session, base_url).stream(chat_request(MODEL))]
    assert parts == [
        CompletionChunk("Hel"),
        CompletionChunk("lo"),
        CompletionChunk(usage=TokenUsage(10, 2), finish_reason="stop"),
    ]
    assert vendor.last.body["stream"] is True


async def test_stream_error_event_is_mapped() -> None:
    frames = [*STREAM[:4], {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}]
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(sse=sse_events(*frames)))
        with pytest.raises(ProviderError) as raised:
            [part async for part in provider_for(session, base_url).stream(chat_request(MODEL))]
    assert raised.value.kind is K.OVERLOADED
