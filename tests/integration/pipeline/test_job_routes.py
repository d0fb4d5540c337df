"""A job naming a route, through the real pipeline (Redis, PostgreSQL, Kafka, API and worker processes): the
primary (an OpenAI-compatible upstream, the mock server answering 500) fails until its breaker opens, then the
fallback (the in-process mock) serves, and every callback names the fallback and the route."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.compat.mock_server_process import MockServerProcess
from tests.integration.pipeline.conftest import Pipeline
from tests.integration.pipeline.jobs import audit_callbacks, comparison_body, submit
from tests.kafka_consumer import CallbackCollector

pytestmark = pytest.mark.integration

JOBS = 6
ROUTES = {"judge": {"targets": ["openai_compatible/judge-primary", "mock/mock-comparison-v1"]}}


async def _rows(postgres_url: str, query: str) -> list[tuple[object, ...]]:
    engine = create_async_engine(postgres_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in (await conn.execute(sa.text(query))).all()]
    finally:
        await engine.dispose()


async def _job_usage(postgres_url: str, job_ids: list[str], *, timeout_seconds: float) -> list[tuple[object, ...]]:
    """The jobs' usage rows (written off the hot path, so they may trail the callbacks by a flush)."""
    wanted = {f"job:{job_id}:" for job_id in job_ids}
    async with asyncio.timeout(timeout_seconds):
        while True:
            rows = await _rows(postgres_url, "SELECT id, provider, model FROM usage WHERE source = 'job'")
            mine = [row for row in rows if any(str(row[0]).startswith(prefix) for prefix in wanted)]
            if len(mine) >= len(job_ids):
                return mine
            await asyncio.sleep(0.2)


def _env(mock_url: str) -> dict[str, str]:
    return {
        "LLM_PROVIDER_OPENAI_COMPATIBLE_API_KEY": "test-key",
        "LLM_PROVIDER_OPENAI_COMPATIBLE_BASE_URL": f"{mock_url}/v1",
        "LLM_PROVIDER_MODEL_ROUTES": json.dumps(ROUTES),
        "LLM_PROVIDER_CIRCUIT_FAILURE_THRESHOLD": "3",
        "LLM_PROVIDER_CIRCUIT_RESET_SECONDS": "120",  # stays open for the whole test: no probe reaches it
        "LLM_PROVIDER_MAX_ATTEMPTS": "8",
        "LLM_PROVIDER_RETRY_BASE_DELAY_SECONDS": "0.05",
        "LLM_PROVIDER_RETRY_MAX_DELAY_SECONDS": "0.2",
    }


async def test_a_routed_job_falls_back_once_the_primary_breaker_opens(
    pipeline: Pipeline, callbacks: CallbackCollector, tmp_path: Path
) -> None:
    failing = {"LLM_PROVIDER_MOCK_FAULT_RATES": json.dumps({"server_error": 1.0})}
    async with pipeline.collector(pipeline.circuit_topic) as circuit_events:
        await circuit_events.wait_assigned()
        with MockServerProcess(tmp_path, env=failing) as upstream, pipeline.processes(_env(upstream.base_url)) as group:
            api = group.api()
            group.worker(concurrency=2)  # two in flight: the breaker opens while jobs are still queued
            accepted = []
            async with httpx.AsyncClient(base_url=api.base_url, timeout=10.0) as client:
                refused = await client.post(
                    "/api/v1/comparison",
                    json={**comparison_body(pipeline.callback_topic, 99), "llm_config_overrides": {
                        "provider_override": "no-such-route"}},
                )  # fmt: skip
                for number in range(JOBS):
                    body = comparison_body(pipeline.callback_topic, number)
                    body["llm_config_overrides"] = {"provider_override": "judge"}
                    answer = await submit(client, body)
                    assert answer.status == 202, answer.body
                    accepted.append(answer.body["queue_id"])
            await callbacks.wait_for(JOBS, timeout_seconds=60)
            events = await callbacks.wait_quiet(quiet_seconds=1.0, timeout_seconds=10)
            usage = await _job_usage(pipeline.postgres_url, accepted, timeout_seconds=15)
        changes = [event.envelope["data"] for event in circuit_events.events]

    assert (refused.status_code, refused.json()["code"]) == (400, "unknown_provider"), group.logs()
    audit = audit_callbacks(events, accepted)  # one valid callback each (the original's models parse them)
    served = [audit.by_request[job_id]["data"] for job_id in accepted]
    assert all(data["error_detail"] is None for data in served), served
    assert {data["provider"] for data in served} == {"mock"}  # the fallback served every one
    assert {data["request_metadata"]["provider_route"] for data in served} == {"judge"}
    assert max(data["attempts"] for data in served) > 1  # some met the failing primary first
    assert {(row[1], row[2]) for row in usage} == {("mock", "mock-comparison-v1")}  # usage names who served
    stored = await _rows(pipeline.postgres_url, "SELECT id, provider, result FROM jobs")
    results = {str(row[0]): row for row in stored if str(row[0]) in accepted}
    assert {row[1] for row in results.values()} == {"judge"}  # the row keeps the route the job was sent to
    assert all(_result(row[2])["provider"] == "mock" for row in results.values())  # its result, who served
    opened = [change for change in changes if change["state"] == "open"]
    assert [change["provider"] for change in opened] == ["openai_compatible"], changes  # its failures, its breaker


def _result(value: object) -> dict[str, object]:
    parsed = json.loads(value) if isinstance(value, str | bytes) else value
    assert isinstance(parsed, dict)
    return parsed
