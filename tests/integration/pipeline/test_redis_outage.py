"""Redis stopped while clients keep submitting, restarted empty: every accepted job completes, one callback each."""

from __future__ import annotations

import asyncio
import collections

import httpx
import pytest

from tests.integration.pipeline.conftest import Pipeline, StoppableServer
from tests.integration.pipeline.jobs import audit_callbacks, comparison_body, submit, wait_until_terminal
from tests.kafka_consumer import CallbackCollector

pytestmark = pytest.mark.integration

SUBMIT_INTERVAL_SECONDS = 0.04
SUBMIT_SECONDS = 5.0
OUTAGE_STARTS_AFTER_SECONDS = 1.0
OUTAGE_SECONDS = 2.5


async def test_jobs_accepted_during_a_redis_outage_all_complete(
    pipeline: Pipeline, callbacks: CallbackCollector, stoppable: StoppableServer
) -> None:
    redis_server = stoppable("redis")
    accepted: list[str] = []
    during_outage: list[str] = []
    redis_down = asyncio.Event()

    async def keep_submitting(base_url: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SUBMIT_SECONDS
        async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
            number = 0
            while loop.time() < deadline:
                answer = await submit(client, comparison_body(pipeline.callback_topic, number))
                assert answer.status == 202, f"job {number}: {answer.status} {answer.body}"
                accepted.append(answer.body["queue_id"])
                if redis_down.is_set():
                    during_outage.append(answer.body["queue_id"])
                number += 1
                await asyncio.sleep(SUBMIT_INTERVAL_SECONDS)

    async def outage() -> None:
        await asyncio.sleep(OUTAGE_STARTS_AFTER_SECONDS)
        await asyncio.to_thread(redis_server.stop)
        redis_down.set()
        await asyncio.sleep(OUTAGE_SECONDS)
        redis_down.clear()
        await asyncio.to_thread(redis_server.start)  # empty: it keeps no data across restarts

    with pipeline.processes() as group:
        api = group.api()
        group.worker()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(keep_submitting(api.base_url))
            tasks.create_task(outage())
        assert during_outage, "no job was submitted while Redis was down"
        statuses = await wait_until_terminal(pipeline.postgres_url, accepted, timeout_seconds=30)
        await callbacks.wait_for(len(accepted), timeout_seconds=20)
        events = await callbacks.wait_quiet(quiet_seconds=1.0, timeout_seconds=10)

    assert collections.Counter(statuses.values()) == {"completed": len(accepted)}
    audit = audit_callbacks(events, accepted)
    assert all(envelope["data"]["error_detail"] is None for envelope in audit.by_request.values())
