"""Mock control through the real adapters: `x-mock-*` headers out, `x-mock-intrinsic-ms` back, per vendor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from pydantic import SecretStr

from llm_provider_service.domain.comparison import build_completion_request, parse_comparison
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import ComparisonRequest, CompletionRequest
from llm_provider_service.mock.control import NO_CONTROL, MockControl, parse_control
from llm_provider_service.mock.engine import MockEngine
from llm_provider_service.mock.profile import MockProfile
from llm_provider_service.providers.http_client import VendorTransport
from llm_provider_service.providers.manifest import default_catalog
from llm_provider_service.providers.openai import DEFAULT_OPENAI_BASE_URL, OpenAIChatProvider
from llm_provider_service.providers.registry import VendorEndpoint
from tests.unit.providers.mock_server import VENDORS, RecordingSleep, adapter_against_mock_server
from tests.unit.providers.requests import chat_request
from tests.unit.providers.scripted_vendor import ScriptedAnswer, transport, vendor_session

K = ProviderErrorKind


def job_call(
    vendor: str, *, job_id: str = "job-1", attempt: int = 1, mock: dict[str, Any] | None = None
) -> CompletionRequest:
    comparison = ComparisonRequest(user_prompt="Essay A: ... Essay B: ...", correlation_id="c-1")
    model = default_catalog().resolve(vendor, None).model_id
    call = build_completion_request(comparison, job_id=job_id, model=model, attempt=attempt)
    return replace(call, mock=parse_control(mock) if mock else NO_CONTROL)


@pytest.mark.parametrize("vendor", VENDORS)
async def test_a_scripted_failure_recovers_on_the_next_attempt(vendor: str) -> None:
    mock = {"scenario": "server_error", "fail_attempts": 1}
    async with adapter_against_mock_server(vendor, MockEngine(MockProfile())) as adapter:
        with pytest.raises(ProviderError) as raised:
            await adapter.complete(job_call(vendor, attempt=1, mock=mock))
        response = await adapter.complete(job_call(vendor, attempt=2, mock=mock))
    assert raised.value.kind is K.SERVER_ERROR
    assert parse_comparison(response, provider="mock").winner in {"Essay A", "Essay B"}


@pytest.mark.parametrize("vendor", VENDORS)
async def test_latency_is_forwarded_and_the_intrinsic_time_comes_back(vendor: str) -> None:
    sleep = RecordingSleep()
    async with adapter_against_mock_server(vendor, MockEngine(MockProfile()), sleep=sleep) as adapter:
        response = await adapter.complete(job_call(vendor, mock={"latency_ms": 250}))
    assert sleep.waits_seconds == [0.25]
    assert response.provider_metadata["mock_intrinsic_ms"] == 250.0


@pytest.mark.parametrize("vendor", VENDORS)
async def test_streams_forward_the_scenario(vendor: str) -> None:
    async with adapter_against_mock_server(vendor, MockEngine(MockProfile())) as adapter:
        with pytest.raises(ProviderError) as raised:
            _ = [chunk async for chunk in adapter.stream(job_call(vendor, mock={"scenario": "rate_limited"}))]
    assert raised.value.kind is K.RATE_LIMITED
    assert raised.value.retry_after_seconds is not None


@pytest.mark.parametrize("vendor", VENDORS)
async def test_random_faults_are_deterministic_per_job_and_attempt(vendor: str) -> None:
    """With a base URL override the job id and attempt reach the mock server even without instructions."""
    profile = MockProfile(fault_rates={"server_error": 0.5})
    oracle = MockEngine(profile)  # same seed: predicts the server's decision for (key, attempt)
    job_id = next(
        key
        for key in (f"job-{index}" for index in range(200))
        if oracle.outcome(key, 1) == "server_error" and oracle.outcome(key, 2) == "ok"
    )
    async with adapter_against_mock_server(vendor, MockEngine(profile)) as adapter:
        with pytest.raises(ProviderError) as raised:
            await adapter.complete(job_call(vendor, job_id=job_id, attempt=1))
        response = await adapter.complete(job_call(vendor, job_id=job_id, attempt=2))
    assert raised.value.kind is K.SERVER_ERROR
    assert response.text


async def test_invalid_mock_instructions_are_an_invalid_request() -> None:
    async with adapter_against_mock_server("openai", MockEngine(MockProfile())) as adapter:
        with pytest.raises(ProviderError) as raised:
            # Only the mock server's own header parsing can see this: the edge refuses it (tests/api).
            await adapter.complete(replace(job_call("openai"), mock=MockControl(scenario="meltdown")))
    assert raised.value.kind is K.INVALID_REQUEST


# --- which headers go where --------------------------------------------------------------------------

OPENAI_ANSWER = {
    "id": "chatcmpl-1",
    "model": "gpt-5-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1},
}


def mock_headers_sent(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items() if name.lower().startswith("x-mock-")}


async def sent_headers(call: CompletionRequest, *, forward_identity: bool) -> dict[str, str]:
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(body=OPENAI_ANSWER))
        transport = VendorTransport(
            session, provider="openai", base_url=base_url, headers={}, forward_mock_identity=forward_identity
        )
        await OpenAIChatProvider(transport, default_catalog()).complete(call)
        return mock_headers_sent(vendor.last.headers)


async def test_a_plain_call_to_a_vendors_default_url_sends_no_mock_headers() -> None:
    assert await sent_headers(chat_request("gpt-5-mini", request_key="job-1"), forward_identity=False) == {}


async def test_a_vendors_default_url_never_gets_mock_instructions() -> None:
    call = chat_request("gpt-5-mini", request_key="job-1", mock=MockControl(scenario="ok", latency_ms=12.5))
    assert await sent_headers(call, forward_identity=False) == {}


async def test_mock_instructions_are_sent_with_the_job_key_and_attempt() -> None:
    call = chat_request(
        "gpt-5-mini",
        request_key="job-1",
        attempt=3,
        mock=MockControl(scenario="ok", latency_ms=12.5, fail_attempts=2),
    )
    assert await sent_headers(call, forward_identity=True) == {
        "x-mock-scenario": "ok",
        "x-mock-latency-ms": "12.5",
        "x-mock-fail-attempts": "2",
        "x-mock-request-key": "job-1",
        "x-mock-attempt": "3",
    }


async def test_an_overridden_base_url_gets_only_the_key_and_attempt() -> None:
    call = chat_request("gpt-5-mini", request_key="job-1", attempt=2)
    headers = await sent_headers(call, forward_identity=True)
    assert headers == {"x-mock-request-key": "job-1", "x-mock-attempt": "2"}


async def test_a_real_vendors_answer_has_no_intrinsic_time() -> None:
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(body=OPENAI_ANSWER, headers={"x-mock-intrinsic-ms": "not a number"}))
        provider = OpenAIChatProvider(transport(session, base_url, "openai"), default_catalog())
        response = await provider.complete(chat_request("gpt-5-mini"))
    assert "mock_intrinsic_ms" not in response.provider_metadata


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (None, (DEFAULT_OPENAI_BASE_URL, False)),
        (DEFAULT_OPENAI_BASE_URL + "/", (DEFAULT_OPENAI_BASE_URL, False)),
        ("http://127.0.0.1:8090/v1", ("http://127.0.0.1:8090/v1", True)),
    ],
)
def test_only_a_base_url_other_than_the_default_counts_as_overridden(
    base_url: str | None, expected: tuple[str, bool]
) -> None:
    assert VendorEndpoint(SecretStr("k"), base_url).url(DEFAULT_OPENAI_BASE_URL) == expected
