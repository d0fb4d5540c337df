"""Every bad input gets a 4xx problem+json with a stable code, and nothing is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import MAX_BODY_BYTES, Api, ApiFactory

GOOD: dict[str, Any] = {"user_prompt": "Essay A ... Essay B ..."}


def _with(**changes: Any) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


CASES = [
    ("malformed json", b'{"user_prompt": ', 400, "validation_error"),
    ("not an object", b"[1, 2]", 400, "validation_error"),
    ("empty body", b"", 400, "validation_error"),
    ("missing user_prompt", b"{}", 400, "validation_error"),
    ("empty user_prompt", _with(user_prompt=""), 400, "validation_error"),
    ("blank user_prompt", _with(user_prompt="   \n"), 400, "validation_error"),
    ("user_prompt not a string", _with(user_prompt=5), 400, "validation_error"),
    ("priority as a string", _with(priority="5"), 400, "validation_error"),
    ("priority out of range", _with(priority=11), 400, "validation_error"),
    ("negative priority", _with(priority=-1), 400, "validation_error"),
    ("metadata not an object", _with(metadata=[1]), 400, "validation_error"),
    ("mock scenario typo", _with(metadata={"mock": {"scenario": "rate_limit"}}), 400, "validation_error"),
    ("mock key typo", _with(metadata={"mock": {"latency": 5}}), 400, "validation_error"),
    ("mock not an object", _with(metadata={"mock": "ok"}), 400, "validation_error"),
    ("mock latency negative", _with(metadata={"mock": {"latency_ms": -1}}), 400, "validation_error"),
    ("correlation id not a uuid", _with(correlation_id="abc"), 400, "validation_error"),
    ("invalid callback topic", _with(callback_topic="bad topic!"), 400, "validation_error"),
    ("dot callback topic", _with(callback_topic=".."), 400, "validation_error"),
    ("temperature too high", _with(llm_config_overrides={"temperature_override": 2.5}), 400, "validation_error"),
    ("temperature negative", _with(llm_config_overrides={"temperature_override": -0.1}), 400, "validation_error"),
    ("max tokens zero", _with(llm_config_overrides={"max_tokens_override": 0}), 400, "validation_error"),
    ("bad reasoning effort", _with(llm_config_overrides={"reasoning_effort": "extreme"}), 400, "validation_error"),
    ("bad prompt block", _with(prompt_blocks=[{"content": "x", "target": "assistant"}]), 400, "validation_error"),
    ("unknown provider", _with(llm_config_overrides={"provider_override": "skynet"}), 400, "unknown_provider"),
    ("unconfigured provider", _with(llm_config_overrides={"provider_override": "openai"}), 400, "unknown_provider"),
    ("model id too long", _with(llm_config_overrides={"model_override": "m" * 201}), 400, "validation_error"),
    ("prompt blocks not a list", _with(prompt_blocks={"content": "x"}), 400, "validation_error"),
    ("prompt block without content", _with(prompt_blocks=[{"target": "system"}]), 400, "validation_error"),
]


@pytest.mark.parametrize(("body", "status", "code"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
async def test_bad_body_is_rejected_with_a_problem(api: Api, body: bytes, status: int, code: str) -> None:
    response = await api.client.post("/api/v1/comparison", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert {"type", "title", "detail", "correlation_id"} <= set(problem)
    # The original client reads these two members.
    assert problem["error"] == problem["detail"]
    assert problem["is_retryable"] is False
    assert api.harness.store.jobs == {}
    assert (await api.harness.queue.stats()).total == 0


async def test_validation_errors_never_echo_the_input(api: Api) -> None:
    private_essay = "my-private-essay-text"
    response = await api.client.post("/api/v1/comparison", json={"user_prompt": private_essay, "priority": "x"})
    assert response.status_code == 400
    assert private_essay not in response.text
    assert response.json()["errors"][0]["loc"] == ["priority"]


async def test_body_over_the_limit_is_413(api: Api) -> None:
    response = await api.client.post("/api/v1/comparison", json={"user_prompt": "x" * (MAX_BODY_BYTES + 1)})
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert api.harness.store.jobs == {}


async def test_streamed_body_over_the_limit_is_413(api: Api) -> None:
    async def chunks() -> Any:
        for _ in range(10):
            yield b"x" * 1024

    response = await api.client.post("/api/v1/comparison", content=chunks())
    assert response.status_code == 413
    assert api.harness.store.jobs == {}


async def test_unknown_queue_id_is_404(api: Api) -> None:
    response = await api.client.get("/api/v1/requests/does-not-exist")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert (await api.client.delete("/api/v1/requests/does-not-exist")).status_code == 404


async def test_wait_out_of_range_is_400(api: Api) -> None:
    for value in ("61", "-1", "soon"):
        response = await api.client.post(f"/api/v1/comparison?wait={value}", json=GOOD)
        assert response.status_code == 400
    assert api.harness.store.jobs == {}


async def test_unknown_route_and_method_are_problems(api: Api) -> None:
    missing = await api.client.get("/api/v1/nothing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await api.client.put("/api/v1/comparison", json=GOOD)
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "user_prompt",
        "prompt_blocks",
        "callback_topic",
        "llm_config_overrides",
        "correlation_id",
        "user_id",
        "priority",
        "metadata",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(FIELDS, JSON_VALUES, max_size=8) | JSON_VALUES)
async def test_no_input_produces_a_5xx(make_api: ApiFactory, body: Any) -> None:
    api: Api = await make_api()
    response = await api.client.post("/api/v1/comparison", content=json.dumps(body).encode())
    assert response.status_code < 500
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
