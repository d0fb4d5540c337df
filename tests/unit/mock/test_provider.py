"""The in-process mock provider: answers the core accepts, faults as domain errors, paced without sleeping."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llm_provider_service.domain.comparison import build_completion_request, parse_comparison
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind, RequestValidationError
from llm_provider_service.domain.models import ChatMessage, ComparisonRequest, CompletionChunk, CompletionRequest
from llm_provider_service.mock import MockControl, MockEngine, MockProfile
from llm_provider_service.mock.control import control_of_metadata
from llm_provider_service.providers.mock import MockProvider


class RecordingSleep:
    """Stands in for asyncio.sleep: records each requested wait and returns at once."""

    def __init__(self) -> None:
        self.waits_seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits_seconds.append(seconds)


def _job(index: int = 0, mock: dict[str, Any] | None = None, attempt: int = 1) -> CompletionRequest:
    request = ComparisonRequest(
        user_prompt=f"Essay A: text {index}. Essay B: other text {index}.",
        correlation_id=f"corr-{index}",
        metadata={"mock": mock} if mock is not None else {},
    )
    return build_completion_request(request, job_id=f"job-{index}", model="mock-comparison-v1", attempt=attempt)


def _provider(profile: MockProfile | None = None) -> tuple[MockProvider, RecordingSleep]:
    sleep = RecordingSleep()
    return MockProvider(MockEngine(profile or MockProfile()), sleep=sleep), sleep


async def test_every_ok_answer_passes_the_strict_comparison_parser() -> None:
    provider, _ = _provider(MockProfile(seed=9))
    winners = set()

    for index in range(300):
        response = await provider.complete(_job(index))
        comparison = parse_comparison(response, provider="mock")
        winners.add(comparison.winner)
        assert 1 <= comparison.confidence <= 5
        assert len(comparison.justification) <= 500
        assert json.loads(response.text) == response.structured
        assert response.usage.prompt_tokens > 0
        assert response.usage.completion_tokens > 0

    assert winners == {"Essay A", "Essay B"}
    assert provider.name == "mock"


async def test_the_result_reports_intrinsic_time_and_scenario() -> None:
    provider, sleep = _provider(MockProfile(latency_model="fixed", latency_ms=250))

    response = await provider.complete(_job())

    assert response.provider_metadata == {"mock_intrinsic_ms": 250.0, "mock_scenario": "ok"}
    assert sleep.waits_seconds == [0.25]


@pytest.mark.parametrize(
    ("scenario", "kind", "status"),
    [
        ("rate_limited", ProviderErrorKind.RATE_LIMITED, 429),
        ("overloaded", ProviderErrorKind.OVERLOADED, 529),
        ("server_error", ProviderErrorKind.SERVER_ERROR, 500),
        ("timeout", ProviderErrorKind.TIMEOUT, None),
        ("unauthorized", ProviderErrorKind.AUTHENTICATION, 401),
    ],
)
async def test_error_faults_raise_the_matching_provider_error(
    scenario: str, kind: ProviderErrorKind, status: int | None
) -> None:
    provider, _ = _provider()

    with pytest.raises(ProviderError) as caught:
        await provider.complete(_job(mock={"scenario": scenario}))

    assert caught.value.kind is kind
    assert caught.value.http_status == status
    assert caught.value.provider == "mock"
    assert (caught.value.retry_after_seconds is not None) == (scenario == "rate_limited")


async def test_a_timeout_hangs_for_the_profile_timeout() -> None:
    provider, sleep = _provider(MockProfile(timeout_seconds=4))

    with pytest.raises(ProviderError):
        await provider.complete(_job(mock={"scenario": "timeout"}))

    assert sleep.waits_seconds == [4.0]


async def test_a_timeout_with_a_shorter_requested_latency_fails_sooner() -> None:
    provider, sleep = _provider(MockProfile(timeout_seconds=30))

    with pytest.raises(ProviderError):
        await provider.complete(_job(mock={"scenario": "timeout", "latency_ms": 50}))

    assert sleep.waits_seconds == [0.05]


@pytest.mark.parametrize("scenario", ["malformed", "invalid_output"])
async def test_bad_output_is_returned_and_rejected_by_the_strict_parser(scenario: str) -> None:
    provider, _ = _provider()

    response = await provider.complete(_job(mock={"scenario": scenario}))

    assert response.provider_metadata["mock_scenario"] == scenario
    if scenario == "malformed":
        assert response.structured is None
    with pytest.raises(ProviderError) as caught:
        parse_comparison(response, provider="mock")
    assert caught.value.kind is ProviderErrorKind.INVALID_RESPONSE


async def test_fail_attempts_lets_a_retry_succeed() -> None:
    provider, _ = _provider()
    control = {"scenario": "server_error", "fail_attempts": 2}

    for attempt in (1, 2):
        with pytest.raises(ProviderError):
            await provider.complete(_job(mock=control, attempt=attempt))
    response = await provider.complete(_job(mock=control, attempt=3))

    assert parse_comparison(response, provider="mock").winner in {"Essay A", "Essay B"}


def test_invalid_control_is_refused_at_the_edge_before_any_provider() -> None:
    # The provider receives a typed MockControl; a typo in metadata.mock is a 400 at submit (tests/api).
    with pytest.raises(RequestValidationError):
        control_of_metadata({"mock": {"scenario": "explode"}})


async def test_a_stream_is_paced_by_ttft_and_inter_token_time() -> None:
    provider, sleep = _provider(MockProfile(latency_model="fixed", latency_ms=10, ttft_ms=30, inter_token_ms=5))
    request = CompletionRequest(model="mock-comparison-v1", messages=(ChatMessage("user", "Say something."),))

    chunks = [chunk async for chunk in provider.stream(request)]
    whole = await provider.complete(request)
    deltas = [chunk.delta for chunk in chunks[:-1]]

    assert "".join(deltas) == whole.text
    assert chunks[-1] == CompletionChunk(usage=whole.usage, finish_reason="stop")
    assert whole.structured is None
    assert sleep.waits_seconds[:2] == [0.01, 0.03]
    assert sleep.waits_seconds[2 : 2 + len(deltas) - 1] == [0.005] * (len(deltas) - 1)


async def test_a_stream_fault_is_raised_before_any_delta() -> None:
    provider, _ = _provider()
    request = CompletionRequest(
        model="mock-comparison-v1", messages=(ChatMessage("user", "hi"),), mock=MockControl(scenario="overloaded")
    )
    deltas: list[CompletionChunk] = []

    with pytest.raises(ProviderError) as caught:
        deltas.extend([delta async for delta in provider.stream(request)])

    assert caught.value.kind is ProviderErrorKind.OVERLOADED
    assert deltas == []
