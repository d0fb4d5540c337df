"""Every callback validates against the original client's `EventEnvelope[LLMComparisonResultV1]` (SPEC §8.2).

Each outcome — completed, every provider error kind, invalid response, expired, cancelled — for every provider,
built by the real use cases over fakes and parsed the way the client parses it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.events import CompletedCall
from llm_provider_service.domain.models import (
    Comparison,
    CompletionResponse,
    Job,
    JobStatus,
    LLMConfigOverrides,
    ProviderName,
    TokenUsage,
)
from llm_provider_service.domain.wire_vocabulary import ERROR_CODES
from llm_provider_service.service.event_factory import EventFactory, LifecycleTopics
from llm_provider_service.service.outcomes import Outcomes
from tests.compat.original_models import ORIGINAL_ERROR_CODES, LLMProviderType, parse_callback
from tests.fakes import ScriptedProvider, comparison_answer
from tests.unit.service.harness import CALLBACK_TOPIC, Harness, comparison

pytestmark = pytest.mark.compat

CALLER_METADATA = {"essay_a_id": "a-1", "essay_b_id": "b-1", "bos_batch_id": str(uuid.uuid4()), "cj_batch_id": "7"}
NOW = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


def client_comparison(**metadata: Any) -> Any:
    return comparison(correlation_id=str(uuid.uuid4()), metadata={**CALLER_METADATA, **metadata})


async def only_callback(harness: Harness) -> dict[str, Any]:
    [event] = [event for event in await harness.published() if event.topic == CALLBACK_TOPIC]
    return dict(json.loads(event.value))


def assert_client_accepts(envelope: dict[str, Any]) -> Any:
    parsed_envelope, result = parse_callback(json.dumps(envelope))
    assert parsed_envelope.correlation_id == result.correlation_id
    for key, value in CALLER_METADATA.items():
        assert result.request_metadata[key] == value  # echoed verbatim
    return result


async def test_a_completed_callback_is_accepted() -> None:
    harness = Harness(provider=ScriptedProvider([comparison_answer("Essay B", 4.5, "B is clearer.")]))
    await harness.jobs.submit(client_comparison())
    await harness.process_next()
    result = assert_client_accepts(await only_callback(harness))
    assert (result.winner.value, result.confidence, result.error_detail) == ("Essay B", 4.5, None)
    assert result.token_usage.total_tokens == 150
    assert result.request_metadata["cost_known"] is True


@pytest.mark.parametrize("kind", list(ProviderErrorKind))
async def test_every_provider_error_kind_is_accepted(kind: ProviderErrorKind) -> None:
    error = ProviderError(kind, f"scripted {kind.value}", provider="mock", http_status=500)
    harness = Harness(provider=ScriptedProvider([error]), max_attempts=1)
    await harness.jobs.submit(client_comparison())
    await harness.process_next()
    result = assert_client_accepts(await only_callback(harness))
    detail = result.error_detail
    assert detail.error_code.value == ERROR_CODES[kind]
    assert detail.details["kind"] == kind.value
    assert detail.details["retryable"] is kind.retryable
    assert (result.response_time_ms >= 0, result.cost_estimate, result.token_usage.total_tokens) == (True, 0.0, 0)


async def test_an_invalid_answer_twice_is_accepted() -> None:
    broken = CompletionResponse(text="{not json", usage=TokenUsage(3, 1), model="m")
    harness = Harness(provider=ScriptedProvider([broken, broken]))
    await harness.jobs.submit(client_comparison())
    await harness.process_next()
    result = assert_client_accepts(await only_callback(harness))
    assert result.error_detail.error_code.value == "LLM_INVALID_RESPONSE"


async def test_expired_and_cancelled_callbacks_are_accepted() -> None:
    harness = Harness(ttl_seconds=10)
    expired = (await harness.jobs.submit(client_comparison())).job
    harness.clock.advance(11)
    await harness.process_next()
    cancelled = (await harness.jobs.submit(client_comparison())).job
    await harness.jobs.cancel(cancelled.id)
    events = [json.loads(event.value) for event in await harness.published() if event.topic == CALLBACK_TOPIC]
    by_id = {envelope["data"]["request_id"]: assert_client_accepts(envelope) for envelope in events}
    assert by_id[expired.id].error_detail.details["kind"] == "expired"
    assert by_id[expired.id].error_detail.error_code.value == "TIMEOUT"
    assert by_id[cancelled.id].error_detail.details["kind"] == "cancelled"
    assert by_id[cancelled.id].error_detail.error_code.value == "PROCESSING_ERROR"


def _job(provider: str) -> Job:
    return Job(
        id=str(uuid.uuid4()),
        request=client_comparison(),
        status=JobStatus.PROCESSING,
        provider=provider,
        model="some-model-2025-01-01",
        created_at=NOW,
        updated_at=NOW,
        available_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        attempts=1,
        started_at=NOW,
    )


@pytest.mark.parametrize("provider", [name.value for name in ProviderName])
def test_every_provider_reports_one_of_the_originals_five(provider: str) -> None:
    events = EventFactory(source_service="llm_provider_service", topics=LifecycleTopics())
    outcomes = Outcomes.for_events(events)
    job = _job(provider)
    call = CompletedCall(
        comparison=Comparison("Essay A", "A is better.", 3.0),
        provider=provider,
        model=job.model,
        usage=TokenUsage(10, 5),
        cost_usd=0.0,
        response_time_ms=12,
        extra_metadata={},
    )
    error = ProviderError(ProviderErrorKind.SERVER_ERROR, "boom", provider=provider)
    for outcome in (
        outcomes.completed(job, call, now=NOW),
        outcomes.failed(job, error, now=NOW),
        outcomes.expired(job, now=NOW),
    ):
        [callback, *_] = events.terminal(job, outcome, now=NOW)
        result = assert_client_accepts(json.loads(callback.value))
        expected = "openai" if provider == "openai_compatible" else provider
        assert result.provider == LLMProviderType(expected)
        if provider == "openai_compatible":
            assert result.request_metadata["provider_route"] == "openai_compatible"
        else:
            assert "provider_route" not in result.request_metadata


def test_every_error_code_we_send_is_in_the_originals_vocabulary() -> None:
    assert set(ERROR_CODES.values()) <= ORIGINAL_ERROR_CODES


async def test_request_metadata_is_the_callers_plus_documented_keys_only() -> None:
    answer = CompletionResponse(
        text="",
        usage=TokenUsage(5, 5),
        model="mock-comparison-v1",
        structured={"winner": "Essay A", "justification": "Clearer.", "confidence": 4},
        provider_metadata={"mock_intrinsic_ms": 12.5, "mock_scenario": "ok", "response_id": "resp_1"},
    )
    harness = Harness(provider=ScriptedProvider([answer]))
    caller = {**CALLER_METADATA, "prompt_sha256": "the caller's own", "cost_known": "caller"}
    await harness.jobs.submit(comparison(metadata=caller))
    await harness.process_next()
    envelope = await only_callback(harness)
    metadata = envelope["data"]["request_metadata"]
    assert metadata == caller  # the caller's keys win; nothing vendor- or mock-internal is added
    assert envelope["metadata"]["mock_intrinsic_ms"] == 12.5  # the mock's timing rides in the envelope


async def test_dropped_parameters_are_named_in_the_callback() -> None:
    harness = Harness()
    await harness.jobs.submit(comparison(metadata=CALLER_METADATA, overrides=LLMConfigOverrides(max_tokens=10_000_000)))
    await harness.process_next()
    metadata = (await only_callback(harness))["data"]["request_metadata"]
    assert metadata["dropped_params"] == ["max_tokens_override"]
    assert len(metadata["prompt_sha256"]) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"error_detail": None, "winner": None},  # neither outcome
        {"response_time_ms": None},
        {"cost_estimate": None},
        {"token_usage": None},
        {"provider": "openai_compatible"},
        {"confidence": 6},
    ],
)
def test_the_originals_model_refuses_what_it_refuses(change: dict[str, Any]) -> None:
    """The schema can fail: payloads the original rejects are rejected here too."""
    events = EventFactory(source_service="llm_provider_service", topics=LifecycleTopics())
    job = _job("mock")
    call = CompletedCall(Comparison("Essay A", "A.", 3.0), "mock", "m", TokenUsage(), 0.0, 1, {})
    [callback, *_] = events.terminal(job, Outcomes.for_events(events).completed(job, call, now=NOW), now=NOW)
    envelope = json.loads(callback.value)
    envelope["data"].update(change)
    with pytest.raises(ValidationError):
        parse_callback(json.dumps(envelope))


def test_success_and_error_together_are_refused() -> None:
    events = EventFactory(source_service="llm_provider_service", topics=LifecycleTopics())
    outcomes = Outcomes.for_events(events)
    job = _job("mock")
    failed = outcomes.failed(job, ProviderError(ProviderErrorKind.TIMEOUT, "slow", provider="mock"), now=NOW)
    [callback, *_] = events.terminal(job, failed, now=NOW)
    envelope = json.loads(callback.value)
    envelope["data"].update(winner="Essay A", justification="x", confidence=3)
    with pytest.raises(ValidationError, match="exactly one"):
        parse_callback(json.dumps(envelope))
