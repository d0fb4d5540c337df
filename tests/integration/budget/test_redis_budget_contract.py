"""The shared budget contract, run against `RedisRateBudget` on a real Redis, and its sharing across clients."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from llm_provider_service.adapters.redis_budget import RedisRateBudget
from llm_provider_service.domain.errors import BudgetUnavailableError
from llm_provider_service.domain.rate_limits import Demand, Dimension
from llm_provider_service.ports import RateBudget
from llm_provider_service.service.budgets import BudgetPolicy
from tests.unit.budget.contract import START, BudgetContract, BudgetFactory

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


class TestRedisRateBudget(BudgetContract):
    @pytest.fixture
    def budget_factory(self, redis_client: Redis) -> BudgetFactory:
        namespaces = itertools.count()

        def build(policy: BudgetPolicy) -> RateBudget:
            return RedisRateBudget(redis_client, policy, namespace=f"budget{next(namespaces)}")

        return build


async def test_concurrent_reservations_from_many_clients_never_overdraw(redis_url: str) -> None:
    policy = BudgetPolicy(horizon_seconds=0.0)
    limits = {Dimension.REQUESTS: 1000}  # capacity 50
    clients = [Redis.from_url(redis_url) for _ in range(4)]
    try:
        budgets = [RedisRateBudget(client, policy, namespace="shared") for client in clients]

        async def grab(budget: RedisRateBudget) -> int:
            granted = 0
            for _ in range(40):
                grant = await budget.reserve(
                    "p/m", demand=Demand(1.0), configured=limits, job_id=None, now=START, horizon_seconds=0.0
                )
                granted += grant.granted
            return granted

        counts = await asyncio.gather(*(grab(budget) for budget in budgets))
    finally:
        for client in clients:
            await client.aclose()
    assert sum(counts) == 50


async def test_an_unreachable_redis_is_a_budget_unavailable_error() -> None:
    client = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    try:
        budget = RedisRateBudget(client, BudgetPolicy())
        with pytest.raises(BudgetUnavailableError):
            await budget.reserve(
                "p/m", demand=Demand(1.0), configured={Dimension.REQUESTS: 1}, job_id=None, now=START, horizon_seconds=0
            )
    finally:
        await client.aclose()
