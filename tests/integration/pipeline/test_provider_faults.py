"""Vendor faults: retryable ones are retried to success, terminal ones fail once, bursts open the breaker."""

from __future__ import annotations

import collections
import json

import httpx
import pytest

from tests.integration.pipeline.conftest import Pipeline
from tests.integration.pipeline.jobs import audit_callbacks, comparison_body, submit, submit_many
from tests.kafka_consumer import CallbackCollector

pytestmark = pytest.mark.integration

FAST_BREAKER = {"LLM_PROVIDER_CIRCUIT_RESET_SECONDS": "0.5"}


def _outcomes(by_request: dict[str, dict[str, object]]) -> collections.Counter[str]:
    return collections.Counter(
        "ok" if envelope["data"]["error_detail"] is None else envelope["data"]["error_detail"]["details"]["kind"]  # type: ignore[index]
        for envelope in by_request.values()
    )


async def test_scripted_retryable_and_terminal_faults(pipeline: Pipeline, callbacks: CallbackCollector) -> None:
    """`overloaded` twice then success (3 attempts); `unauthorized` fails at once (1 attempt), one callback each."""
    with pipeline.processes(FAST_BREAKER) as group:
        api = group.api()
        group.worker()
        retried = await submit_many(
            api.base_url, pipeline.callback_topic, 10, clients=2, mock={"scenario": "overloaded", "fail_attempts": 2}
        )
        async with httpx.AsyncClient(base_url=api.base_url, timeout=10.0) as client:
            body = comparison_body(pipeline.callback_topic, 99, mock={"scenario": "unauthorized"})
            answer = await submit(client, body)
        assert answer.status == 202, answer.body
        refused = answer.body["queue_id"]
        await callbacks.wait_for(11, timeout_seconds=30)
        events = await callbacks.wait_quiet(quiet_seconds=1.0, timeout_seconds=10)

    audit = audit_callbacks(events, [*retried, refused])
    assert all(audit.by_request[job_id]["data"]["error_detail"] is None for job_id in retried)
    assert {audit.by_request[job_id]["data"]["attempts"] for job_id in retried} == {3}
    failed = audit.by_request[refused]["data"]
    assert failed["error_detail"]["error_code"] == "AUTHENTICATION_ERROR"
    assert failed["error_detail"]["details"]["kind"] == "authentication"
    assert failed["error_detail"]["retryable"] is False
    assert failed["attempts"] == 1


async def test_thirty_percent_overloaded_all_complete(pipeline: Pipeline, callbacks: CallbackCollector) -> None:
    jobs = 60
    faults = {
        "LLM_PROVIDER_MOCK_FAULT_RATES": json.dumps({"overloaded": 0.3}),
        # 0.3 ** 10 per job: a job running out of attempts would be a one-in-a-million event, not flakiness.
        "LLM_PROVIDER_MAX_ATTEMPTS": "10",
        **FAST_BREAKER,
    }
    with pipeline.processes(faults) as group:
        api = group.api()
        group.worker()
        accepted = await submit_many(api.base_url, pipeline.callback_topic, jobs, clients=4)
        await callbacks.wait_for(jobs, timeout_seconds=40)
        events = await callbacks.wait_quiet(quiet_seconds=1.0, timeout_seconds=10)

    audit = audit_callbacks(events, accepted)
    assert _outcomes(audit.by_request) == {"ok": jobs}
    assert max(envelope["data"]["attempts"] for envelope in audit.by_request.values()) > 1  # faults did happen


async def test_burst_opens_the_breaker_and_jobs_wait(pipeline: Pipeline, callbacks: CallbackCollector) -> None:
    jobs = 40
    burst = {
        "LLM_PROVIDER_MOCK_BURST_EVERY": "15",
        "LLM_PROVIDER_MOCK_BURST_LENGTH": "6",
        "LLM_PROVIDER_CIRCUIT_FAILURE_THRESHOLD": "3",
        **FAST_BREAKER,
    }
    async with pipeline.collector(pipeline.circuit_topic) as circuit_events:
        await circuit_events.wait_assigned()
        with pipeline.processes(burst) as group:
            api = group.api()
            group.worker(concurrency=4)
            accepted = await submit_many(api.base_url, pipeline.callback_topic, jobs, clients=4)
            await callbacks.wait_for(jobs, timeout_seconds=40)
            events = await callbacks.wait_quiet(quiet_seconds=1.0, timeout_seconds=10)
        changes = [event.envelope["data"] for event in circuit_events.events]

    states = [change["state"] for change in changes]
    assert "open" in states, changes
    assert "closed" in states[states.index("open") :], changes  # probes succeeded and it closed again
    audit = audit_callbacks(events, accepted)
    # Jobs that met the open breaker waited (released with a delay, no attempt spent); none failed.
    assert _outcomes(audit.by_request) == {"ok": jobs}
