"""The broker stopped for a while: jobs keep completing, the outbox backlog grows, then drains on restart."""

from __future__ import annotations

import asyncio
import collections

import pytest

from llm_provider_service.adapters.kafka_events import ensure_topics
from tests.integration.pipeline.conftest import TOPIC_PARTITIONS, Pipeline, StoppableServer
from tests.integration.pipeline.jobs import (
    audit_callbacks,
    metric_value,
    outbox_backlog,
    submit_many,
    wait_until_terminal,
)

pytestmark = pytest.mark.integration

BEFORE_JOBS = 20
DURING_JOBS = 40


async def _wait_drained(postgres_url: str, *, timeout_seconds: float) -> None:
    async with asyncio.timeout(timeout_seconds):
        while True:  # polling the table is the point: it is what an operator would watch
            if await outbox_backlog(postgres_url) == 0:
                return
            await asyncio.sleep(0.2)


async def test_outbox_survives_a_broker_outage(pipeline: Pipeline, stoppable: StoppableServer) -> None:
    broker = stoppable("kafka")
    with pipeline.processes() as group:
        api = group.api()
        group.worker()
        async with pipeline.collector() as before:
            await before.wait_assigned()
            first = await submit_many(api.base_url, pipeline.callback_topic, BEFORE_JOBS, clients=4)
            await before.wait_for(BEFORE_JOBS, timeout_seconds=20)
            events = before.events
        await asyncio.to_thread(broker.stop)
        try:
            second = await submit_many(api.base_url, pipeline.callback_topic, DURING_JOBS, clients=4)
            statuses = await wait_until_terminal(pipeline.postgres_url, second, timeout_seconds=30)
            assert collections.Counter(statuses.values()) == {"completed": DURING_JOBS}
            # Each finished job left its callback and its completed event unpublished.
            backlog = await outbox_backlog(pipeline.postgres_url)
            assert backlog >= 2 * DURING_JOBS
            assert await metric_value(api.base_url, "llm_provider_outbox_backlog") >= 2 * DURING_JOBS
        finally:
            await asyncio.to_thread(broker.start)  # Apache Kafka keeps its topics; Tansu starts empty
        await ensure_topics(pipeline.kafka_bootstrap_servers, [pipeline.callback_topic], partitions=TOPIC_PARTITIONS)
        await _wait_drained(pipeline.postgres_url, timeout_seconds=45)
        assert await metric_value(api.base_url, "llm_provider_outbox_backlog") == 0
        async with pipeline.collector() as after:
            await after.wait_for(DURING_JOBS, timeout_seconds=20)
            events += await after.wait_quiet(quiet_seconds=1.0, timeout_seconds=10)

    audit = audit_callbacks(events, [*first, *second])
    assert all(envelope["data"]["error_detail"] is None for envelope in audit.by_request.values())
