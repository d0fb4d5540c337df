"""The original client against real `llm-provider serve`: its requests, its status handling, its callback parse.

The service runs on embedded defaults with the OpenAI adapter pointed at `llm-provider mock-server`, so the
client's default route (`openai` / `gpt-5.1`, temperature 0.1) is exercised end to end; callbacks are read from
the JSONL event file and parsed with the original's models.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.compat.client_reaction import client_reaction
from tests.compat.client_requests import CALLBACK_TOPIC, client_request, request_metadata
from tests.compat.mock_server_process import MockServerProcess
from tests.compat.original_models import LLMComparisonResultV1, parse_callback
from tests.e2e.service_process import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.compat]

CLIENT_KEY = "compat-client-key-0123456789"
THREE_MIB = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def mock_vendor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServerProcess]:
    with MockServerProcess(tmp_path_factory.mktemp("mock-vendor")) as server:
        yield server


def _service_env(mock_vendor: MockServerProcess, **extra: str) -> dict[str, str]:
    return {
        "LLM_PROVIDER_OPENAI_BASE_URL": f"{mock_vendor.base_url}/v1",
        "LLM_PROVIDER_OPENAI_API_KEY": "sk-compat-test",
        "LLM_PROVIDER_ANTHROPIC_BASE_URL": mock_vendor.base_url,
        "LLM_PROVIDER_ANTHROPIC_API_KEY": "sk-ant-compat-test",
        "LLM_PROVIDER_GEMINI_BASE_URL": mock_vendor.base_url,
        "LLM_PROVIDER_GEMINI_API_KEY": "gemini-compat-test",
        "LLM_PROVIDER_OPENROUTER_BASE_URL": f"{mock_vendor.base_url}/v1",
        "LLM_PROVIDER_OPENROUTER_API_KEY": "sk-or-compat-test",
        "LLM_PROVIDER_API_KEYS": CLIENT_KEY,
        "LLM_PROVIDER_MAX_ATTEMPTS": "1",
        **extra,
    }


def _post(base_url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    # As the client does: JSON body, Content-Type set, no Authorization header.
    with httpx.Client(base_url=base_url, timeout=60) as client:
        return client.post(
            "/api/v1/comparison", json=body, headers={"Content-Type": "application/json", **(headers or {})}
        )


def _callbacks(data_dir: Path, expected: set[str], timeout_seconds: float = 30.0) -> dict[str, LLMComparisonResultV1]:
    """Each queue id's callback, parsed the way the client parses it."""
    found: dict[str, LLMComparisonResultV1] = {}
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline and set(found) != expected:
        path = data_dir / "events.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        for line in lines:
            event = json.loads(line)
            if event["topic"] == CALLBACK_TOPIC:
                _, result = parse_callback(json.dumps(event["value"]))
                found[result.request_id] = result
        time.sleep(0.1)
    assert set(found) == expected, f"missing callbacks: {expected - set(found)}"
    return found


def test_the_clients_requests_are_queued_and_every_callback_parses(
    tmp_path: Path, mock_vendor: MockServerProcess
) -> None:
    env = _service_env(mock_vendor, LLM_PROVIDER_ALLOW_ANONYMOUS_JOBS="true")
    bodies = {
        "defaults with prompt blocks": client_request(),
        "no prompt blocks": client_request(blocks=[]),
        "reasoning hints from metadata": client_request(
            metadata=request_metadata(reasoning_effort="low", output_verbosity="low")
        ),
        "system prompt override": client_request(system_prompt="You are a CJ judge."),
        "dated snapshot": client_request(model="gpt-4.1-2025-04-14", temperature=0.3),
        "unpriced model id": client_request(model="gpt-9-preview"),
        "mock provider": client_request(provider="mock", model="claude-3-haiku"),
        "anthropic": client_request(provider="anthropic", model="claude-sonnet-4-5-20250929"),
        "google": client_request(provider="google", model="gemini-2.5-flash"),
        "openrouter": client_request(provider="openrouter", model="anthropic/claude-haiku-4-5-20251001"),
        "vendor refuses (401)": client_request(metadata=request_metadata(mock={"scenario": "unauthorized"})),
        "vendor overloaded": client_request(metadata=request_metadata(mock={"scenario": "overloaded"})),
        "vendor rate limit": client_request(metadata=request_metadata(mock={"scenario": "rate_limited"})),
        "vendor server error": client_request(metadata=request_metadata(mock={"scenario": "server_error"})),
        "schema-breaking answer": client_request(metadata=request_metadata(mock={"scenario": "invalid_output"})),
    }
    with ServiceProcess(tmp_path, env=env) as service:
        queued: dict[str, str] = {}
        for name, body in bodies.items():
            response = _post(service.base_url, body)
            reaction = client_reaction(response.status_code, response.text)
            assert reaction.action == "queued", f"{name}: {response.status_code} {response.text}"
            assert isinstance(response.json()["estimated_wait_minutes"], int)
            queued[name] = reaction.detail
        results = _callbacks(tmp_path, set(queued.values()))

    by_name = {name: results[queue_id] for name, queue_id in queued.items()}
    defaults = by_name["defaults with prompt blocks"]
    assert (defaults.provider.value, defaults.model, defaults.error_detail) == ("openai", "gpt-5.1", None)
    assert defaults.request_metadata["dropped_params"] == ["temperature_override"]  # GPT-5 takes no temperature
    assert defaults.request_metadata["cost_known"] is True
    assert defaults.cost_estimate > 0
    assert "dropped_params" not in by_name["dated snapshot"].request_metadata
    assert by_name["unpriced model id"].request_metadata["cost_known"] is False
    assert by_name["unpriced model id"].cost_estimate == 0
    for provider in ("anthropic", "google", "openrouter"):
        assert (by_name[provider].provider.value, by_name[provider].error_detail) == (provider, None), provider
        assert by_name[provider].cost_estimate > 0, provider
    assert by_name["mock provider"].provider.value == "mock"
    for name, body in bodies.items():
        metadata = by_name[name].request_metadata
        assert {key: metadata[key] for key in body["metadata"]} == body["metadata"], name
        assert not {"mock_intrinsic_ms", "mock_scenario", "response_id"} & set(metadata), name
    errors = {name: result.error_detail for name, result in by_name.items() if result.error_detail is not None}
    assert {name: detail.error_code.value for name, detail in errors.items()} == {
        "vendor refuses (401)": "AUTHENTICATION_ERROR",
        "vendor overloaded": "LLM_PROVIDER_UNAVAILABLE",
        "vendor rate limit": "LLM_PROVIDER_RATE_LIMIT",
        "vendor server error": "LLM_PROVIDER_API_ERROR",
        "schema-breaking answer": "LLM_INVALID_RESPONSE",
    }


def test_the_clients_status_handling(tmp_path: Path, mock_vendor: MockServerProcess) -> None:
    """400, 401, 413 and 503 answers, each read and classified as the client's branches do."""
    env = _service_env(mock_vendor, LLM_PROVIDER_QUEUE_CAPACITY="1")
    with ServiceProcess(tmp_path, "--no-worker", env=env) as service:
        bad = _post(service.base_url, {**client_request(), "priority": 99}, {"Authorization": f"Bearer {CLIENT_KEY}"})
        assert bad.status_code == 400
        assert bad.json()["is_retryable"] is False
        assert client_reaction(bad.status_code, bad.text).action == "raise"

        anonymous = _post(service.base_url, client_request())
        assert anonymous.status_code == 401
        assert client_reaction(anonymous.status_code, anonymous.text).detail.startswith("authentication")

        authorised = {"Authorization": f"Bearer {CLIENT_KEY}"}
        assert _post(service.base_url, client_request(), headers=authorised).status_code == 202
        full = _post(service.base_url, client_request(), headers=authorised)
        assert full.status_code == 503
        assert full.headers["retry-after"]
        assert full.json()["is_retryable"] is True
        assert client_reaction(full.status_code, full.text).action == "retry"

        status, text = _post_blocking(service.port, THREE_MIB)
        assert status == 413, text
        assert client_reaction(status, text).action == "raise"  # not a reset the client would retry forever


def _post_blocking(port: int, body_bytes: int) -> tuple[int, str]:
    """A plain blocking client: sends the whole oversized body first, then reads the answer."""
    padding = "x" * body_bytes
    body = json.dumps({**client_request(), "user_prompt": padding}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/api/v1/comparison", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_an_oversized_body_gets_its_413_on_a_raw_socket(tmp_path: Path) -> None:
    """Repeated, since a reset is a race: every one of ten 3 MiB posts reads the 413 (none resets)."""
    with ServiceProcess(tmp_path, "--no-worker") as service:
        for attempt in range(10):
            status, text = _post_raw_socket(service.port, THREE_MIB)
            assert status == 413, f"attempt {attempt}: {text[:200]}"
            assert json.loads(text.split("\r\n\r\n", 1)[1])["code"] == "payload_too_large"


def _post_raw_socket(port: int, body_bytes: int) -> tuple[int, str]:
    body = b'{"user_prompt": "' + b"x" * body_bytes + b'"}'
    head = (
        f"POST /api/v1/comparison HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    text = b"".join(chunks).decode()
    return int(text.split(" ", 2)[1]), text


def test_correlation_id_keys_make_a_retry_exactly_once(tmp_path: Path, mock_vendor: MockServerProcess) -> None:
    env = _service_env(
        mock_vendor, LLM_PROVIDER_ALLOW_ANONYMOUS_JOBS="true", LLM_PROVIDER_IDEMPOTENCY_FROM="correlation_id"
    )
    body = client_request(correlation_id=uuid.uuid4())
    with ServiceProcess(tmp_path, env=env) as service:
        first = _post(service.base_url, body).json()["queue_id"]
        again = _post(service.base_url, body).json()["queue_id"]  # the client's retry after a 503
        assert again == first
        _callbacks(tmp_path, {first})
