"""PostgreSQL stopped: submissions get 503 + Retry-After with nothing half-recorded; after restart all complete."""

from __future__ import annotations

import asyncio
import collections

import httpx
import pytest

from tests.integration.pipeline.conftest import Pipeline, StoppableServer
from tests.integration.pipeline.jobs import (
    audit_callbacks,
    comparison_body,
    job_statuses,
    queued_job_ids,
    submit,
    submit_many,
    wait_until_terminal,
)
from tests.kafka_consumer import CallbackCollector

pytestmark = pytest.mark.integration

JOBS_EACH_PHASE = 15
REFUSED_SUBMISSIONS = 10


async def test_store_outage_refuses_submissions_and_recovers(
    pipeline: Pipeline, callbacks: CallbackCollector, stoppable: StoppableServer
) -> None:
    postgres = stoppable("postgres")
    with pipeline.processes() as group:
        api = group.api()
        group.worker()
        # Slow calls: some of these are still in flight when the database goes away.
        accepted = await submit_many(
            api.base_url, pipeline.callback_topic, JOBS_EACH_PHASE, clients=3, mock={"latency_ms": 300}
        )
        await asyncio.to_thread(postgres.stop)
        try:
            async with httpx.AsyncClient(base_url=api.base_url, timeout=10.0) as client:
                answers = [
                    await submit(client, comparison_body(pipeline.callback_topic, 1000 + n))
                    for n in range(REFUSED_SUBMISSIONS)
                ]
            for answer in answers:
                assert answer.status == 503, answer.body
                assert answer.retry_after is not None
                assert int(answer.retry_after) >= 1
                assert answer.content_type.startswith("application/problem+json")
                assert answer.body["code"] == "store_unavailable"
                assert "queue_id" not in answer.body
            # Nothing half-recorded: the queue holds only jobs the store accepted before the outage.
            assert await queued_job_ids(pipeline.redis_url) <= set(accepted)
        finally:
            await asyncio.to_thread(postgres.start)
        accepted += await submit_many(api.base_url, pipeline.callback_topic, JOBS_EACH_PHASE, clients=3)
        statuses = await wait_until_terminal(pipeline.postgres_url, accepted, timeout_seconds=30)
        await callbacks.wait_for(len(accepted), timeout_seconds=20)
        events = await callbacks.wait_quiet(quiet_seconds=1.0, timeout_seconds=10)

    assert collections.Counter(statuses.values()) == {"completed": len(accepted)}
    assert set(await job_statuses(pipeline.postgres_url)) == set(accepted)  # no row for a refused submission
    assert await queued_job_ids(pipeline.redis_url) == set()  # every entry acknowledged
    audit_callbacks(events, accepted)
