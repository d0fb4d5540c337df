"""The Chat Completions surface in each vendor's request body: tools, tool turns, images, stop and sampling."""

from __future__ import annotations

import pytest

from llm_provider_service.domain.chat import ImagePart, ToolCall, ToolChoice, ToolSpec
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import ChatMessage, ChatOptions, TextBlock
from llm_provider_service.providers.anthropic import AnthropicProvider
from llm_provider_service.providers.gemini import GeminiProvider
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.providers.openai import OpenAIChatProvider
from tests.unit.providers.requests import chat_request
from tests.unit.providers.scripted_vendor import transport

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOL = ToolSpec("get_weather", "Weather in a city.", SCHEMA)
CALL = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
PNG = "data:image/png;base64,iVBORw0KGgo="
CONVERSATION = (
    ChatMessage("user", "Look", parts=(TextBlock("Look"), ImagePart(PNG), ImagePart("https://x.test/a.jpg"))),
    ChatMessage("assistant", "", tool_calls=(CALL,)),
    ChatMessage("tool", '{"temperature_c": 3}', tool_call_id="call_1"),
    ChatMessage("tool", "not json", tool_call_id="call_1"),
)
SURFACE = {
    "messages": CONVERSATION,
    "options": ChatOptions(
        tools=(TOOL,),
        tool_choice=ToolChoice("function", "get_weather"),
        parallel_tool_calls=False,
        stop=("END",),
        seed=5,
        top_p=0.25,
        n=2,
        user="u-1",
    ),
}


def test_anthropic_gets_blocks_tool_results_in_one_turn_and_its_option_names() -> None:
    payload = AnthropicProvider(transport(None, "http://unused", "anthropic")).build_payload(  # type: ignore[arg-type]
        chat_request("claude-haiku-4-5", **SURFACE), stream=False
    )

    user, assistant, results = payload["messages"]
    assert user["content"][1]["source"] == {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    assert user["content"][2]["source"] == {"type": "url", "url": "https://x.test/a.jpg"}
    assert assistant["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}}
    ]
    assert [block["type"] for block in results["content"]] == ["tool_result", "tool_result"]
    assert payload["tools"] == [{"name": "get_weather", "description": "Weather in a city.", "input_schema": SCHEMA}]
    assert payload["tool_choice"] == {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}
    assert (payload["stop_sequences"], payload["top_p"], payload["metadata"]) == (["END"], 0.25, {"user_id": "u-1"})
    assert "seed" not in payload


def test_gemini_gets_function_parts_named_responses_and_generation_config() -> None:
    payload = GeminiProvider(transport(None, "http://unused", "google")).build_payload(  # type: ignore[arg-type]
        chat_request("gemini-2.5-flash", **SURFACE)
    )

    user, model, responses = payload["contents"]
    assert user["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    assert user["parts"][2] == {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x.test/a.jpg"}}
    assert model == {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}]}
    assert [part["functionResponse"]["response"] for part in responses["parts"]] == [
        {"temperature_c": 3},
        {"result": "not json"},
    ]
    declaration = payload["tools"][0]["functionDeclarations"][0]
    assert declaration["parametersJsonSchema"] == SCHEMA
    config = payload["toolConfig"]["functionCallingConfig"]
    assert config == {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    generation = payload["generationConfig"]
    assert (generation["stopSequences"], generation["seed"], generation["topP"], generation["candidateCount"]) == (
        ["END"],
        5,
        0.25,
        2,
    )


def test_openai_without_a_callers_body_gets_the_surface_in_its_own_names() -> None:
    provider = OpenAIChatProvider(transport(None, "http://unused", "openai"), default_catalog())  # type: ignore[arg-type]
    payload = provider.build_payload(chat_request("gpt-4.1", **SURFACE), stream=False)

    assert payload["messages"][1]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Oslo"}',
    }
    assert payload["messages"][2] == {"role": "tool", "content": '{"temperature_c": 3}', "tool_call_id": "call_1"}
    assert payload["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert (payload["stop"], payload["seed"], payload["n"], payload["parallel_tool_calls"]) == (["END"], 5, 2, False)


def test_openai_with_a_callers_body_forwards_it_verbatim_but_sets_the_managed_fields() -> None:
    provider = OpenAIChatProvider(transport(None, "http://unused", "openai"), default_catalog())  # type: ignore[arg-type]
    passthrough = {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}], "service_tier": "flex"}
    payload = provider.build_payload(chat_request("gpt-5-mini", passthrough=passthrough, max_tokens=50), stream=True)

    assert payload["messages"] == passthrough["messages"]
    assert payload["service_tier"] == "flex"
    assert payload["max_completion_tokens"] == 50  # the name gpt-5 takes, whatever the caller sent
    assert payload["stream_options"] == {"include_usage": True}


def test_tool_arguments_that_are_not_a_json_object_are_the_callers_error() -> None:
    bad = chat_request(
        "claude-haiku-4-5",
        messages=(ChatMessage("user", "x"), ChatMessage("assistant", "", tool_calls=(ToolCall("c", "f", "[1]"),))),
    )
    with pytest.raises(ProviderError) as refused:
        AnthropicProvider(transport(None, "http://unused", "anthropic")).build_payload(bad, stream=False)  # type: ignore[arg-type]
    assert refused.value.kind is ProviderErrorKind.INVALID_REQUEST
