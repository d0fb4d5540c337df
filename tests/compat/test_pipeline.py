"""The original client's requests through the real pipeline (API and worker processes on Redis, PostgreSQL and
Kafka, the OpenAI adapter pointed at the mock server); every Kafka callback parsed with the original's models."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.compat.client_reaction import client_reaction
from tests.compat.client_requests import client_request, request_metadata
from tests.compat.mock_server_process import MockServerProcess
from tests.compat.original_models import parse_callback
from tests.integration.pipeline.conftest import Pipeline
from tests.integration.pipeline.jobs import audit_callbacks
from tests.kafka_consumer import CallbackCollector

pytestmark = [pytest.mark.integration, pytest.mark.compat]


@pytest.fixture
def mock_vendor(tmp_path: Path) -> Iterator[MockServerProcess]:
    with MockServerProcess(tmp_path) as server:
        yield server


async def test_client_requests_through_the_pipeline(
    pipeline: Pipeline, callbacks: CallbackCollector, mock_vendor: MockServerProcess
) -> None:
    env = {
        "LLM_PROVIDER_OPENAI_BASE_URL": f"{mock_vendor.base_url}/v1",
        "LLM_PROVIDER_OPENAI_API_KEY": "sk-compat-test",
        "LLM_PROVIDER_OPENAI_COMPATIBLE_BASE_URL": f"{mock_vendor.base_url}/v1",
        "LLM_PROVIDER_API_KEYS": "pipeline-client-key-0123456789",
        "LLM_PROVIDER_ALLOW_ANONYMOUS_JOBS": "true",
        "LLM_PROVIDER_IDEMPOTENCY_FROM": "correlation_id",
        "LLM_PROVIDER_MAX_ATTEMPTS": "2",
    }
    topic = pipeline.callback_topic
    scenarios = {
        "defaults": client_request(callback_topic=topic),
        "reasoning hints": client_request(
            callback_topic=topic, metadata=request_metadata(reasoning_effort="medium", output_verbosity="high")
        ),
        "openai-compatible route": client_request(callback_topic=topic, provider="openai_compatible", model="llama-3"),
        "retried then fine": client_request(
            callback_topic=topic, metadata=request_metadata(mock={"scenario": "overloaded", "fail_attempts": 1})
        ),
        "rate limited throughout": client_request(
            callback_topic=topic, metadata=request_metadata(mock={"scenario": "rate_limited", "fail_attempts": 9})
        ),
        "vendor key refused": client_request(
            callback_topic=topic, metadata=request_metadata(mock={"scenario": "unauthorized"})
        ),
        "broken answers": client_request(
            callback_topic=topic, metadata=request_metadata(mock={"scenario": "malformed"})
        ),
    }
    with pipeline.processes(env) as group:
        api = group.api()
        group.worker()
        queued: dict[str, str] = {}
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30.0) as client:
            for name, body in scenarios.items():
                response = await client.post("/api/v1/comparison", json=body)
                reaction = client_reaction(response.status_code, response.text)
                assert reaction.action == "queued", f"{name}: {response.status_code} {response.text}"
                queued[name] = reaction.detail
            # The client's retry of an accepted request (it saw a 503): the same job, no second callback.
            again = await client.post("/api/v1/comparison", json=scenarios["defaults"])
            assert again.json()["queue_id"] == queued["defaults"]
        await callbacks.wait_for(len(scenarios), timeout_seconds=60)
        events = await callbacks.wait_quiet(quiet_seconds=1.0, timeout_seconds=15)

    audit = audit_callbacks(events, queued.values())  # exactly one per job, each passing the original's parse too
    results = {}
    for name, queue_id in queued.items():
        envelope, result = parse_callback(json.dumps(audit.by_request[queue_id]))
        assert str(envelope.correlation_id) == scenarios[name]["correlation_id"]
        assert {key: result.request_metadata[key] for key in scenarios[name]["metadata"]} == scenarios[name]["metadata"]
        results[name] = result
    assert results["defaults"].provider.value == "openai"
    assert results["defaults"].request_metadata["dropped_params"] == ["temperature_override"]
    assert results["openai-compatible route"].provider.value == "openai"
    assert results["openai-compatible route"].request_metadata["provider_route"] == "openai_compatible"
    assert results["retried then fine"].error_detail is None
    codes = {name: result.error_detail.error_code.value for name, result in results.items() if result.error_detail}
    assert codes == {
        "rate limited throughout": "LLM_PROVIDER_RATE_LIMIT",
        "vendor key refused": "AUTHENTICATION_ERROR",
        "broken answers": "LLM_INVALID_RESPONSE",
    }
    assert str(uuid.UUID(results["defaults"].request_id)) == queued["defaults"]
