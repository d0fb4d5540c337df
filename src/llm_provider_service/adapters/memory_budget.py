"""`RateBudget` in one process (the embedded default): the budget book behind the async port."""

from __future__ import annotations

from collections.abc import Mapping

from llm_provider_service.domain.rate_limits import BudgetState, Demand, Dimension, Grant, RateLimitObservation
from llm_provider_service.service.budgets import BudgetBook, BudgetPolicy

# Forget the wait records of jobs that never came back every this many reservations.
_PRUNE_EVERY = 1024


class InMemoryRateBudget:
    """Shared by the API and worker of one process; the same contract suite as `RedisRateBudget`."""

    def __init__(self, policy: BudgetPolicy) -> None:
        self._book = BudgetBook(policy)
        self._reservations = 0

    async def reserve(
        self,
        key: str,
        *,
        demand: Demand,
        configured: Mapping[Dimension, int],
        job_id: str | None,
        now: float,
        horizon_seconds: float,
    ) -> Grant:
        self._reservations += 1
        if self._reservations % _PRUNE_EVERY == 0:
            self._book.forget_waits(now=now)
        return self._book.reserve(
            key, demand=demand, configured=configured, job_id=job_id, now=now, horizon_seconds=horizon_seconds
        )

    async def record(
        self, key: str, *, refund: Demand | None, observation: RateLimitObservation | None, now: float
    ) -> None:
        self._book.record(key, refund=refund, observation=observation, now=now)

    async def states(self, *, now: float) -> list[BudgetState]:
        return self._book.states(now=now)
