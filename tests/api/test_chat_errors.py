"""Gateway errors: problem+json with an OpenAI `error` object, statuses per failure kind, auth, breaker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from tests.api.chat_support import ChatApi, ScriptedStreamingProvider, build_chat_api

K = ProviderErrorKind


@pytest.fixture
async def chat_api() -> AsyncIterator[ChatApi]:
    api = build_chat_api()
    yield api
    await api.client.aclose()


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["error"]["code"] == code
    assert body["error"]["message"] == body["detail"]
    assert body["error"]["type"]
    error: dict[str, str] = body["error"]
    return error


async def test_an_unknown_model_is_404(chat_api: ChatApi) -> None:
    for model in ("mock/no-such-model", "nowhere/x", "google/gemini-2.5-flash", "no-slash"):
        assert_error(await chat_api.chat(model=model), 404, "model_not_found")


async def test_a_parameter_the_vendor_cannot_honour_is_dropped_and_named(chat_api: ChatApi) -> None:
    anthropic = chat_api.gateway.route("anthropic/claude-sonnet-4-5").provider
    assert isinstance(anthropic, ScriptedStreamingProvider)

    response = await chat_api.chat(
        model="anthropic/claude-sonnet-4-5", seed=7, logprobs=True, top_p=0.5, service_tier="flex"
    )

    assert response.status_code == 200, response.text
    assert response.headers["x-llm-provider-dropped-params"] == "logprobs, seed, service_tier"
    [call] = anthropic.requests
    assert (call.options.seed, call.options.logprobs, call.options.top_p) == (None, False, 0.5)


async def test_under_reject_a_parameter_the_vendor_cannot_honour_is_a_400_naming_it() -> None:
    api = build_chat_api(unsupported_params="reject")
    try:
        response = await api.chat(model="anthropic/claude-sonnet-4-5", seed=7)
        error = assert_error(response, 400, "unsupported_parameter")
        assert error["param"] == "seed"
        assert "seed" in error["message"]
    finally:
        await api.client.aclose()


async def test_a_parameter_the_model_cannot_take_is_dropped(chat_api: ChatApi) -> None:
    response = await chat_api.chat(model="openai/gpt-5-mini", temperature=0.5, seed=3)

    assert response.status_code == 200, response.text
    assert response.headers["x-llm-provider-dropped-params"] == "temperature"
    [call] = chat_api.openai.requests
    assert call.temperature is None
    assert call.passthrough is not None
    assert call.passthrough["seed"] == 3  # OpenAI takes seed: passed through verbatim
    assert "temperature" not in call.passthrough


async def test_an_invalid_body_lists_its_errors(chat_api: ChatApi) -> None:
    response = await chat_api.chat(messages=[], temperature="hot")
    assert_error(response, 400, "validation_error")
    assert {tuple(error["loc"]) for error in response.json()["errors"]} == {("messages",), ("temperature",)}


async def test_n_above_one_where_the_vendor_has_none_and_system_only_prompts_are_refused(chat_api: ChatApi) -> None:
    error = assert_error(await chat_api.chat(model="anthropic/claude-sonnet-4-5", n=2), 400, "unsupported_parameter")
    assert error["param"] == "n"
    assert_error(await chat_api.chat(messages=[{"role": "system", "content": "x"}]), 400, "validation_error")


@pytest.mark.parametrize(
    ("scenario", "status", "code"),
    [
        ("rate_limited", 429, "rate_limited"),
        ("overloaded", 503, "provider_overloaded"),
        ("server_error", 502, "provider_error"),
        ("timeout", 504, "provider_timeout"),
        ("unauthorized", 502, "provider_authentication_failed"),
    ],
)
async def test_mock_faults_map_to_statuses(chat_api: ChatApi, scenario: str, status: int, code: str) -> None:
    response = await chat_api.chat(headers={"x-mock-scenario": scenario})

    assert_error(response, status, code)
    if scenario == "rate_limited":
        assert response.headers["retry-after"] == "1"
        assert chat_api.sleep.waits_seconds == [1.0, 1.0]  # two retries, then the budget is spent
    if scenario == "unauthorized":
        assert chat_api.sleep.waits_seconds == []  # terminal: never retried


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        (K.INVALID_REQUEST, 400, "invalid_request"),
        (K.CONTENT_FILTERED, 400, "content_filtered"),
        (K.MODEL_NOT_FOUND, 404, "model_not_found"),
        (K.INVALID_RESPONSE, 502, "invalid_provider_response"),
        (K.CONNECTION, 502, "provider_unreachable"),
    ],
)
async def test_provider_error_kinds_map_to_statuses(
    chat_api: ChatApi, kind: ProviderErrorKind, status: int, code: str
) -> None:
    chat_api.scripted.script = [ProviderError(kind, "vendor says no", provider="openai_compatible")] * 3

    assert_error(await chat_api.chat(model="openai_compatible/x"), status, code)


async def test_a_retry_after_beyond_the_budget_is_not_waited_for(chat_api: ChatApi) -> None:
    error = ProviderError(K.RATE_LIMITED, "slow down", provider="openai_compatible", retry_after_seconds=30)
    chat_api.scripted.script = [error]

    response = await chat_api.chat(model="openai_compatible/x")

    assert_error(response, 429, "rate_limited")
    assert response.headers["retry-after"] == "30"
    assert chat_api.sleep.waits_seconds == []
    assert len(chat_api.scripted.requests) == 1


async def test_an_open_breaker_answers_503_with_retry_after(chat_api: ChatApi) -> None:
    breaker = chat_api.harness.breakers.get("mock")
    for _ in range(chat_api.harness.failure_threshold):
        breaker.record_failure(ProviderError(K.SERVER_ERROR, "down", provider="mock"))
    chat_api.harness.clock.advance(10)

    response = await chat_api.chat()

    assert_error(response, 503, "provider_unavailable")
    assert response.headers["retry-after"] == "20"


async def test_repeated_provider_failures_open_the_breaker(chat_api: ChatApi) -> None:
    for _ in range(2):  # 3 calls each: 6 consecutive failures against a threshold of 5
        await chat_api.chat(headers={"x-mock-scenario": "server_error"})

    assert_error(await chat_api.chat(), 503, "provider_unavailable")


async def test_keys_are_enforced_when_configured() -> None:
    api = build_chat_api(api_keys=["client-key"])
    try:
        assert_error(await api.chat(), 401, "unauthorized")
        assert_error(await api.chat(headers={"authorization": "Bearer wrong"}), 401, "unauthorized")
        assert_error(await api.client.get("/v1/models"), 401, "unauthorized")
        assert (await api.chat(headers={"authorization": "Bearer client-key"})).status_code == 200
    finally:
        await api.client.aclose()


async def test_without_a_gateway_the_routes_are_404() -> None:
    api = build_chat_api(gateway_enabled=False)
    try:
        assert_error(await api.chat(), 404, "not_found")
    finally:
        await api.client.aclose()


async def test_a_bad_mock_header_is_a_validation_error(chat_api: ChatApi) -> None:
    assert_error(await chat_api.chat(headers={"x-mock-latency-ms": "soon"}), 400, "validation_error")
    # Validated at the edge, like a bad number: no provider call is made for a bad instruction.
    assert_error(await chat_api.chat(headers={"x-mock-scenario": "explode"}), 400, "validation_error")
    assert chat_api.scripted.requests == []
