"""Plumbing shared by the mock server's wire formats: request reading, control headers, pacing and SSE."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from llm_provider_service.domain.errors import RequestValidationError
from llm_provider_service.domain.models import MOCK_INTRINSIC_MS_KEY
from llm_provider_service.mock.control import (
    ATTEMPT_HEADER,
    INTRINSIC_HEADER,
    REQUEST_KEY_HEADER,
    TOOL_CALL_HEADER,
    control_from_headers,
)
from llm_provider_service.mock.engine import MockCall, MockEngine, MockResult
from llm_provider_service.mock.rate_limit import RateLimitDecision
from llm_provider_service.mock.tool_calls import ToolCallScriptError, ToolPlan, plan_tool_call

Sleep = Callable[[float], Awaitable[None]]
# Renders one vendor's error: (outcome or "invalid_request", message, result or None) -> HTTP response.
ErrorRenderer = Callable[[str, str, MockResult | None], web.Response]

INVALID_REQUEST = "invalid_request"


@dataclass(frozen=True, slots=True)
class MockServerState:
    """What every handler needs: the engine, the sleep to pace with, and the model ids to list."""

    engine: MockEngine
    sleep: Sleep = asyncio.sleep
    models: tuple[str, ...] = ("mock-comparison-v1",)
    # When set, every decoded request body is appended as (path, body): tests read what an adapter sent.
    received: list[tuple[str, dict[str, Any]]] | None = None


STATE_KEY = web.AppKey("mock_server_state", MockServerState)
_INTRINSIC_KEY = web.RequestKey(MOCK_INTRINSIC_MS_KEY, float)
_RATE_LIMIT_KEY = web.RequestKey("mock_rate_limit", RateLimitDecision)


class WireRequestError(Exception):
    """The request cannot be answered (bad JSON, bad control header); rendered as the vendor's 400."""


def state_of(request: web.Request) -> MockServerState:
    return request.app[STATE_KEY]


async def read_json(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise WireRequestError("the request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise WireRequestError("the request body must be a JSON object")
    received = state_of(request).received
    if received is not None:
        received.append((request.path, body))
    return body


def json_response(body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, headers=headers, content_type="application/json")


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or a list of parts/blocks with `text` fields."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


@dataclass(frozen=True, slots=True)
class AnswerShape:
    """What the answer must respect beyond the prompt: stop sequences, images read, how many choices."""

    stop: tuple[str, ...] = ()
    images: int = 0
    choices: int = 1


def scripted_tool_call(request: web.Request) -> str | None:
    """The `x-mock-tool-call` header (a tool name or a JSON object), if sent."""
    raw = request.headers.get(TOOL_CALL_HEADER)
    return raw.strip() if raw and raw.strip() else None


def tool_plan(
    request: web.Request,
    tools: Mapping[str, Mapping[str, Any] | None],
    *,
    forced: str | None,
    after_tool_result: bool,
) -> ToolPlan | None:
    """The tool call the mock makes for this request (see `mock/tool_calls.py`); `WireRequestError` if bad."""
    try:
        return plan_tool_call(
            tools, forced=forced, scripted=scripted_tool_call(request), after_tool_result=after_tool_result
        )
    except ToolCallScriptError as exc:
        raise WireRequestError(str(exc)) from exc


def stop_sequences(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


async def decide(
    request: web.Request,
    prompt: str,
    schema: Mapping[str, Any] | None,
    render_error: ErrorRenderer,
    shape: AnswerShape = AnswerShape(),
) -> MockResult | web.Response:
    """Ask the engine, wait out the latency, and render an error fault; an answering result is returned."""
    state = state_of(request)
    try:
        call = _call(request, prompt, schema, shape)
    except WireRequestError as exc:
        return render_error(INVALID_REQUEST, str(exc), None)
    result = state.engine.respond(call)
    request[_INTRINSIC_KEY] = result.intrinsic_ms
    if result.rate_limit is not None:
        request[_RATE_LIMIT_KEY] = result.rate_limit
    await wait_ms(state, result.latency_ms)
    if result.has_answer:
        return result
    return render_error(result.outcome, f"mock: {result.outcome.replace('_', ' ')}", result)


def _call(request: web.Request, prompt: str, schema: Mapping[str, Any] | None, shape: AnswerShape) -> MockCall:
    headers = request.headers
    try:
        control = control_from_headers(headers)
        attempt = int(headers.get(ATTEMPT_HEADER, "1"))
    except (RequestValidationError, ValueError) as exc:
        raise WireRequestError(str(exc)) from exc
    return MockCall(
        prompt=prompt,
        key=headers.get(REQUEST_KEY_HEADER, ""),
        attempt=max(attempt, 1),
        schema=schema,
        control=control,
        stop=shape.stop,
        images=shape.images,
        choices=max(shape.choices, 1),
    )


async def wait_ms(state: MockServerState, milliseconds: float) -> None:
    if milliseconds > 0:
        await state.sleep(milliseconds / 1000.0)


async def wait_for_answer(request: web.Request, result: MockResult) -> None:
    """A non-streaming answer takes as long as its stream would have (TTFT plus inter-token pace)."""
    await wait_ms(state_of(request), result.intrinsic_ms - result.latency_ms)


async def paced_chunks(
    request: web.Request, result: MockResult, chunks: tuple[str, ...] | None = None
) -> AsyncIterator[tuple[int, str]]:
    """The answer's chunks (or these) with their index: TTFT before the first, the inter-token pace between."""
    state = state_of(request)
    await wait_ms(state, result.ttft_ms)
    for index, chunk in enumerate(result.chunks if chunks is None else chunks):
        if index:
            await wait_ms(state, result.inter_token_ms)
        yield index, chunk


async def open_sse(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Connection": "keep-alive"}
    )
    await response.prepare(request)
    return response


async def on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer, error or not, carries the mock's intrinsic time (0 when nothing was decided)."""
    intrinsic_ms = request.get(_INTRINSIC_KEY, 0.0)
    response.headers[INTRINSIC_HEADER] = f"{intrinsic_ms:.3f}"
    decision = request.get(_RATE_LIMIT_KEY)
    if decision is not None:
        # The vendor's own rate-limit headers on every answer, refused or not (Anthropic's on its route).
        anthropic = request.path.startswith("/v1/messages")
        response.headers.update(decision.anthropic_headers() if anthropic else decision.openai_headers())
