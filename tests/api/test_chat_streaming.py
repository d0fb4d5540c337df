"""`stream: true`: OpenAI chunk format, `[DONE]`, the usage chunk, errors before and after the first chunk."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import CompletionChunk, TokenUsage
from tests.api.chat_support import MOCK_MODEL, ChatApi, build_chat_api, sse_data


@pytest.fixture
async def chat_api() -> AsyncIterator[ChatApi]:
    api = build_chat_api()
    yield api
    await api.client.aclose()


async def test_a_stream_has_the_openai_chunk_format(chat_api: ChatApi) -> None:
    whole = (await chat_api.chat()).json()

    response = await chat_api.chat(stream=True, stream_options={"include_usage": True})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_data(response.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(chunk["object"] == "chat.completion.chunk" and chunk["model"] == MOCK_MODEL for chunk in chunks)
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks[:-1])
    assert text == whole["choices"][0]["message"]["content"]
    assert chunks[-2]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == whole["usage"]
    assert all(chunk["usage"] is None for chunk in chunks[:-1])


async def test_without_include_usage_there_is_no_usage_chunk(chat_api: ChatApi) -> None:
    events = sse_data((await chat_api.chat(stream=True)).text)

    assert events[-1] == "[DONE]"
    assert all("usage" not in chunk and chunk["choices"] for chunk in events[:-1])


async def test_stream_usage_is_recorded(chat_api: ChatApi) -> None:
    chat_api.scripted.script = [[CompletionChunk("Hel"), CompletionChunk("lo"), CompletionChunk("", TokenUsage(5, 2))]]

    response = await chat_api.chat(model="openai_compatible/x", stream=True)
    await chat_api.recorder.flush()

    assert response.status_code == 200
    [record] = chat_api.harness.store.usage
    assert (record.prompt_tokens, record.completion_tokens, record.outcome) == (5, 2, "ok")


async def test_a_failure_before_the_first_chunk_gets_its_status(chat_api: ChatApi) -> None:
    response = await chat_api.chat(stream=True, headers={"x-mock-scenario": "overloaded"})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_overloaded"


async def test_a_failure_mid_stream_is_reported_in_the_stream(chat_api: ChatApi) -> None:
    failure = ProviderError(ProviderErrorKind.SERVER_ERROR, "lost", provider="openai_compatible")
    chat_api.scripted.script = [[CompletionChunk("Hel"), failure]]

    response = await chat_api.chat(model="openai_compatible/x", stream=True)

    events = sse_data(response.text)
    assert response.status_code == 200
    assert events[1]["choices"][0]["delta"] == {"content": "Hel"}
    assert events[-1]["error"]["code"] == "provider_error"
    assert "[DONE]" not in events
    assert chat_api.harness.breakers.get("openai_compatible").consecutive_failures == 1
