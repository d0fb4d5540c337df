"""Gateway routes with several targets: fallback on an open breaker or a spent retry budget, never on caller errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from tests.api.chat_support import ChatApi, build_chat_api

K = ProviderErrorKind
ROUTES = {
    "judge": {"targets": ["openai_compatible/primary", "mock/mock-comparison-v1"]},
    "spread": {"targets": ["openai_compatible/primary", "mock/mock-comparison-v1"], "strategy": "weighted",
               "weights": [0, 1]},
    "ghost": {"targets": ["nowhere/x"]},
}  # fmt: skip


@pytest.fixture
async def chat_api() -> AsyncIterator[ChatApi]:
    api = build_chat_api(model_routes=ROUTES)
    yield api
    await api.client.aclose()


async def test_the_primary_serves_and_the_answer_names_it(chat_api: ChatApi) -> None:
    response = await chat_api.chat(model="judge")

    assert response.status_code == 200, response.text
    assert response.headers["x-llm-provider-route"] == "openai_compatible/primary"
    assert len(chat_api.scripted.requests) == 1


async def test_an_open_breaker_falls_back_to_the_next_target(chat_api: ChatApi) -> None:
    breaker = chat_api.harness.breakers.get("openai_compatible")
    for _ in range(chat_api.harness.failure_threshold):
        breaker.record_failure(ProviderError(K.SERVER_ERROR, "down", provider="openai_compatible"))

    response = await chat_api.chat(model="judge")

    assert response.status_code == 200, response.text
    assert response.headers["x-llm-provider-route"] == "mock/mock-comparison-v1"
    assert response.json()["model"] == "mock/mock-comparison-v1"
    assert chat_api.scripted.requests == []


async def test_a_spent_retry_budget_falls_back_and_the_serving_target_is_accounted(chat_api: ChatApi) -> None:
    chat_api.scripted.script = [ProviderError(K.SERVER_ERROR, "boom", provider="openai_compatible")] * 3

    response = await chat_api.chat(model="judge", stream=True)

    assert response.status_code == 200, response.text
    assert response.headers["x-llm-provider-route"] == "mock/mock-comparison-v1"
    assert len(chat_api.scripted.requests) == 3  # its whole retry budget, then the fallback
    await chat_api.recorder.flush()
    rows = await chat_api.harness.store.usage_summary(start=None, end=None, group_by="provider")
    assert {row.group: row.calls for row in rows} == {"mock": 1}  # usage records name who served


async def test_a_caller_error_does_not_fall_back(chat_api: ChatApi) -> None:
    chat_api.scripted.script = [ProviderError(K.INVALID_REQUEST, "bad tool schema", provider="openai_compatible")]

    response = await chat_api.chat(model="judge")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


async def test_weighted_routes_pick_by_weight_and_fall_back_to_the_rest(chat_api: ChatApi) -> None:
    response = await chat_api.chat(model="spread")

    assert response.headers["x-llm-provider-route"] == "mock/mock-comparison-v1"
    assert chat_api.scripted.requests == []


async def test_routes_are_listed_as_models_and_in_the_providers_view(chat_api: ChatApi) -> None:
    listed = {model["id"] for model in (await chat_api.client.get("/v1/models")).json()["data"]}
    assert {"judge", "spread"} <= listed
    assert "ghost" not in listed  # no target served here

    routes = (await chat_api.client.get("/api/v1/providers")).json()["routes"]
    judge = next(route for route in routes if route["name"] == "judge")
    assert judge["strategy"] == "fallback"
    assert [target["model"] for target in judge["targets"]] == ["openai_compatible/primary", "mock/mock-comparison-v1"]
    assert judge["targets"][0]["circuit_state"] == "closed"


async def test_a_second_deployment_of_a_vendor_has_its_own_breaker_and_serves_the_fallback() -> None:
    api = build_chat_api(
        deployments={"openai-eu": {"vendor": "openai", "api_key": "k2", "base_url": "https://eu.example/v1"}},
        model_routes={"gpt": {"targets": ["openai/gpt-4.1", "openai-eu/gpt-4.1"]}},
    )
    try:
        breaker = api.harness.breakers.get("openai")
        for _ in range(api.harness.failure_threshold):
            breaker.record_failure(ProviderError(K.SERVER_ERROR, "down", provider="openai"))

        response = await api.chat(model="gpt")

        assert response.status_code == 200, response.text
        assert response.headers["x-llm-provider-route"] == "openai-eu/gpt-4.1"
        assert api.harness.breakers.get("openai-eu").state.value == "closed"
        eu = api.gateway.route("openai-eu/gpt-4.1")
        assert (eu.info.provider, eu.provider_name, eu.speaks_openai) == ("openai", "openai-eu", True)
        await api.recorder.flush()
        rows = await api.harness.store.usage_summary(start=None, end=None, group_by="provider")
        assert {row.group for row in rows} == {"openai-eu"}
    finally:
        await api.client.aclose()
