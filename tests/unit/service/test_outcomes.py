"""Job outcomes: the callback payload and the typed facts a store writes to its columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.events import CompletedCall, JobOutcome
from llm_provider_service.domain.models import Comparison, Job, JobStatus, TokenUsage
from llm_provider_service.service.event_factory import EventFactory, LifecycleTopics
from llm_provider_service.service.outcomes import Outcomes
from tests.unit.service.harness import comparison

NOW = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


def job() -> Job:
    return Job(
        id="job-1",
        request=comparison(),
        status=JobStatus.PROCESSING,
        provider="mock",
        model="mock-comparison-v1",
        created_at=NOW,
        updated_at=NOW,
        available_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        attempts=2,
    )


def test_every_error_detail_names_the_configured_service() -> None:
    outcomes = Outcomes.for_events(EventFactory(source_service="essay-judge", topics=LifecycleTopics()))
    error = ProviderError(ProviderErrorKind.RATE_LIMITED, "slow down", provider="mock")

    ended = [
        outcomes.failed(job(), error, now=NOW),
        outcomes.expired(job(), now=NOW),
        outcomes.cancelled(job(), now=NOW),
    ]

    assert [outcome.status for outcome in ended] == [JobStatus.FAILED, JobStatus.EXPIRED, JobStatus.CANCELLED]
    assert {outcome.payload["error_detail"]["service"] for outcome in ended} == {"essay-judge"}
    assert all(outcome.usage is None and outcome.cost_usd is None for outcome in ended)


def test_a_completed_outcome_carries_its_facts_typed() -> None:
    call = CompletedCall(
        comparison=Comparison(winner="Essay A", justification="clearer", confidence=4),
        provider="mock",
        model="mock-comparison-v1",
        usage=TokenUsage(prompt_tokens=120, completion_tokens=30),
        cost_usd=0.0042,
        response_time_ms=250,
        extra_metadata={},
    )

    outcome = Outcomes(service="svc").completed(job(), call, now=NOW)

    assert (outcome.status, outcome.usage, outcome.cost_usd, outcome.response_time_ms) == (
        JobStatus.COMPLETED,
        TokenUsage(120, 30),
        0.0042,
        250,
    )
    assert outcome.prompt_sha256 == outcome.payload["request_metadata"]["prompt_sha256"]
    assert outcome.payload["token_usage"]["total_tokens"] == 150


def test_an_outcome_must_be_terminal() -> None:
    with pytest.raises(ValueError, match="terminal"):
        JobOutcome(JobStatus.PROCESSING, {})
