"""Jobs whose provider is a route: the target each attempt runs on, fallbacks, and what the callback says."""

from __future__ import annotations

from typing import Any

import pytest

from llm_provider_service.domain.errors import (
    ProviderError,
    ProviderErrorKind,
    UnknownProviderError,
    UnsupportedParameterError,
)
from llm_provider_service.domain.models import JobStatus, LLMConfigOverrides
from llm_provider_service.service.job_routing import SPENT_KEY
from llm_provider_service.service.processing_report import Outcome
from tests.fakes import ScriptedProvider
from tests.unit.service.harness import Harness, comparison

K = ProviderErrorKind
ROUTES = {
    "judge": {"targets": ["openai_compatible/primary", "mock/mock-comparison-v1"]},
    "spread": {"targets": ["openai_compatible/primary", "mock/mock-comparison-v1"], "strategy": "weighted",
               "weights": [0, 1]},
    "eu": {"targets": ["anthropic-eu/claude-sonnet-4-5", "mock/mock-comparison-v1"]},
}  # fmt: skip


def _harness(
    *, max_attempts: int = 5, failure_threshold: int = 5, ttl_seconds: float = 3600.0, **settings: Any
) -> Harness:
    primary = ScriptedProvider(name="openai_compatible")
    fallback = ScriptedProvider(name="mock")
    deployment = ScriptedProvider(name="anthropic")
    harness = Harness(
        providers={"openai_compatible": primary, "mock": fallback, "anthropic-eu": deployment},
        max_attempts=max_attempts,
        failure_threshold=failure_threshold,
        ttl_seconds=ttl_seconds,
        settings_overrides={
            "model_routes": ROUTES,
            "deployments": {"anthropic-eu": {"vendor": "anthropic"}},
            "model_aliases": {"fast": "mock/mock-comparison-v1"},
            **settings,
        },
    )
    harness.primary, harness.fallback, harness.deployment = primary, fallback, deployment  # type: ignore[attr-defined]
    return harness


def _routed(route: str, **overrides: Any) -> Any:
    return comparison(overrides=LLMConfigOverrides(route=route, **overrides))


def _server_error() -> ProviderError:
    return ProviderError(K.SERVER_ERROR, "upstream 500", provider="openai_compatible")


async def test_the_primary_serves_a_routed_job_and_the_callback_names_it_and_the_route() -> None:
    harness = _harness()
    job = (await harness.jobs.submit(_routed("judge"))).job
    assert (job.provider, job.model) == ("judge", "primary")  # the store records the route

    report = await harness.process_next()

    assert report.outcome == Outcome.COMPLETED
    assert (report.provider, report.model) == ("openai_compatible", "primary")  # metrics and usage records
    assert [request.model for request in harness.primary.requests] == ["primary"]  # type: ignore[attr-defined]
    [callback] = await harness.callbacks()
    data = callback["data"]
    assert data["provider"] == "openai"  # the original's enum: an OpenAI-compatible server speaks OpenAI
    assert data["request_metadata"]["provider_route"] == "judge"
    assert "provider_deployment" not in data["request_metadata"]
    assert harness.store.jobs[job.id].result == data


async def test_an_open_breaker_sends_the_job_to_the_fallback_without_spending_an_attempt() -> None:
    harness = _harness()
    breaker = harness.breakers.get("openai_compatible")
    for _ in range(5):
        breaker.record_failure(_server_error())
    job = (await harness.jobs.submit(_routed("judge"))).job

    report = await harness.process_next()

    assert report.outcome == Outcome.COMPLETED
    assert report.provider == "mock"
    assert harness.primary.requests == []  # type: ignore[attr-defined]
    data = (await harness.callbacks())[0]["data"]
    assert (data["provider"], data["attempts"]) == ("mock", 1)
    assert data["request_metadata"]["provider_route"] == "judge"
    assert harness.store.jobs[job.id].status == JobStatus.COMPLETED


async def test_retryable_failures_stay_on_the_primary_until_its_breaker_opens_then_the_fallback_serves() -> None:
    harness = _harness(failure_threshold=2)
    harness.primary._script = [_server_error()] * 5  # type: ignore[attr-defined]
    job = (await harness.jobs.submit(_routed("judge"))).job

    outcomes = []
    for _ in range(3):
        outcomes.append((await harness.process_next()).outcome)
        harness.clock.advance(11)  # past the retry backoff (at most 10 s), not the breaker's reset

    assert outcomes == [Outcome.RETRY_SCHEDULED, Outcome.RETRY_SCHEDULED, Outcome.COMPLETED]
    assert len(harness.primary.requests) == 2  # type: ignore[attr-defined]
    assert harness.breakers.get("openai_compatible").state.value == "open"  # its failures, its breaker
    assert harness.breakers.get("mock").state.value == "closed"
    data = (await harness.callbacks())[0]["data"]
    assert (data["provider"], data["attempts"]) == ("mock", 3)
    assert harness.store.jobs[job.id].status == JobStatus.COMPLETED


async def test_a_spent_retry_budget_moves_the_job_to_the_next_target_at_once() -> None:
    harness = _harness(max_attempts=2, failure_threshold=10)
    harness.primary._script = [_server_error()] * 5  # type: ignore[attr-defined]
    job = (await harness.jobs.submit(_routed("judge"))).job

    assert (await harness.process_next()).outcome == Outcome.RETRY_SCHEDULED
    harness.clock.advance(11)  # past the retry backoff (at most 10 s), not the breaker's reset
    assert (await harness.process_next()).outcome == Outcome.RETRY_SCHEDULED  # budget spent: next target
    stored = harness.store.jobs[job.id]
    assert stored.last_error is not None
    assert stored.last_error[SPENT_KEY] == ["openai_compatible/primary"]
    assert stored.available_at <= harness.clock.now()  # no backoff owed to the next target
    assert (await harness.process_next()).outcome == Outcome.COMPLETED

    assert len(harness.primary.requests) == 2  # type: ignore[attr-defined]
    assert (await harness.callbacks())[0]["data"]["provider"] == "mock"


async def test_the_last_target_failing_fails_the_job_naming_it() -> None:
    harness = _harness(max_attempts=1, failure_threshold=10)
    harness.primary._script = [_server_error()]  # type: ignore[attr-defined]
    harness.fallback._script = [ProviderError(K.SERVER_ERROR, "also down", provider="mock")]  # type: ignore[attr-defined]
    job = (await harness.jobs.submit(_routed("judge"))).job

    assert (await harness.process_next()).outcome == Outcome.RETRY_SCHEDULED
    assert (await harness.process_next()).outcome == Outcome.FAILED

    data = (await harness.callbacks())[0]["data"]
    assert data["provider"] == "mock"
    assert data["error_detail"]["details"]["provider"] == "mock"
    assert data["request_metadata"]["provider_route"] == "judge"
    assert harness.store.jobs[job.id].status == JobStatus.FAILED


async def test_a_caller_error_fails_the_job_without_a_fallback() -> None:
    harness = _harness()
    harness.primary._script = [ProviderError(K.INVALID_REQUEST, "bad", provider="openai_compatible")]  # type: ignore[attr-defined]
    await harness.jobs.submit(_routed("judge"))

    assert (await harness.process_next()).outcome == Outcome.FAILED

    assert harness.fallback.requests == []  # type: ignore[attr-defined]
    data = (await harness.callbacks())[0]["data"]
    assert data["provider"] == "openai"
    assert data["error_detail"]["details"]["kind"] == "invalid_request"


async def test_a_deployment_target_reports_its_vendor_and_is_accounted_under_its_own_name() -> None:
    harness = _harness()
    await harness.jobs.submit(_routed("eu"))

    report = await harness.process_next()

    assert (report.outcome, report.provider, report.model) == (Outcome.COMPLETED, "anthropic-eu", "claude-sonnet-4-5")
    data = (await harness.callbacks())[0]["data"]
    assert data["provider"] == "anthropic"
    assert data["request_metadata"]["provider_route"] == "eu"
    assert data["request_metadata"]["provider_deployment"] == "anthropic-eu"
    assert data["cost_estimate"] > 0  # priced as the vendor's model


async def test_a_weighted_route_and_an_alias_pick_their_targets() -> None:
    harness = _harness()
    await harness.jobs.submit(_routed("spread"))  # weights [0, 1]: the second target first
    await harness.jobs.submit(_routed("fast"))  # an alias is a one-target route

    assert (await harness.process_next()).provider == "mock"
    assert (await harness.process_next()).provider == "mock"
    assert harness.primary.requests == []  # type: ignore[attr-defined]
    routes = [callback["data"]["request_metadata"]["provider_route"] for callback in await harness.callbacks()]
    assert sorted(routes) == ["fast", "spread"]


async def test_an_unknown_route_is_refused_before_anything_is_stored() -> None:
    harness = _harness()

    with pytest.raises(UnknownProviderError, match="nowhere"):
        await harness.jobs.submit(_routed("nowhere"))
    with pytest.raises(UnsupportedParameterError, match="chooses its own models"):
        await harness.jobs.submit(_routed("judge", model="gpt-4.1"))

    assert harness.store.jobs == {}
    assert (await harness.queue.stats()).total == 0


async def test_a_cancelled_routed_job_names_its_primary_target() -> None:
    harness = _harness()
    job = (await harness.jobs.submit(_routed("eu"))).job

    await harness.jobs.cancel(job.id)

    data = (await harness.callbacks())[0]["data"]
    assert data["provider"] == "anthropic"
    assert data["request_metadata"]["provider_route"] == "eu"


async def test_a_route_named_like_a_provider_never_reroutes_that_providers_jobs() -> None:
    harness = _harness(model_routes={"mock": {"targets": ["openai_compatible/primary"]}, **ROUTES})
    job = (await harness.jobs.submit(comparison())).job  # the default provider, mock
    assert job.provider == "mock"

    report = await harness.process_next()

    assert (report.outcome, report.provider) == (Outcome.COMPLETED, "mock")
    assert harness.primary.requests == []  # type: ignore[attr-defined]
    assert "mock" not in harness.jobs.route_names()


async def test_a_half_open_primary_with_its_probe_out_hands_the_job_to_the_fallback() -> None:
    harness = _harness(failure_threshold=1)
    breaker = harness.breakers.get("openai_compatible")
    breaker.record_failure(_server_error())
    harness.clock.advance(31)  # past the reset: half-open
    assert breaker.would_allow()
    assert breaker.allow()  # a probe is out (another job's call)
    assert not breaker.would_allow()
    await harness.jobs.submit(_routed("judge"))

    report = await harness.process_next()

    assert (report.outcome, report.provider) == (Outcome.COMPLETED, "mock")
    assert harness.primary.requests == []  # type: ignore[attr-defined]


async def test_a_routed_job_expired_by_the_reconciler_names_its_primary_target() -> None:
    harness = _harness(ttl_seconds=60.0)
    job = (await harness.jobs.submit(_routed("eu"))).job
    harness.clock.advance(61)

    assert (await harness.reconciler.run_once()).expired == 1

    data = (await harness.callbacks())[0]["data"]
    assert (data["request_id"], data["provider"]) == (job.id, "anthropic")
    assert data["error_detail"]["details"]["kind"] == "expired"
    assert data["request_metadata"]["provider_route"] == "eu"
    assert data["request_metadata"]["provider_deployment"] == "anthropic-eu"
