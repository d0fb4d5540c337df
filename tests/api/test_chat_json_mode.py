"""`response_format: {"type": "json_object"}` on the gateway: JSON mode reaches the provider and answers an object."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from llm_provider_service.api.openai_request import JSON_OBJECT_OUTPUT
from llm_provider_service.domain.catalog import ModelInfo
from llm_provider_service.domain.errors import UnsupportedParameterError
from llm_provider_service.domain.models import ChatMessage, CompletionRequest, CompletionResponse, TokenUsage
from llm_provider_service.service.chat_parameters import admit
from tests.api.chat_support import ChatApi, build_chat_api

JSON_MODE = {"type": "json_object"}


@pytest.fixture
async def chat_api() -> AsyncIterator[ChatApi]:
    api = build_chat_api()
    yield api
    await api.client.aclose()


async def test_the_mock_answers_json_mode_with_a_json_object(chat_api: ChatApi) -> None:
    response = await chat_api.chat(messages=[{"role": "user", "content": "Reply in JSON."}], response_format=JSON_MODE)
    assert response.status_code == 200, response.text
    content = response.json()["choices"][0]["message"]["content"]
    assert isinstance(json.loads(content), dict)


async def test_json_mode_reaches_the_provider_as_a_json_object_output(chat_api: ChatApi) -> None:
    chat_api.openai.script = [CompletionResponse('{"a": 1}', TokenUsage(3, 2), "gpt-5-mini", structured={"a": 1})]
    response = await chat_api.chat(model="openai/gpt-5-mini", response_format=JSON_MODE)
    assert response.status_code == 200, response.text
    schema = chat_api.openai.requests[0].output_schema
    assert schema is not None
    assert schema.json_object
    assert schema.json_schema == {"type": "object"}
    assert response.json()["choices"][0]["message"]["content"] == '{"a": 1}'


async def test_json_mode_streams(chat_api: ChatApi) -> None:
    response = await chat_api.chat(response_format=JSON_MODE, stream=True)
    assert response.status_code == 200
    deltas = [
        json.loads(line.removeprefix("data: "))["choices"][0]["delta"].get("content") or ""
        for line in response.text.splitlines()
        if line.startswith("data: {") and '"choices":[{' in line
    ]
    assert isinstance(json.loads("".join(deltas)), dict)


async def test_text_format_sends_no_output_schema(chat_api: ChatApi) -> None:
    await chat_api.chat(model="openai/gpt-5-mini", response_format={"type": "text"})
    assert chat_api.openai.requests[0].output_schema is None


def test_a_model_without_structured_output_drops_or_refuses_json_mode() -> None:
    info = ModelInfo("openai_compatible", "tiny", 0.0, 0.0, 0, 0, supports_structured_output=False)
    call = CompletionRequest(model="tiny", messages=(ChatMessage("user", "x"),), output_schema=JSON_OBJECT_OUTPUT)

    admitted, dropped = admit("openai_compatible/tiny", info, call, {"response_format"}, "drop", stream=False)
    assert (admitted.output_schema, dropped) == (None, ("response_format",))
    with pytest.raises(UnsupportedParameterError, match="response_format"):
        admit("openai_compatible/tiny", info, call, {"response_format"}, "reject", stream=False)
