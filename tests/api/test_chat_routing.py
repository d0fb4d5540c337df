"""Gateway routing and ids on the hot path: remembered ad-hoc routes (bounded) and unique completion ids."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from llm_provider_service.domain.errors import ModelNotFoundError
from tests.api.chat_support import ChatApi, build_chat_api


@pytest.fixture
async def chat_api() -> AsyncIterator[ChatApi]:
    api = build_chat_api()
    yield api
    await api.client.aclose()


def test_an_adhoc_model_id_routes_to_the_same_remembered_route(chat_api: ChatApi) -> None:
    first = chat_api.gateway.route("openai_compatible/my-local-llama")
    assert first.info.model_id == "my-local-llama"
    assert chat_api.gateway.route("openai_compatible/my-local-llama") is first


def test_remembered_adhoc_routes_are_bounded(chat_api: ChatApi) -> None:
    routes = [chat_api.gateway.route(f"openai_compatible/model-{index}") for index in range(300)]
    assert chat_api.gateway.route("openai_compatible/model-0") is routes[0]
    assert chat_api.gateway.route("openai_compatible/model-299") is not routes[299]  # past the bound: rebuilt
    assert chat_api.gateway.route("openai_compatible/model-299").info == routes[299].info


def test_unknown_providers_are_still_refused(chat_api: ChatApi) -> None:
    with pytest.raises(ModelNotFoundError):
        chat_api.gateway.route("nowhere/model")


async def test_completion_ids_are_unique_32_hex_digits(chat_api: ChatApi) -> None:
    ids = [(await chat_api.chat()).json()["id"] for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"chatcmpl-[0-9a-f]{32}", completion_id) for completion_id in ids)
    usage_ids = {chat_api.gateway.new_id() for _ in range(100)}
    assert len(usage_ids) == 100
