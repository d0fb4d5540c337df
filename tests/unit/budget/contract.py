"""The behaviour every `RateBudget` must show, run against each one (a manual clock; no sleeping)."""

from __future__ import annotations

import itertools
from collections import deque
from typing import Protocol

import pytest

from llm_provider_service.domain.rate_limits import Demand, Dimension, DimensionReading, RateLimitObservation
from llm_provider_service.ports import RateBudget
from llm_provider_service.service.budgets import BudgetPolicy

START = 1_700_000_000.0
KEY = "mock/m1"
RPM = {Dimension.REQUESTS: 60}
ONE = Demand(1.0)
POLICY = BudgetPolicy(window_seconds=60.0, burst_fraction=0.05, headroom_fraction=0.02, horizon_seconds=0.0)


class BudgetFactory(Protocol):
    def __call__(self, policy: BudgetPolicy) -> RateBudget: ...


def observation(
    status: int = 200, retry_after: float | None = None, **readings: DimensionReading
) -> RateLimitObservation:
    return RateLimitObservation(
        status=status,
        readings={Dimension(name): value for name, value in readings.items()},
        retry_after_seconds=retry_after,
    )


class BudgetContract:
    """Subclasses provide a `budget_factory` fixture."""

    async def test_a_key_without_any_limit_is_unlimited(self, budget_factory: BudgetFactory) -> None:
        budget = budget_factory(POLICY)
        grant = await budget.reserve(KEY, demand=ONE, configured={}, job_id="j", now=START, horizon_seconds=0.0)
        assert grant.granted
        assert not grant.limited
        assert await budget.states(now=START) == []

    async def test_a_configured_limit_lets_its_burst_through_then_refuses(self, budget_factory: BudgetFactory) -> None:
        budget = budget_factory(POLICY)
        # 60 per minute: capacity max(3, 1) = 3, refill (58.8 - 3) / 60 per second.
        grants = [
            await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=0.0)
            for _ in range(4)
        ]
        assert [grant.granted for grant in grants] == [True, True, True, False]
        assert all(grant.limited for grant in grants)
        assert grants[3].delay_seconds > 0

    async def test_no_window_ever_lets_more_than_the_limit_through(self, budget_factory: BudgetFactory) -> None:
        budget = budget_factory(POLICY)
        admitted: deque[float] = deque()
        most_in_a_window = total = 0
        now = START
        for _ in range(18_000):  # three minutes in 10 ms steps, asking greedily
            now += 0.01
            grant = await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=now, horizon_seconds=0.0)
            if grant.granted:
                admitted.append(now)
                total += 1
            while admitted and admitted[0] <= now - 60.0:
                admitted.popleft()
            most_in_a_window = max(most_in_a_window, len(admitted))
        assert most_in_a_window <= 60
        assert total >= 0.9 * 60 * 3  # sustained throughput within 10 % of the limit

    async def test_a_reservation_within_the_horizon_is_a_ticket(self, budget_factory: BudgetFactory) -> None:
        budget = budget_factory(POLICY)
        for _ in range(3):
            await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=0.0)
        first = await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=5.0)
        second = await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=5.0)
        assert first.granted
        assert second.granted
        assert 0 < first.delay_seconds < second.delay_seconds <= 5.0

    async def test_refused_jobs_are_told_to_come_back_spread_out(self, budget_factory: BudgetFactory) -> None:
        budget = budget_factory(POLICY)
        for _ in range(3):
            await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=0.0)
        delays = [
            (await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=f"j{i}", now=START, horizon_seconds=0.0))
            for i in range(5)
        ]
        assert not any(grant.granted for grant in delays)
        seconds = [grant.delay_seconds for grant in delays]
        assert seconds == sorted(seconds)
        assert seconds[4] - seconds[0] == pytest.approx(4 * 60 / 55.8, rel=0.01)

    async def test_deferrals_cap_at_max_defer(self, budget_factory: BudgetFactory) -> None:
        budget = budget_factory(BudgetPolicy(horizon_seconds=0.0, max_defer_seconds=2.0))
        grants = [
            await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=0.0)
            for _ in range(20)
        ]
        assert max(grant.delay_seconds for grant in grants) <= 2.0

    async def test_the_wait_of_earlier_refusals_is_handed_over_once_on_the_grant(
        self, budget_factory: BudgetFactory
    ) -> None:
        budget = budget_factory(POLICY)
        for _ in range(3):
            await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=0.0)
        refused = await budget.reserve(KEY, demand=ONE, configured=RPM, job_id="job", now=START, horizon_seconds=0.0)
        later = START + refused.delay_seconds + 0.01
        granted = await budget.reserve(KEY, demand=ONE, configured=RPM, job_id="job", now=later, horizon_seconds=0.0)
        assert granted.granted
        assert granted.earlier_wait_seconds == pytest.approx(refused.delay_seconds, abs=1e-3)
        again = await budget.reserve(KEY, demand=ONE, configured=RPM, job_id="job", now=later + 60, horizon_seconds=0.0)
        assert again.earlier_wait_seconds == 0.0

    async def test_a_learned_limit_starts_with_a_burst_when_the_vendor_has_counted_nothing(
        self, budget_factory: BudgetFactory
    ) -> None:
        budget = budget_factory(POLICY)
        seen = observation(requests=DimensionReading(limit=600, remaining=600, reset_seconds=0.1))
        await budget.record(KEY, refund=None, observation=seen, now=START)
        grants = [
            await budget.reserve(KEY, demand=ONE, configured={}, job_id=None, now=START, horizon_seconds=0.0)
            for _ in range(31)
        ]
        assert [grant.granted for grant in grants] == [True] * 30 + [False]
        [state] = await budget.states(now=START)
        assert state.key == KEY
        assert state.limits == {Dimension.REQUESTS: 600}

    async def test_what_the_vendor_counted_before_we_learned_is_owed_first(self, budget_factory: BudgetFactory) -> None:
        budget = budget_factory(BudgetPolicy(horizon_seconds=0.0, max_defer_seconds=120.0))
        # 20 a minute, 10 already used: capacity 1, so 1 - 10 = -9 to refill at (19.6 - 1) / 60 per second.
        seen = observation(requests=DimensionReading(limit=20, remaining=10))
        await budget.record(KEY, refund=None, observation=seen, now=START)
        refused = await budget.reserve(KEY, demand=ONE, configured={}, job_id=None, now=START, horizon_seconds=0.0)
        assert not refused.granted
        assert refused.delay_seconds == pytest.approx(10 / (18.6 / 60), rel=0.01)

    async def test_the_lower_of_configured_and_learned_wins(self, budget_factory: BudgetFactory) -> None:
        budget = budget_factory(POLICY)
        seen = observation(requests=DimensionReading(limit=30, remaining=30))
        await budget.record(KEY, refund=None, observation=seen, now=START)
        await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=0.0)
        [state] = await budget.states(now=START)
        assert state.limits == {Dimension.REQUESTS: 30}

    async def test_a_429_pauses_the_key_for_its_retry_after(self, budget_factory: BudgetFactory) -> None:
        budget = budget_factory(POLICY)
        await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=0.0)
        await budget.record(KEY, refund=None, observation=observation(429, retry_after=5.0), now=START)
        refused = await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START + 1, horizon_seconds=0.0)
        assert not refused.granted
        assert refused.delay_seconds == pytest.approx(4.0 + 60 / 55.8, abs=0.05)
        [state] = await budget.states(now=START + 1)
        assert state.paused_for_seconds == pytest.approx(4.0, abs=0.05)
        # Emptied, and no refill while paused: one refill time (60 / 55.8 s) after the pause ends.
        after = await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START + 6.1, horizon_seconds=0.0)
        assert after.granted

    async def test_tickets_after_a_pause_are_spread_not_bunched_at_its_end(self, budget_factory: BudgetFactory) -> None:
        budget = budget_factory(POLICY)
        await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=0.0)
        await budget.record(KEY, refund=None, observation=observation(429, retry_after=1.0), now=START)
        grants = [
            await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=10.0)
            for _ in range(4)
        ]
        assert all(grant.granted for grant in grants)
        delays = [grant.delay_seconds for grant in grants]
        assert delays[0] > 1.0  # the bucket was emptied by the 429 and does not refill while paused
        spacing = 60 / 55.8
        assert [later - earlier for earlier, later in itertools.pairwise(delays)] == [
            pytest.approx(spacing, rel=0.01)
        ] * 3

    async def test_a_refund_during_a_pause_does_not_refill_it(self, budget_factory: BudgetFactory) -> None:
        budget = budget_factory(POLICY)
        await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=0.0)
        await budget.record(KEY, refund=None, observation=observation(429, retry_after=5.0), now=START)
        await budget.record(KEY, refund=Demand(0.0), observation=None, now=START + 1)
        grant = await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START + 2, horizon_seconds=10)
        assert grant.delay_seconds == pytest.approx(3.0 + 60 / 55.8, rel=0.01)

    async def test_nothing_remaining_empties_the_bucket(self, budget_factory: BudgetFactory) -> None:
        budget = budget_factory(POLICY)
        await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=0.0)
        seen = observation(requests=DimensionReading(limit=60, remaining=0, reset_seconds=3.0))
        await budget.record(KEY, refund=None, observation=seen, now=START)
        refused = await budget.reserve(KEY, demand=ONE, configured={}, job_id=None, now=START, horizon_seconds=0.0)
        assert not refused.granted
        assert refused.delay_seconds > 0

    async def test_newcomers_queue_behind_jobs_waiting_in_line(self, budget_factory: BudgetFactory) -> None:
        budget = budget_factory(POLICY)
        horizon = 2.0
        for _ in range(3):
            await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=0.0)
        deferred = [
            await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=f"old{i}", now=START, horizon_seconds=0.0)
            for i in range(10)
        ]
        assert not any(grant.granted for grant in deferred)
        first_back = START + deferred[0].delay_seconds
        returning = await budget.reserve(
            KEY, demand=ONE, configured=RPM, job_id="old0", now=first_back, horizon_seconds=horizon
        )
        newcomer = await budget.reserve(
            KEY, demand=ONE, configured=RPM, job_id="new", now=first_back, horizon_seconds=horizon
        )
        assert returning.granted
        assert not newcomer.granted
        assert newcomer.delay_seconds > deferred[-1].delay_seconds - deferred[0].delay_seconds

    async def test_tokens_are_settled_from_the_real_usage(self, budget_factory: BudgetFactory) -> None:
        budget = budget_factory(POLICY)
        limits = {Dimension.TOKENS: 100_000}  # capacity 5,000
        estimate = Demand(1.0, tokens=4_000.0)
        await budget.reserve(KEY, demand=estimate, configured=limits, job_id=None, now=START, horizon_seconds=0.0)
        [before] = await budget.states(now=START)
        assert before.available[Dimension.TOKENS] == pytest.approx(1_000.0)
        await budget.record(KEY, refund=estimate.minus(Demand(1.0, tokens=500.0)), observation=None, now=START)
        [after] = await budget.states(now=START)
        assert after.available[Dimension.TOKENS] == pytest.approx(4_500.0)

    async def test_a_demand_larger_than_the_burst_goes_when_the_bucket_is_full(
        self, budget_factory: BudgetFactory
    ) -> None:
        budget = budget_factory(POLICY)
        limits = {Dimension.INPUT_TOKENS: 10_000}  # capacity 500
        big = Demand(1.0, input_tokens=2_000.0)
        first = await budget.reserve(KEY, demand=big, configured=limits, job_id=None, now=START, horizon_seconds=0.0)
        second = await budget.reserve(KEY, demand=big, configured=limits, job_id=None, now=START, horizon_seconds=0.0)
        assert first.granted
        assert not second.granted

    async def test_keys_are_independent(self, budget_factory: BudgetFactory) -> None:
        budget = budget_factory(POLICY)
        for _ in range(3):
            await budget.reserve(KEY, demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=0.0)
        other = await budget.reserve("mock/m2", demand=ONE, configured=RPM, job_id=None, now=START, horizon_seconds=0.0)
        assert other.granted
