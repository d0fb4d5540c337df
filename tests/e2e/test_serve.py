"""Drives `llm-provider serve` on embedded defaults over HTTP, the way a user would."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.service_process import ServiceProcess

pytestmark = pytest.mark.e2e

TOPIC = "essay.results"


def _submit(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/comparison", json={"user_prompt": "Essay A ...\n\nEssay B ...", **body})
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


def _wait_terminal(client: httpx.Client, queue_id: str, timeout_seconds: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/v1/requests/{queue_id}", params={"wait": 2}).json()
        if job["status"] in {"completed", "failed", "expired", "cancelled"}:
            return job
    raise AssertionError(f"job {queue_id} did not finish")


def _callbacks(data_dir: Path) -> list[dict[str, Any]]:
    lines = (data_dir / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if json.loads(line)["topic"] == TOPIC]


def test_jobs_end_to_end_on_embedded_defaults(tmp_path: Path) -> None:
    with ServiceProcess(tmp_path) as service, httpx.Client(base_url=service.base_url, timeout=10) as client:
        accepted = [_submit(client, callback_topic=TOPIC, metadata={"n": n}) for n in range(10)]
        results = [_wait_terminal(client, job["queue_id"]) for job in accepted]
        assert {result["status"] for result in results} == {"completed"}
        for n, result in enumerate(results):
            payload = result["result"]
            assert payload["winner"] in {"Essay A", "Essay B"}
            assert 1 <= payload["confidence"] <= 5
            assert payload["request_metadata"]["n"] == n
            assert payload["provider"] == "mock"

        waited = client.post("/api/v1/comparison?wait=10", json={"user_prompt": "A vs B", "callback_topic": TOPIC})
        assert waited.status_code == 200
        assert waited.json()["status"] == "completed"

        key = {"Idempotency-Key": "e2e-key"}
        first = client.post("/api/v1/comparison", json={"user_prompt": "A vs B"}, headers=key).json()
        again = client.post("/api/v1/comparison", json={"user_prompt": "A vs B"}, headers=key).json()
        assert first["queue_id"] == again["queue_id"]

        assert client.get("/api/v1/requests/unknown").status_code == 404
        assert client.get("/healthz").status_code == 200
        assert "llm_provider_jobs_finished_total" in client.get("/metrics").text
        assert service.stop() == 0  # SIGTERM drains and exits cleanly

    callbacks = _callbacks(tmp_path)
    request_ids = [event["value"]["data"]["request_id"] for event in callbacks]
    assert sorted(request_ids) == sorted([job["queue_id"] for job in accepted] + [waited.json()["queue_id"]])


def test_queued_jobs_survive_a_restart_and_cancel_sends_a_callback(tmp_path: Path) -> None:
    with ServiceProcess(tmp_path, "--no-worker") as api_only, httpx.Client(base_url=api_only.base_url) as client:
        queued = [_submit(client, callback_topic=TOPIC)["queue_id"] for _ in range(5)]
        cancelled = _submit(client, callback_topic=TOPIC)["queue_id"]
        response = client.delete(f"/api/v1/requests/{cancelled}")
        assert response.json()["status"] == "cancelled"
        assert client.get(f"/api/v1/requests/{queued[0]}").json()["status"] == "queued"
        assert api_only.stop() == 0

    with ServiceProcess(tmp_path) as service, httpx.Client(base_url=service.base_url, timeout=10) as client:
        statuses = {_wait_terminal(client, queue_id)["status"] for queue_id in queued}
        assert statuses == {"completed"}
        assert client.get(f"/api/v1/requests/{cancelled}").json()["status"] == "cancelled"

    callbacks = _callbacks(tmp_path)
    by_id: dict[str, list[dict[str, Any]]] = {}
    for event in callbacks:
        by_id.setdefault(event["value"]["data"]["request_id"], []).append(event)
    assert set(by_id) == {*queued, cancelled}
    assert all(len(events) == 1 for events in by_id.values())
    assert by_id[cancelled][0]["value"]["data"]["error_detail"]["details"]["kind"] == "cancelled"
