"""The surface at the edge: content parts other vendors cannot take pass verbatim to OpenAI-protocol upstreams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.api.chat_support import ChatApi, build_chat_api

AUDIO = [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]


@pytest.fixture
async def chat_api() -> AsyncIterator[ChatApi]:
    api = build_chat_api()
    yield api
    await api.client.aclose()


async def test_an_openai_protocol_upstream_gets_parts_we_cannot_translate_verbatim(chat_api: ChatApi) -> None:
    response = await chat_api.chat(model="openai_compatible/audio-model", messages=AUDIO)

    assert response.status_code == 200, response.text
    [call] = chat_api.scripted.requests
    assert call.passthrough is not None
    assert call.passthrough["messages"] == AUDIO


async def test_a_translating_vendor_refuses_them_by_name(chat_api: ChatApi) -> None:
    response = await chat_api.chat(messages=AUDIO)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages.0.content.0"
    assert response.json()["code"] == "unsupported_parameter"
