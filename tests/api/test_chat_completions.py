"""`POST /v1/chat/completions` (sync) through the ASGI app: answer shape, parameter mapping, accounting."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from llm_provider_service.domain.models import OutputVerbosity, ReasoningEffort
from tests.api.chat_support import MOCK_MODEL, ChatApi, build_chat_api


@pytest.fixture
async def chat_api() -> AsyncIterator[ChatApi]:
    api = build_chat_api(aliases={"fast": MOCK_MODEL, "broken": "nowhere/model"})
    yield api
    await api.client.aclose()


async def test_answer_has_the_openai_shape(chat_api: ChatApi) -> None:
    response = await chat_api.chat()

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == MOCK_MODEL
    [choice] = body["choices"]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"]
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert float(response.headers["x-mock-intrinsic-ms"]) >= 0


async def test_usage_is_recorded_off_the_request_path(chat_api: ChatApi) -> None:
    response = await chat_api.chat()
    usage = response.json()["usage"]

    assert chat_api.harness.store.usage == []  # nothing written while answering
    assert chat_api.recorder.pending == 1
    await chat_api.recorder.flush()

    [record] = chat_api.harness.store.usage
    assert (record.source, record.provider, record.model, record.outcome) == (
        "gateway",
        "mock",
        "mock-comparison-v1",
        "ok",
    )
    assert (record.prompt_tokens, record.completion_tokens) == (usage["prompt_tokens"], usage["completion_tokens"])


async def test_parameters_reach_the_provider(chat_api: ChatApi) -> None:
    response = await chat_api.chat(
        model="openai_compatible/llama-3",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": [{"type": "text", "text": "How "}, {"type": "text", "text": "are you?"}]},
        ],
        temperature=0.2,
        max_completion_tokens=50,
        user="end-user-1",
    )

    assert response.status_code == 200, response.text
    [sent] = chat_api.scripted.requests
    assert sent.model == "llama-3"
    assert [block.text for block in sent.system] == ["Be brief.", "Answer in English."]
    assert [(m.role, m.content) for m in sent.messages] == [
        ("user", "Hi"),
        ("assistant", "Hello"),
        ("user", "How are you?"),
    ]
    assert (sent.temperature, sent.max_tokens) == (0.2, 50)
    assert response.json()["model"] == "openai_compatible/m"


async def test_reasoning_and_verbosity_reach_the_provider(chat_api: ChatApi) -> None:
    response = await chat_api.chat(model="openai/gpt-5-mini", reasoning_effort="minimal", verbosity="low")

    assert response.status_code == 200, response.text
    [sent] = chat_api.openai.requests
    assert sent.reasoning_effort is ReasoningEffort.NONE
    assert sent.output_verbosity is OutputVerbosity.LOW


async def test_json_schema_output_follows_the_schema(chat_api: ChatApi) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    response = await chat_api.chat(
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema, "strict": True}}
    )

    assert response.status_code == 200, response.text
    answer = json.loads(response.json()["choices"][0]["message"]["content"])
    assert set(answer) == {"city", "population"}
    assert isinstance(answer["population"], int)


async def test_an_alias_routes_to_its_target(chat_api: ChatApi) -> None:
    response = await chat_api.chat(model="fast")

    assert response.status_code == 200
    assert response.json()["model"] == MOCK_MODEL


async def test_mock_headers_reach_the_mock(chat_api: ChatApi) -> None:
    response = await chat_api.chat(headers={"x-mock-latency-ms": "250"})

    assert response.status_code == 200
    assert chat_api.sleep.waits_seconds == [0.25]
    assert float(response.headers["x-mock-intrinsic-ms"]) == 250.0


async def test_a_retryable_failure_is_retried_within_the_budget(chat_api: ChatApi) -> None:
    headers = {"x-mock-scenario": "rate_limited", "x-mock-fail-attempts": "1"}

    response = await chat_api.chat(headers=headers)

    assert response.status_code == 200
    assert chat_api.sleep.waits_seconds == [1.0]  # the mock's Retry-After, honoured
