"""The original essay-assessment client's requests, auth and retries at the HTTP edge (SPEC §3.1)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.conftest import Api, ApiFactory

CLIENT_KEY = "client-key-0123456789"


def client_body(**changes: Any) -> dict[str, Any]:
    """A body shaped as the client's `generate_comparison` builds it: blocks with content_hash, its metadata keys."""
    body: dict[str, Any] = {
        "user_prompt": "**Essay A (ID: a-1):**\nA.\n\n**Essay B (ID: b-1):**\nB.",
        "metadata": {"essay_a_id": "a-1", "essay_b_id": "b-1", "bos_batch_id": str(uuid.uuid4()), "cj_batch_id": "7"},
        "correlation_id": str(uuid.uuid4()),
        "callback_topic": "huleedu.llm_provider.comparison_result.v1",
        "prompt_blocks": [
            {"target": "user_content", "content": "**Essay A (ID: a-1):**\nA.", "cacheable": False, "ttl": "5m",
             "content_hash": "ab" * 32},
        ],
        "llm_config_overrides": {"provider_override": "mock", "model_override": "gpt-5.1", "temperature_override": 0.1},
    }  # fmt: skip
    body.update(changes)
    return body


async def test_blocks_with_content_hash_and_other_keys_are_accepted(api: Api) -> None:
    block = {"target": "system", "content": "Be fair.", "cacheable": True, "ttl": "1h", "content_hash": "x", "n": 1}
    response = await api.client.post("/api/v1/comparison", json=client_body(prompt_blocks=[block]))
    assert response.status_code == 202, response.text
    job = api.harness.store.jobs[response.json()["queue_id"]]
    assert [(b.target, b.content, b.cacheable, b.ttl) for b in job.request.prompt_blocks] == [
        ("system", "Be fair.", True, "1h")
    ]


async def test_every_field_the_original_allows_as_none_may_be_null(api: Api) -> None:
    body = client_body(prompt_blocks=None, correlation_id=None, user_id=None, llm_config_overrides=None)
    assert (await api.client.post("/api/v1/comparison", json=body)).status_code == 202
    overrides = dict.fromkeys(
        ["provider_override", "model_override", "temperature_override", "system_prompt_override",
         "max_tokens_override", "reasoning_effort", "output_verbosity"]
    )  # fmt: skip
    response = await api.client.post("/api/v1/comparison", json=client_body(llm_config_overrides=overrides))
    assert response.status_code == 202, response.text


async def test_the_202_body_carries_the_wait_in_minutes(api: Api) -> None:
    body = (await api.client.post("/api/v1/comparison", json=client_body())).json()
    assert body["estimated_wait_minutes"] == 0
    assert isinstance(body["estimated_wait_minutes"], int)


async def test_anonymous_submission_needs_the_opt_in(make_api: ApiFactory) -> None:
    closed: Api = await make_api(api_keys=[CLIENT_KEY])
    refused = await closed.client.post("/api/v1/comparison", json=client_body())
    assert refused.status_code == 401
    assert refused.json()["is_retryable"] is False

    opened: Api = await make_api(api_keys=[CLIENT_KEY], allow_anonymous_jobs=True)
    assert (await opened.client.post("/api/v1/comparison", json=client_body())).status_code == 202
    wrong = await opened.client.post("/api/v1/comparison", json=client_body(), headers={"authorization": "Bearer no"})
    assert wrong.status_code == 401  # a key that is presented must still be valid
    queue_id = (await opened.client.post("/api/v1/comparison", json=client_body())).json()["queue_id"]
    assert (await opened.client.get(f"/api/v1/requests/{queue_id}")).status_code == 401  # only submission opens
    assert (await opened.client.get("/api/v1/usage")).status_code == 401


async def test_correlation_id_is_the_idempotency_key_when_configured(make_api: ApiFactory) -> None:
    api: Api = await make_api(idempotency_from="correlation_id")
    body = client_body()
    first = await api.client.post("/api/v1/comparison", json=body)
    again = await api.client.post("/api/v1/comparison", json=body)
    assert again.json()["queue_id"] == first.json()["queue_id"]
    assert again.headers["idempotent-replayed"] == "true"
    other = await api.client.post("/api/v1/comparison", json=client_body())
    assert other.json()["queue_id"] != first.json()["queue_id"]
    assert len(api.harness.store.jobs) == 2
    # Without a correlation id there is nothing to key on: each submission is new.
    for _ in range(2):
        await api.client.post("/api/v1/comparison", json=client_body(correlation_id=None))
    assert len(api.harness.store.jobs) == 4


async def test_correlation_ids_are_not_keys_by_default(api: Api) -> None:
    body = client_body()
    first = await api.client.post("/api/v1/comparison", json=body)
    again = await api.client.post("/api/v1/comparison", json=body)
    assert again.json()["queue_id"] != first.json()["queue_id"]


async def test_an_empty_system_prompt_override_means_the_default(api: Api) -> None:
    overrides = {"provider_override": "mock", "system_prompt_override": ""}
    response = await api.client.post("/api/v1/comparison", json=client_body(llm_config_overrides=overrides))
    assert response.status_code == 202, response.text
    assert api.harness.store.jobs[response.json()["queue_id"]].request.overrides.system_prompt is None
