"""A job past its time to live gets exactly one `expired` callback, even when a worker turns up later."""

from __future__ import annotations

import asyncio
import collections

import pytest

from tests.integration.pipeline.conftest import Pipeline
from tests.integration.pipeline.jobs import audit_callbacks, job_statuses, submit_many
from tests.kafka_consumer import CallbackCollector

pytestmark = pytest.mark.integration

JOBS = 5


async def test_jobs_nobody_started_in_time_expire(pipeline: Pipeline, callbacks: CallbackCollector) -> None:
    with pipeline.processes({"LLM_PROVIDER_JOB_TTL_SECONDS": "1"}) as group:
        api = group.api()  # no worker yet: nothing can start the jobs before their TTL runs out
        accepted = await submit_many(api.base_url, pipeline.callback_topic, JOBS, clients=2)
        await asyncio.sleep(1.2)
        group.worker()  # finds them expired, or due and already past their TTL: it must not answer them
        await callbacks.wait_for(JOBS, timeout_seconds=15)
        events = await callbacks.wait_quiet(quiet_seconds=1.5, timeout_seconds=10)

    audit = audit_callbacks(events, accepted)
    details = [envelope["data"]["error_detail"] for envelope in audit.by_request.values()]
    assert collections.Counter(detail["details"]["kind"] for detail in details) == {"expired": JOBS}
    assert {detail["error_code"] for detail in details} == {"TIMEOUT"}
    assert all(detail["retryable"] is False for detail in details)
    statuses = await job_statuses(pipeline.postgres_url)
    assert collections.Counter(statuses.values()) == {"expired": JOBS}
