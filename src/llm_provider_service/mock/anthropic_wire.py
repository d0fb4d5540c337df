"""Anthropic Messages wire format of the mock server: `/v1/messages` (tool use, SSE) and `/v1/models`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from llm_provider_service.mock.engine import MockResult
from llm_provider_service.mock.profile import FaultKind
from llm_provider_service.mock.wire import (
    INVALID_REQUEST,
    WireRequestError,
    decide,
    json_response,
    open_sse,
    paced_chunks,
    read_json,
    state_of,
    text_of,
    wait_for_answer,
)

# outcome -> (status, error.type, message), as Anthropic sends them.
_ERRORS: dict[str, tuple[int, str, str]] = {
    "rate_limited": (429, "rate_limit_error", "Number of requests has exceeded your rate limit."),
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "server_error": (500, "api_error", "Internal server error"),
    "timeout": (504, "timeout_error", "Request timeout"),
    "unauthorized": (401, "authentication_error", "invalid x-api-key"),
    INVALID_REQUEST: (400, "invalid_request_error", ""),
}


def render_error(outcome: str, message: str, result: MockResult | None) -> web.Response:
    status, kind, canned = _ERRORS[outcome]
    request_id = f"req_{uuid.uuid4().hex[:24]}"
    headers = {"request-id": request_id}
    if result is not None and result.retry_after_seconds is not None:
        headers["retry-after"] = f"{result.retry_after_seconds:g}"
    body = {"type": "error", "error": {"type": kind, "message": canned or message}, "request_id": request_id}
    return json_response(body, status=status, headers=headers)


@dataclass(frozen=True, slots=True)
class _MessagesRequest:
    model: str
    prompt: str
    tool_name: str | None
    schema: Mapping[str, Any] | None
    stream: bool


def _parse(body: Mapping[str, Any]) -> _MessagesRequest:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireRequestError("messages: at least one message is required")
    if not isinstance(body.get("max_tokens"), int):
        raise WireRequestError("max_tokens: Field required")
    parts = [f"system: {text_of(body['system'])}"] if body.get("system") else []
    parts.extend(
        f"{message.get('role', 'user')}: {text_of(message.get('content'))}"
        for message in messages
        if isinstance(message, dict)
    )
    tool = _forced_tool(body)
    return _MessagesRequest(
        model=str(body.get("model") or "mock-comparison-v1"),
        prompt="\n\n".join(parts),
        tool_name=str(tool["name"]) if tool is not None else None,
        schema=(tool.get("input_schema") or {"type": "object", "properties": {}}) if tool is not None else None,
        stream=bool(body.get("stream")),
    )


def _forced_tool(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    tools = [tool for tool in body.get("tools") or [] if isinstance(tool, dict)]
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        tool = next((tool for tool in tools if tool.get("name") == choice.get("name")), None)
        if tool is None:
            raise WireRequestError(f"tool_choice: unknown tool {choice.get('name')!r}")
        return tool
    if choice.get("type") == "any" and tools:
        return tools[0]
    return None


def _content_block(request: _MessagesRequest, result: MockResult, tool_id: str) -> dict[str, Any]:
    """A tool_use block for a forced tool; malformed output is a text block instead (the tool block is missing)."""
    if request.tool_name is None or result.outcome == FaultKind.MALFORMED:
        return {"type": "text", "text": result.text}
    tool_input = result.structured if isinstance(result.structured, Mapping) else {}
    return {"type": "tool_use", "id": tool_id, "name": request.tool_name, "input": tool_input}


def _usage(result: MockResult, *, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": result.prompt_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


async def messages(request: web.Request) -> web.StreamResponse:
    try:
        parsed = _parse(await read_json(request))
    except WireRequestError as exc:
        return render_error(INVALID_REQUEST, str(exc), None)
    outcome = await decide(request, parsed.prompt, parsed.schema, render_error)
    if not isinstance(outcome, MockResult):
        return outcome
    message_id = f"msg_{uuid.uuid4().hex[:24]}"
    block = _content_block(parsed, outcome, f"toolu_{uuid.uuid4().hex[:24]}")
    stop_reason = "tool_use" if block["type"] == "tool_use" else "end_turn"
    if parsed.stream:
        return await _stream(request, parsed, outcome, message_id, block, stop_reason)
    await wait_for_answer(request, outcome)
    return json_response(
        {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": parsed.model,
            "content": [block],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": _usage(outcome, output_tokens=outcome.completion_tokens),
        }
    )


async def _stream(
    request: web.Request,
    parsed: _MessagesRequest,
    result: MockResult,
    message_id: str,
    block: dict[str, Any],
    stop_reason: str,
) -> web.StreamResponse:
    response = await open_sse(request)

    async def send(event: str, data: dict[str, Any]) -> None:
        await response.write(b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n")

    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": parsed.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(result, output_tokens=1),
    }
    await send("message_start", {"type": "message_start", "message": message})
    is_tool = block["type"] == "tool_use"
    start_block = {**block, "input": {}} if is_tool else {"type": "text", "text": ""}
    await send("content_block_start", {"type": "content_block_start", "index": 0, "content_block": start_block})
    await send("ping", {"type": "ping"})
    # A tool's input streams as JSON text of the final input; plain text streams as it is.
    text = orjson.dumps(block["input"]).decode() if is_tool else result.text
    chunks = result.chunks if not is_tool or text == result.text else (text,)
    async for _, piece in paced_chunks(request, result, chunks):
        delta = (
            {"type": "input_json_delta", "partial_json": piece} if is_tool else {"type": "text_delta", "text": piece}
        )
        await send("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
    await send("content_block_stop", {"type": "content_block_stop", "index": 0})
    await send(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": result.completion_tokens},
        },
    )
    await send("message_stop", {"type": "message_stop"})
    await response.write_eof()
    return response


async def list_models(request: web.Request) -> web.Response:
    models = state_of(request).models
    data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in models]
    return json_response(
        {
            "data": data,
            "has_more": False,
            "first_id": models[0] if models else None,
            "last_id": models[-1] if models else None,
        }
    )
