"""The shared queue contract, run against `RedisJobQueue` on a real Redis with a manual clock."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from llm_provider_service.adapters.redis_queue import RedisJobQueue
from tests.unit.queue.contract import BatchJobQueue, QueueContract, QueueFactory

pytestmark = pytest.mark.integration


class TestRedisJobQueue(QueueContract):
    # A claimer needs a few round trips before it blocks in BLPOP.
    settle_seconds = 0.05

    @pytest.fixture
    async def redis_client(self, redis_url: str) -> AsyncIterator[Redis]:
        client = Redis.from_url(redis_url)
        yield client
        await client.aclose()

    @pytest.fixture
    def queue_factory(self, redis_client: Redis) -> QueueFactory:
        namespaces = itertools.count()

        def build(*, capacity: int, clock: Callable[[], float]) -> BatchJobQueue:
            # A namespace per queue, so two queues built in one test never share state.
            return RedisJobQueue(redis_client, capacity=capacity, namespace=f"test{next(namespaces)}", clock=clock)

        return build
