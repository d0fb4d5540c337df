"""Batch mode through the real pipeline (Redis, PostgreSQL, Kafka, API and worker processes) against the mock
server's OpenAI Batch API: submit -> collect -> one valid callback per job, with a lost item and an expired batch
(their jobs retried as immediate jobs), and a worker killed between submit and collect replaced by another."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.compat.mock_server_process import MockServerProcess
from tests.compat.original_models import parse_callback
from tests.integration.pipeline.conftest import Pipeline
from tests.integration.pipeline.jobs import audit_callbacks, comparison_body, submit
from tests.kafka_consumer import CallbackCollector

pytestmark = pytest.mark.integration

JOBS = 6
# Items 2 and 4 lost by the vendor, item 6 unfinished when the batch expires; the batch ends 3 s after submission.
SCRIPT = {"x-mock-batch-delay-ms": "3000", "x-mock-batch-drop-every": "2", "x-mock-batch-expire-after": "5"}
ADMIN_KEY = "batch-admin-key"
CLIENT_KEY = "batch-client-key"


def batch_env(mock_url: str) -> dict[str, str]:
    return {
        "LLM_PROVIDER_OPENAI_API_KEY": "test-key",
        "LLM_PROVIDER_OPENAI_BASE_URL": f"{mock_url}/v1",
        "LLM_PROVIDER_BATCH_WINDOW_SECONDS": "30",  # the size fills first: one batch of all six
        "LLM_PROVIDER_BATCH_MAX_SIZE": str(JOBS),
        "LLM_PROVIDER_BATCH_POLL_INTERVAL_SECONDS": "0.5",
        "LLM_PROVIDER_BATCH_SUBMIT_HEADERS": json.dumps(SCRIPT),
        "LLM_PROVIDER_ADMIN_KEY": ADMIN_KEY,
        "LLM_PROVIDER_API_KEYS": CLIENT_KEY,
    }


async def batch_rows(postgres_url: str) -> list[dict[str, Any]]:
    engine = create_async_engine(postgres_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT * FROM batches ORDER BY created_at"))).mappings().all()
    finally:
        await engine.dispose()
    return [dict(row) for row in rows]


async def wait_for_submitted(postgres_url: str, *, timeout_seconds: float) -> dict[str, Any]:
    async with asyncio.timeout(timeout_seconds):
        while True:
            rows = [row for row in await batch_rows(postgres_url) if row["vendor_batch_id"]]
            if rows:
                return rows[0]
            await asyncio.sleep(0.05)


async def test_a_vendor_batch_ends_every_job_once_through_the_pipeline(
    pipeline: Pipeline, callbacks: CallbackCollector, tmp_path: Path
) -> None:
    timeline: list[tuple[float, str]] = []
    with MockServerProcess(tmp_path) as mock, pipeline.processes(batch_env(mock.base_url)) as group:
        api = group.api()
        doomed = group.worker()
        headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
        async with httpx.AsyncClient(base_url=api.base_url, timeout=10.0, headers=headers) as client:
            accepted = []
            for number in range(JOBS):
                body = comparison_body(pipeline.callback_topic, number)
                body["llm_config_overrides"] = {
                    "provider_override": "openai",
                    "model_override": "gpt-4.1",
                    "batching_mode": "provider_batch_api",
                }
                answer = await submit(client, body)
                assert answer.status == 202, answer.body
                accepted.append(answer.body["queue_id"])
            timeline.append((time.time(), f"{JOBS} jobs accepted (202)"))

            batch = await wait_for_submitted(pipeline.postgres_url, timeout_seconds=20)
            timeline.append((batch["submitted_at"].timestamp(), f"batch submitted as {batch['vendor_batch_id']}"))
            doomed.kill()  # between submit and collect: the batch id is in the store
            timeline.append((time.time(), "worker killed (SIGKILL)"))
            admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
            providers = (await client.get("/api/v1/providers", headers=admin)).json()["providers"]
            [openai] = [provider for provider in providers if provider["name"] == "openai"]
            assert [open_["vendor_batch_id"] for open_ in openai["open_batches"]] == [batch["vendor_batch_id"]]
            assert openai["open_batches"][0]["jobs"] == JOBS

            group.worker()
            timeline.append((time.time(), "second worker started"))
            await callbacks.wait_for(JOBS, timeout_seconds=60)
            events = await callbacks.wait_quiet(quiet_seconds=1.5, timeout_seconds=15)
            providers = (await client.get("/api/v1/providers", headers=admin)).json()["providers"]
            [openai] = [provider for provider in providers if provider["name"] == "openai"]
            assert openai["open_batches"] == []

    audit = audit_callbacks(events, accepted)
    [ended] = await batch_rows(pipeline.postgres_url)
    assert (ended["phase"], ended["vendor_state"]) == ("ended", "expired")
    timeline.append(
        (ended["ended_at"].timestamp(), "batch marked ended in the store (vendor state expired), after its jobs")
    )
    submitted_order = list(ended["job_ids"])  # the vendor's item order: 2 and 4 lost, 6 unfinished at expiry
    retried = {submitted_order[1], submitted_order[3], submitted_order[5]}
    for position, job_id in enumerate(submitted_order, 1):
        envelope = audit.by_request[job_id]
        parse_callback(json.dumps(envelope))  # as the original client's model reads it
        data = envelope["data"]
        assert data["error_detail"] is None, data["error_detail"]
        assert data["attempts"] == (2 if job_id in retried else 1), position
        outcome = "retried as an immediate job" if job_id in retried else "answered by the batch"
        completed = datetime.fromisoformat(data["completed_at"]).timestamp()
        timeline.append((completed, f"callback, batch item {position}: {outcome}, cost {data['cost_estimate']}"))
    batch_cost = audit.by_request[submitted_order[0]]["data"]["cost_estimate"]
    immediate_cost = audit.by_request[submitted_order[1]]["data"]["cost_estimate"]
    assert 0 < batch_cost < immediate_cost  # the batch price (half, by the manifest's default)
    start = min(moment for moment, _ in timeline)
    lines = [f"+{moment - start:7.3f} s  {what}" for moment, what in sorted(timeline)]
    out = os.environ.get("BATCH_TIMELINE_OUT")  # the report's timeline, when asked for
    await asyncio.to_thread(Path(out or tmp_path / "timeline.txt").write_text, "\n".join(lines) + "\n")
