"""`POST /api/v1/comparison` and `/api/v1/requests/{queue_id}` through the ASGI app."""

from __future__ import annotations

import asyncio

from llm_provider_service.domain.models import JobStatus
from tests.api.conftest import Api, ApiFactory
from tests.unit.service.harness import Harness

BODY = {
    "user_prompt": "Essay A: ...\n\nEssay B: ...",
    "callback_topic": "essay.results",
    "metadata": {"batch_id": "b-9", "nested": {"k": [1, 2]}},
    "llm_config_overrides": {"provider_override": "mock", "temperature_override": 0.2},
    "priority": 7,
}


async def test_submit_answers_202_with_location(api: Api) -> None:
    response = await api.client.post("/api/v1/comparison", json=BODY)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert set(body) == {
        "queue_id",
        "status",
        "message",
        "estimated_wait_seconds",
        "estimated_wait_minutes",
        "status_url",
    }
    assert isinstance(body["estimated_wait_minutes"], int)
    assert response.headers["location"] == body["status_url"] == f"/api/v1/requests/{body['queue_id']}"
    job = api.harness.store.jobs[body["queue_id"]]
    assert job.request.priority == 7
    assert job.request.metadata == BODY["metadata"]


async def test_status_then_result(api: Api) -> None:
    queue_id = (await api.client.post("/api/v1/comparison", json=BODY)).json()["queue_id"]
    queued = (await api.client.get(f"/api/v1/requests/{queue_id}")).json()
    assert queued["status"] == "queued"
    assert queued["result"] is None
    await api.harness.process_next()
    done = (await api.client.get(f"/api/v1/requests/{queue_id}")).json()
    assert done["status"] == "completed"
    assert done["attempts"] == 1
    result = done["result"]
    assert result["winner"] in ("Essay A", "Essay B")
    assert 1 <= result["confidence"] <= 5
    assert result["request_metadata"]["batch_id"] == "b-9"
    assert len(result["request_metadata"]["prompt_sha256"]) == 64


async def test_wait_returns_200_with_the_result(api: Api) -> None:
    async def work() -> None:
        leases = await api.harness.queue.claim(max_jobs=1, lease_seconds=30, wait_seconds=5)
        await api.harness.processor.process(leases[0])

    async with asyncio.TaskGroup() as group:
        group.create_task(work())
        response = await api.client.post("/api/v1/comparison?wait=5", json=BODY)
    assert response.status_code == 200
    assert response.json()["status"] == "completed"


async def test_wait_that_times_out_answers_202(api: Api) -> None:
    response = await api.client.post("/api/v1/comparison?wait=0.05", json=BODY)
    assert response.status_code == 202


async def test_idempotency_key_returns_the_first_queue_id(api: Api) -> None:
    headers = {"Idempotency-Key": "batch-1-pair-1"}
    first = await api.client.post("/api/v1/comparison", json=BODY, headers=headers)
    second = await api.client.post("/api/v1/comparison", json=BODY, headers=headers)
    assert first.json()["queue_id"] == second.json()["queue_id"]
    assert second.headers["idempotent-replayed"] == "true"
    assert len(api.harness.store.jobs) == 1


async def test_cancel_queued_job(api: Api) -> None:
    queue_id = (await api.client.post("/api/v1/comparison", json=BODY)).json()["queue_id"]
    response = await api.client.delete(f"/api/v1/requests/{queue_id}")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["result"]["error_detail"]["details"]["kind"] == "cancelled"
    again = await api.client.delete(f"/api/v1/requests/{queue_id}")
    assert again.status_code == 200
    callbacks = await api.harness.callbacks()
    assert len(callbacks) == 1


async def test_cancel_finished_job_is_a_conflict(api: Api) -> None:
    queue_id = (await api.client.post("/api/v1/comparison", json=BODY)).json()["queue_id"]
    await api.harness.process_next()
    response = await api.client.delete(f"/api/v1/requests/{queue_id}")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


async def test_queue_full_is_503_with_retry_after(make_api: ApiFactory) -> None:
    api: Api = await make_api(Harness(capacity=1))
    assert (await api.client.post("/api/v1/comparison", json=BODY)).status_code == 202
    response = await api.client.post("/api/v1/comparison", json=BODY)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "queue_full"
    assert response.json()["is_retryable"] is True
    assert int(response.headers["retry-after"]) >= 1
    assert len(api.harness.store.jobs) == 1


async def test_store_down_is_503_and_nothing_is_queued(api: Api) -> None:
    from llm_provider_service.domain.errors import StoreUnavailableError

    api.harness.store.unavailable = StoreUnavailableError("database down", retry_after_seconds=2)
    response = await api.client.post("/api/v1/comparison", json=BODY)
    assert response.status_code == 503
    assert response.json()["code"] == "store_unavailable"
    assert response.json()["is_retryable"] is True
    assert response.headers["retry-after"] == "2"
    assert (await api.harness.queue.stats()).total == 0
    assert "database down" in response.json()["detail"]


async def test_job_status_is_terminal_after_processing(api: Api) -> None:
    queue_id = (await api.client.post("/api/v1/comparison", json=BODY)).json()["queue_id"]
    await api.harness.process_next()
    assert api.harness.store.jobs[queue_id].status == JobStatus.COMPLETED


async def test_traceparent_joins_the_callers_trace(api: Api) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"traceparent": f"00-{trace}-00f067aa0ba902b7-01"}
    queue_id = (await api.client.post("/api/v1/comparison", json=BODY, headers=headers)).json()["queue_id"]
    await api.harness.process_next()
    callback = (await api.harness.callbacks())[0]
    assert callback["data"]["trace_id"] == trace
    assert callback["metadata"]["traceparent"].startswith(f"00-{trace}-")
    assert api.harness.store.jobs[queue_id].trace_id == trace


async def test_malformed_traceparent_is_ignored(api: Api) -> None:
    headers = {"traceparent": "00-not-hex-01"}
    queue_id = (await api.client.post("/api/v1/comparison", json=BODY, headers=headers)).json()["queue_id"]
    trace_id = api.harness.store.jobs[queue_id].trace_id
    assert trace_id is not None
    assert len(trace_id) == 32


async def test_unknown_fields_are_ignored_as_the_original_does(api: Api) -> None:
    # The original's pydantic models ignore fields they do not know; a newer client adding one must not get a 400.
    overrides = BODY["llm_config_overrides"]
    assert isinstance(overrides, dict)
    body = {**BODY, "surprise": True, "llm_config_overrides": {**overrides, "future_hint": "x"}}
    response = await api.client.post("/api/v1/comparison", json=body)
    assert response.status_code == 202
    job = api.harness.store.jobs[response.json()["queue_id"]]
    assert job.request.metadata == BODY["metadata"]
    assert job.request.overrides.temperature == 0.2
