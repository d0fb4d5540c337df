"""A worker killed with SIGKILL mid-job: its lease runs out, another worker finishes the job, one callback."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.integration.pipeline.conftest import Pipeline
from tests.integration.pipeline.jobs import audit_callbacks, comparison_body, job_attempts, job_statuses, submit
from tests.kafka_consumer import CallbackCollector

pytestmark = pytest.mark.integration

SLOW_CALL_MS = 3000  # long enough that the job is surely in flight when the worker dies


async def _wait_for_status(postgres_url: str, job_id: str, status: str, *, timeout_seconds: float) -> None:
    async with asyncio.timeout(timeout_seconds):
        while True:
            if (await job_statuses(postgres_url, [job_id]))[job_id] == status:
                return
            await asyncio.sleep(0.05)


async def test_killed_worker_job_is_finished_by_another(pipeline: Pipeline, callbacks: CallbackCollector) -> None:
    with pipeline.processes() as group:
        api = group.api()
        doomed = group.worker()
        async with httpx.AsyncClient(base_url=api.base_url, timeout=10.0) as client:
            body = comparison_body(pipeline.callback_topic, 0, mock={"latency_ms": SLOW_CALL_MS})
            answer = await submit(client, body)
        assert answer.status == 202, answer.body
        job_id = answer.body["queue_id"]
        await _wait_for_status(pipeline.postgres_url, job_id, "processing", timeout_seconds=10)
        await asyncio.sleep(0.3)  # inside the provider call, well before it answers
        doomed.kill()
        group.worker()
        await callbacks.wait_for(1, timeout_seconds=20)
        events = await callbacks.wait_quiet(quiet_seconds=1.5, timeout_seconds=10)

    audit = audit_callbacks(events, [job_id])
    payload = audit.by_request[job_id]["data"]
    assert payload["error_detail"] is None, payload["error_detail"]
    assert payload["attempts"] == 2  # the dead worker's attempt counts; the second one answered
    assert await job_attempts(pipeline.postgres_url, job_id) == 2
    assert (await job_statuses(pipeline.postgres_url, [job_id]))[job_id] == "completed"
