"""The budget gate in front of every provider call: reserve before, settle and learn after.

Jobs and gateway calls ask `admit` before calling a provider; a refusal means "come back later" (a job goes back
to the queue delayed, spending no attempt; a sync call answers 429). `settle` gives back what the estimate took
beyond the real usage and passes on what the vendor's headers said. Keys with no known limit cost no round trip
for a fifth of a second at a time (short: another process may learn the limit meanwhile), and learning is
skipped when the vendor repeats what we already know.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from llm_provider_service.domain.errors import BudgetUnavailableError, ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import CompletionRequest, TokenUsage
from llm_provider_service.domain.rate_limits import UNLIMITED, Demand, Grant, RateLimitObservation
from llm_provider_service.ports import RateBudget
from llm_provider_service.resilience.circuit_breaker import CircuitBreaker
from llm_provider_service.service.budgets import BudgetPolicy, actual_demand, budget_key, estimate_demand

logger = logging.getLogger(__name__)

UNLIMITED_RECHECK_SECONDS = 0.2
_NO_DEMAND = Demand(0.0)
RELEARN_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Admission:
    """The gate's answer for one call."""

    key: str
    demand: Demand
    grant: Grant

    @property
    def deferred(self) -> bool:
        return not self.grant.granted

    @property
    def limited(self) -> bool:
        return self.grant.limited


class BudgetGate:
    """Reserve, settle and learn against a `RateBudget` (the shared one, or the in-process book)."""

    def __init__(self, budget: RateBudget, policy: BudgetPolicy, *, clock: Callable[[], float]) -> None:
        self._budget = budget
        self._policy = policy
        self._clock = clock
        self._unlimited_until: dict[str, float] = {}
        self._learned: dict[str, tuple[object, float]] = {}

    @property
    def policy(self) -> BudgetPolicy:
        return self._policy

    @property
    def budget(self) -> RateBudget:
        return self._budget

    async def admit(
        self,
        provider: str,
        model: str,
        request: CompletionRequest,
        *,
        job_id: str | None,
        horizon_seconds: float | None = None,
    ) -> Admission:
        key = budget_key(provider, model)
        configured = self._policy.configured_for(provider, model)
        now = self._clock()
        if not configured and self._unlimited_until.get(key, 0.0) > now:
            return Admission(key, _NO_DEMAND, UNLIMITED)  # the common case: nothing known, nothing counted
        demand = estimate_demand(request)
        horizon = self._policy.horizon_seconds if horizon_seconds is None else horizon_seconds
        try:
            grant = await self._budget.reserve(
                key, demand=demand, configured=configured, job_id=job_id, now=now, horizon_seconds=horizon
            )
        except BudgetUnavailableError:
            # Better unthrottled than stuck: the vendor's own 429s and our retries still protect the job.
            logger.warning("rate budget unavailable; calling %s without a reservation", key)
            return Admission(key, demand, UNLIMITED)
        if not grant.limited:
            self._unlimited_until[key] = now + UNLIMITED_RECHECK_SECONDS
        return Admission(key, demand, grant)

    async def settle(
        self, admission: Admission, *, usage: TokenUsage | None, observation: RateLimitObservation | None
    ) -> None:
        """After the call: refund the over-estimate and learn from the vendor's headers."""
        refund = admission.demand.minus(actual_demand(usage)) if admission.limited and admission.grant.granted else None
        await self._record(admission.key, refund, observation)

    async def learn(self, provider: str, model: str, observation: RateLimitObservation) -> None:
        """Learn from a vendor answer made outside an admission (the batch APIs' calls)."""
        await self._record(budget_key(provider, model), None, observation)

    async def cancel(self, admission: Admission) -> None:
        """The call did not happen after all: give the whole reservation back."""
        if admission.limited and admission.grant.granted:
            await self._record(admission.key, admission.demand, None)

    async def _record(self, key: str, refund: Demand | None, observation: RateLimitObservation | None) -> None:
        if observation is not None and not self._worth_learning(key, observation):
            observation = None
        if refund is None and observation is None:
            return
        if observation is not None:
            self._unlimited_until.pop(key, None)
        try:
            await self._budget.record(key, refund=refund, observation=observation, now=self._clock())
        except BudgetUnavailableError:
            logger.warning("rate budget unavailable; could not settle %s", key)

    def _worth_learning(self, key: str, observation: RateLimitObservation) -> bool:
        """A 2xx repeating the limits we learned less than a second ago, with room left, teaches nothing."""
        if not self._policy.learn:
            return False
        now = self._clock()
        limits = tuple(sorted((dimension.value, reading.limit) for dimension, reading in observation.readings.items()))
        exhausted = any(reading.remaining == 0 for reading in observation.readings.values())
        if observation.rate_limited or exhausted:
            return True
        previous = self._learned.get(key)
        if previous is not None and previous[0] == limits and now - previous[1] < RELEARN_SECONDS:
            return False
        self._learned[key] = (limits, now)
        return bool(observation.readings)


def budget_wait_seconds(admission: Admission | None) -> float | None:
    """Earlier deferrals plus this ticket's wait; None when the call's key has no budget."""
    if admission is None or not admission.limited:
        return None
    return admission.grant.earlier_wait_seconds + admission.grant.delay_seconds


def with_budget_wait(metadata: Mapping[str, Any], wait_seconds: float | None) -> Mapping[str, Any]:
    """Callback metadata with `budget_wait_ms` added when the job's key has a budget."""
    if wait_seconds is None:
        return metadata
    return {**metadata, "budget_wait_ms": round(wait_seconds * 1000)}


def record_provider_failure(breaker: CircuitBreaker, error: ProviderError, *, budgets_on: bool) -> None:
    """With budgets on, a vendor 429 pauses the budget (for its retry-after) instead of counting against the
    breaker: a rate limit is not an outage."""
    if budgets_on and error.kind is ProviderErrorKind.RATE_LIMITED:
        breaker.record_cancelled()
    else:
        breaker.record_failure(error)
