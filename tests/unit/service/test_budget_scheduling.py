"""Rate budgets in job processing: a job without budget waits in the queue, spends no attempt, trips nothing."""

from __future__ import annotations

import pytest

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import CompletionRequest, CompletionResponse, JobStatus
from llm_provider_service.domain.rate_limits import (
    Dimension,
    DimensionReading,
    RateLimitObservation,
    report_rate_limits,
)
from llm_provider_service.resilience.circuit_breaker import CircuitState
from llm_provider_service.service.budgets import BudgetPolicy
from llm_provider_service.service.processing_report import BUDGET_DEFERRED, Outcome
from tests.fakes import ScriptedProvider
from tests.unit.service.harness import Harness, comparison

# 20 per minute: a burst of one, then one every 60 / (19.6 - 1) s.
ONE_AT_A_TIME = BudgetPolicy(horizon_seconds=0.0, configured={"mock": {Dimension.REQUESTS: 20}})


class ReportingProvider(ScriptedProvider):
    """A scripted provider that also reports rate-limit headers, as the HTTP adapters do."""

    def __init__(
        self, observations: list[RateLimitObservation], script: list[CompletionResponse | ProviderError]
    ) -> None:
        super().__init__(script)
        self._observations = observations

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        if self._observations:
            report_rate_limits(self._observations.pop(0))
        return await super().complete(request)


async def test_a_job_without_budget_waits_in_the_queue_without_spending_an_attempt() -> None:
    harness = Harness(budget_policy=ONE_AT_A_TIME, failure_threshold=1)
    first = (await harness.jobs.submit(comparison())).job
    second = (await harness.jobs.submit(comparison(correlation_id="7b0c1c4e-0000-4000-8000-000000000002"))).job
    assert (await harness.process_next()).outcome == Outcome.COMPLETED
    deferred = await harness.process_next()
    assert deferred.outcome == Outcome.DEFERRED
    assert deferred.error_kind == BUDGET_DEFERRED
    stored = harness.store.jobs[second.id]
    assert stored.status == JobStatus.QUEUED
    assert stored.attempts == 0
    assert harness.breakers.get("mock").state == CircuitState.CLOSED
    assert await harness.queue.claim(max_jobs=1, lease_seconds=30) == []  # delayed until the budget refills
    harness.clock.advance(60 / 18.6 + 0.01)
    done = await harness.process_next()
    assert done.outcome == Outcome.COMPLETED
    assert harness.store.jobs[second.id].attempts == 1
    callbacks = {callback["data"]["request_id"]: callback["data"] for callback in await harness.callbacks()}
    assert callbacks[first.id]["request_metadata"]["budget_wait_ms"] == 0
    assert callbacks[second.id]["request_metadata"]["budget_wait_ms"] == pytest.approx(60 / 18.6 * 1000, abs=20)
    assert callbacks[second.id]["request_metadata"]["batch_id"] == "b-1"  # the caller's keys stay
    assert done.budget_wait_seconds == pytest.approx(60 / 18.6, abs=0.02)


async def test_a_job_whose_turn_comes_within_the_horizon_waits_in_its_slot() -> None:
    policy = BudgetPolicy(horizon_seconds=10.0, configured={"mock": {Dimension.REQUESTS: 20}})
    harness = Harness(budget_policy=policy)
    await harness.jobs.submit(comparison())
    await harness.jobs.submit(comparison(correlation_id="7b0c1c4e-0000-4000-8000-000000000002"))
    assert (await harness.process_next()).outcome == Outcome.COMPLETED
    second = await harness.process_next()
    assert second.outcome == Outcome.COMPLETED
    assert harness.slept == [pytest.approx(60 / 18.6, rel=0.01)]
    assert second.budget_wait_seconds == pytest.approx(60 / 18.6, rel=0.01)


async def test_jobs_without_any_known_limit_are_not_throttled_and_get_no_budget_metadata() -> None:
    harness = Harness(budget_policy=BudgetPolicy())
    for index in range(3):
        await harness.jobs.submit(comparison(correlation_id=f"7b0c1c4e-0000-4000-8000-00000000000{index}"))
    reports = [await harness.process_next() for _ in range(3)]
    assert all(report.outcome == Outcome.COMPLETED for report in reports)
    assert all("budget_wait_ms" not in callback["data"]["request_metadata"] for callback in await harness.callbacks())


async def test_limits_learned_from_the_vendor_hold_back_the_next_jobs() -> None:
    # The vendor says: 20 per minute, all 20 left: a burst of one (5 % of 20, at least one), then the refill rate.
    learned = RateLimitObservation(200, {Dimension.REQUESTS: DimensionReading(limit=20, remaining=20)})
    provider = ReportingProvider([learned], [])
    harness = Harness(provider=provider, budget_policy=BudgetPolicy(horizon_seconds=0.0))
    for index in range(3):
        await harness.jobs.submit(comparison(correlation_id=f"7b0c1c4e-0000-4000-8000-00000000000{index}"))
    assert (await harness.process_next()).outcome == Outcome.COMPLETED  # unknown limit: goes, and learns
    assert (await harness.process_next()).outcome == Outcome.COMPLETED  # the burst of one
    third = await harness.process_next()
    assert third.outcome == Outcome.DEFERRED
    assert len(provider.requests) == 2


async def test_a_vendor_429_pauses_the_budget_and_the_next_job_waits_without_an_attempt() -> None:
    refused = RateLimitObservation(429, {Dimension.REQUESTS: DimensionReading(limit=600, remaining=0)}, 7.0)
    provider = ReportingProvider(
        [refused], [ProviderError(ProviderErrorKind.RATE_LIMITED, "429", provider="mock", retry_after_seconds=7.0)]
    )
    harness = Harness(provider=provider, budget_policy=BudgetPolicy(horizon_seconds=0.0), failure_threshold=5)
    first = (await harness.jobs.submit(comparison())).job
    second = (await harness.jobs.submit(comparison(correlation_id="7b0c1c4e-0000-4000-8000-000000000002"))).job
    assert (await harness.process_next()).outcome == Outcome.RETRY_SCHEDULED  # the vendor's 429 costs an attempt
    report = await harness.process_next()
    assert report.job_id == second.id
    assert report.outcome == Outcome.DEFERRED
    assert harness.store.jobs[second.id].attempts == 0
    assert harness.store.jobs[first.id].attempts == 1
