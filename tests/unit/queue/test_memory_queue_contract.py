"""The shared queue contract, run against `InMemoryJobQueue` with a manual clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from llm_provider_service.adapters.memory_queue import InMemoryJobQueue
from tests.unit.queue.contract import BatchJobQueue, QueueContract, QueueFactory


class TestInMemoryJobQueue(QueueContract):
    @pytest.fixture
    def queue_factory(self) -> QueueFactory:
        def build(*, capacity: int, clock: Callable[[], float]) -> BatchJobQueue:
            return InMemoryJobQueue(capacity=capacity, clock=clock)

        return build
