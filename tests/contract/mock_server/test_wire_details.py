"""Wire details no SDK checks: control headers, intrinsic time, Gemini's JSON-array stream, bad bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from llm_provider_service.mock import MockEngine, MockProfile
from llm_provider_service.mock.server import serve_mock

pytestmark = pytest.mark.contract

CHAT = {"model": "gpt-5-mini", "messages": [{"role": "user", "content": "hello"}]}


class RecordingSleep:
    """Paces nothing: records the waits the server asked for."""

    def __init__(self) -> None:
        self.waits_seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits_seconds.append(seconds)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def http(sleep: RecordingSleep) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    profile = MockProfile(latency_model="fixed", latency_ms=40)
    async with serve_mock(MockEngine(profile), sleep=sleep) as base_url, aiohttp.ClientSession() as session:
        yield session, base_url


async def test_intrinsic_time_is_the_engines_latency(
    http: tuple[aiohttp.ClientSession, str], sleep: RecordingSleep
) -> None:
    session, base_url = http

    async with session.post(f"{base_url}/v1/chat/completions", json=CHAT) as response:
        assert response.status == 200
        assert response.headers["x-mock-intrinsic-ms"] == "40.000"
    assert sleep.waits_seconds == [0.04]


async def test_a_latency_header_overrides_the_model(http: tuple[aiohttp.ClientSession, str]) -> None:
    session, base_url = http

    async with session.post(
        f"{base_url}/v1/chat/completions", json={**CHAT, "stream": True}, headers={"x-mock-latency-ms": "7"}
    ) as response:
        body = await response.text()

    assert response.headers["x-mock-intrinsic-ms"] == "7.000"
    assert body.endswith("data: [DONE]\n\n")


async def test_fail_attempts_by_header(http: tuple[aiohttp.ClientSession, str]) -> None:
    session, base_url = http
    statuses = []

    for attempt in (1, 2, 3):
        headers = {"x-mock-scenario": "server_error", "x-mock-fail-attempts": "2", "x-mock-attempt": str(attempt)}
        async with session.post(f"{base_url}/v1/chat/completions", json=CHAT, headers=headers) as response:
            statuses.append(response.status)

    assert statuses == [500, 500, 200]


async def test_gemini_stream_without_sse_is_a_json_array(http: tuple[aiohttp.ClientSession, str]) -> None:
    session, base_url = http
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}

    async with session.post(f"{base_url}/v1beta/models/gemini-2.5-flash:streamGenerateContent", json=body) as response:
        payload = await response.json()

    assert isinstance(payload, list)
    assert payload[0]["candidates"][0]["finishReason"] == "STOP"


@pytest.mark.parametrize(
    ("path", "status"),
    [("/v1/chat/completions", 400), ("/v1/messages", 400), ("/v1beta/models/g:generateContent", 400)],
)
async def test_a_body_that_is_not_json_is_the_vendors_bad_request(
    http: tuple[aiohttp.ClientSession, str], path: str, status: int
) -> None:
    session, base_url = http

    async with session.post(f"{base_url}{path}", data=b"{not json") as response:
        assert response.status == status
        assert "error" in await response.json()
        assert response.headers["x-mock-intrinsic-ms"] == "0.000"
