"""A local aiohttp server that answers vendor calls with scripted, recorded vendor bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from llm_provider_service.providers.http_client import VendorTransport, open_http_session


@dataclass
class ScriptedAnswer:
    """One answer: a JSON body, raw bytes, or SSE events; `hang` never answers (for timeouts)."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    sse: list[str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    hang: bool = False


@dataclass
class RecordedRequest:
    path: str
    query: str
    headers: Mapping[str, str]
    body: dict[str, Any]


class ScriptedVendor:
    """Answers every POST with the next scripted answer and records what it received."""

    def __init__(self) -> None:
        self.answers: list[ScriptedAnswer] = []
        self.requests: list[RecordedRequest] = []
        self._never = asyncio.Event()

    def script(self, *answers: ScriptedAnswer) -> None:
        self.answers.extend(answers)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        self.requests.append(RecordedRequest(request.path, request.query_string, dict(request.headers), payload))
        answer = self.answers.pop(0)
        if answer.hang:
            await self._never.wait()
        if answer.sse is not None:
            response = web.StreamResponse(status=answer.status, headers={"content-type": "text/event-stream"})
            await response.prepare(request)
            for chunk in answer.sse:
                await response.write(chunk.encode())
            await response.write_eof()
            return response
        raw = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
        return web.Response(
            status=answer.status, body=raw, headers={"content-type": "application/json", **answer.headers}
        )

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]


def sse_events(*payloads: Any, event_names: list[str] | None = None, done: bool = False) -> list[str]:
    """Encode payloads as SSE frames, optionally named, optionally ending with OpenAI's [DONE]."""
    frames = []
    for index, payload in enumerate(payloads):
        name = f"event: {event_names[index]}\n" if event_names else ""
        frames.append(f"{name}data: {json.dumps(payload)}\n\n")
    if done:
        frames.append("data: [DONE]\n\n")
    return frames


@asynccontextmanager
async def vendor_session(
    timeout_seconds: float = 10.0,
) -> AsyncIterator[tuple[ScriptedVendor, str, aiohttp.ClientSession]]:
    """A running scripted vendor, its base URL and a shared client session."""
    vendor = ScriptedVendor()
    app = web.Application()
    app.router.add_post("/{tail:.*}", vendor.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with open_http_session(timeout_seconds=timeout_seconds, connect_timeout_seconds=5.0) as session:
            yield vendor, str(server.make_url("")).rstrip("/"), session
    finally:
        await server.close()


def transport(session: aiohttp.ClientSession, base_url: str, provider: str) -> VendorTransport:
    return VendorTransport(session, provider=provider, base_url=base_url, headers={"authorization": "Bearer k"})
