"""`llm-provider mock-server`: the mock engine behind the OpenAI, Anthropic and Gemini wire formats.

Routes: OpenAI `POST /v1/chat/completions` and `POST /v1/embeddings`, Anthropic `POST /v1/messages`, Gemini
`POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent` (`?alt=sse`), `:embedContent` and
`:batchEmbedContents`, and
`GET /v1/models` (Anthropic's shape when an `anthropic-version` header is sent, OpenAI's otherwise) and
`GET /v1beta/models`; `GET /mock/rate-limit` reports the mock's rate limiter (see `mock/rate_limit.py`). The
batch APIs: OpenAI `/v1/files` + `/v1/batches` (`batch_openai.py`), Anthropic `/v1/messages/batches`
(`batch_anthropic.py`), scriptable by headers (`batch_store.py`).
Per-request headers: `x-mock-scenario`, `x-mock-latency-ms`, `x-mock-fail-attempts`, `x-mock-tool-call`
(see `mock/tool_calls.py`), `x-mock-attempt` and `x-mock-request-key` (the key faults and latency derive
from; the prompt's digest without it). Every answer carries `x-mock-intrinsic-ms`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from llm_provider_service.mock import (
    anthropic_wire,
    batch_anthropic,
    batch_openai,
    embeddings_wire,
    gemini_wire,
    openai_wire,
)
from llm_provider_service.mock.batch_store import MockBatches
from llm_provider_service.mock.engine import MockEngine
from llm_provider_service.mock.wire import STATE_KEY, MockServerState, Sleep, on_response_prepare

logger = logging.getLogger(__name__)

DEFAULT_MODELS: tuple[str, ...] = ("mock-comparison-v1",)
_MAX_BODY_BYTES = 32 * 1024 * 1024


async def _rate_limit_stats(request: web.Request) -> web.Response:
    """`GET /mock/rate-limit`: what the mock's limiter saw (for load tests proving the limit held)."""
    limiter = request.app[STATE_KEY].engine.rate_limiter
    body = {
        "requests_per_window": limiter.requests_per_window,
        "tokens_per_window": limiter.tokens_per_window,
        "window_seconds": limiter.window_seconds,
        **limiter.stats.as_dict(),
    }
    return web.json_response(body)


async def _gemini_model_method(request: web.Request) -> web.StreamResponse:
    """`models/{model}:{method}`: the colon is not a path separator, so one route serves every method."""
    method = request.match_info["target"].partition(":")[2]
    if method in ("embedContent", "batchEmbedContents"):
        return await embeddings_wire.gemini_embed(request, method)
    return await gemini_wire.generate(request)


async def _models(request: web.Request) -> web.Response:
    if "anthropic-version" in request.headers:
        return await anthropic_wire.list_models(request)
    return await openai_wire.list_models(request)


def create_mock_app(
    engine: MockEngine,
    *,
    sleep: Sleep = asyncio.sleep,
    models: Sequence[str] = DEFAULT_MODELS,
    received: list[tuple[str, dict[str, Any]]] | None = None,
    batches: MockBatches | None = None,
) -> web.Application:
    """The mock server as an aiohttp application; `sleep` paces latency (inject a fake in tests);
    `received`, when given, collects every request body as (path, body); `batches` holds the batch APIs'
    state (pass one to script its clock or look inside)."""
    app = web.Application(client_max_size=_MAX_BODY_BYTES)
    app[STATE_KEY] = MockServerState(engine=engine, sleep=sleep, models=tuple(models), received=received)
    app.on_response_prepare.append(on_response_prepare)
    app.router.add_post("/v1/chat/completions", openai_wire.chat_completions)
    app.router.add_get("/v1/models", _models)
    app.router.add_post("/v1/messages", anthropic_wire.messages)
    app.router.add_post("/v1/embeddings", embeddings_wire.openai_embeddings)
    for version in ("v1beta", "v1"):
        app.router.add_post(f"/{version}/models/{{target}}", _gemini_model_method)
    app.router.add_get("/v1beta/models", gemini_wire.list_models)
    app.router.add_get("/mock/rate-limit", _rate_limit_stats)
    batch_openai.add_routes(app, batches or MockBatches(engine))
    batch_anthropic.add_routes(app)
    return app


def run_mock_server(
    engine: MockEngine, host: str = "127.0.0.1", port: int = 8090, *, models: Sequence[str] = DEFAULT_MODELS
) -> None:
    """Serve until interrupted (SIGINT/SIGTERM); blocking, for the CLI. No access log: it costs throughput."""
    logger.info("mock server listening on http://%s:%d", host, port)
    web.run_app(create_mock_app(engine, models=models), host=host, port=port, access_log=None, print=None)


@asynccontextmanager
async def serve_mock(
    engine: MockEngine,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    sleep: Sleep = asyncio.sleep,
    models: Sequence[str] = DEFAULT_MODELS,
    received: list[tuple[str, dict[str, Any]]] | None = None,
    batches: MockBatches | None = None,
) -> AsyncIterator[str]:
    """Run the mock server in this event loop and yield its base URL; port 0 picks a free port."""
    app = create_mock_app(engine, sleep=sleep, models=models, received=received, batches=batches)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound_port = runner.addresses[0][1]
        yield f"http://{host}:{bound_port}"
    finally:
        await runner.cleanup()
