"""Every kind of vendor call reports the rate-limit headers it saw while a caller observes (batch calls too)."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from llm_provider_service.domain.errors import ProviderError
from llm_provider_service.domain.rate_limits import Dimension, observing_rate_limits
from llm_provider_service.providers.http_client import VendorTransport, open_http_session

LIMITS = {"x-ratelimit-limit-requests": "50", "x-ratelimit-remaining-requests": "0",
          "x-ratelimit-reset-requests": "20s"}  # fmt: skip


async def _batch(request: web.Request) -> web.Response:
    if request.match_info["batch_id"] == "limited":
        return web.json_response(
            {"error": {"message": "slow down"}}, status=429, headers={**LIMITS, "retry-after": "3"}
        )
    return web.json_response({"id": "b-1", "status": "in_progress"}, headers=LIMITS)


async def test_batch_api_calls_report_their_rate_limit_headers() -> None:
    app = web.Application()
    app.router.add_get("/v1/batches/{batch_id}", _batch)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with open_http_session(timeout_seconds=5.0, connect_timeout_seconds=2.0) as session:
            transport = VendorTransport(session, provider="openai", base_url=str(server.make_url("/v1")), headers={})
            with observing_rate_limits() as seen:
                await transport.request_json("GET", "/batches/b-1")
            with observing_rate_limits() as refused, pytest.raises(ProviderError):
                await transport.request_json("GET", "/batches/limited")
            await transport.request_json("GET", "/batches/b-1")  # nobody observing: nothing parsed, no error
    finally:
        await server.close()

    assert seen.last is not None
    reading = seen.last.readings[Dimension.REQUESTS]
    assert (reading.limit, reading.remaining, reading.reset_seconds) == (50, 0, 20.0)
    assert refused.last is not None
    assert refused.last.rate_limited
    assert refused.last.retry_after_seconds == 3.0
