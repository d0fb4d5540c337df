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
from llm_provider_service.mock.tool_calls import ToolPlan, argument_pieces, call_arguments
from llm_provider_service.mock.wire import (
    INVALID_REQUEST,
    AnswerShape,
    WireRequestError,
    decide,
    json_response,
    open_sse,
    paced_chunks,
    read_json,
    state_of,
    stop_sequences,
    text_of,
    tool_plan,
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
    tool: ToolPlan | None
    stream: bool
    shape: AnswerShape

    @property
    def schema(self) -> Mapping[str, Any] | None:
        return self.tool.schema if self.tool is not None else None


def _parse(request: web.Request, body: Mapping[str, Any]) -> _MessagesRequest:
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
    blocks = [block for message in messages if isinstance(message, dict) for block in _blocks(message)]
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    after_tool = any(block.get("type") == "tool_result" for block in _blocks(last))
    tool = _tool(request, body, after_tool_result=after_tool)
    return _MessagesRequest(
        model=str(body.get("model") or "mock-comparison-v1"),
        prompt="\n\n".join(parts),
        tool=tool,
        stream=bool(body.get("stream")),
        shape=AnswerShape(
            stop=stop_sequences(body.get("stop_sequences")) if tool is None else (),
            images=sum(1 for block in blocks if block.get("type") == "image"),
        ),
    )


def _blocks(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    return [block for block in content if isinstance(block, dict)] if isinstance(content, list) else []


def _tool(request: web.Request, body: Mapping[str, Any], *, after_tool_result: bool) -> ToolPlan | None:
    """The tool to call: scripted (`x-mock-tool-call`), or forced by `tool_choice` any/tool."""
    tools = {
        str(tool.get("name")): tool.get("input_schema") for tool in body.get("tools") or [] if isinstance(tool, dict)
    }
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "none":
        return None
    forced = None
    if choice.get("type") == "tool":
        forced = str(choice.get("name"))
    elif choice.get("type") == "any":
        forced = ""
    return tool_plan(request, tools, forced=forced, after_tool_result=after_tool_result)


def _content_block(request: _MessagesRequest, result: MockResult, tool_id: str) -> dict[str, Any]:
    """A tool_use block for a tool call; malformed output is a text block instead (the tool block is missing)."""
    if request.tool is None or result.outcome == FaultKind.MALFORMED:
        return {"type": "text", "text": result.text}
    tool_input = call_arguments(request.tool, result.structured)
    return {"type": "tool_use", "id": tool_id, "name": request.tool.name, "input": tool_input}


def _stop(block: dict[str, Any], result: MockResult) -> tuple[str, str | None]:
    """(stop_reason, stop_sequence) as Anthropic reports them."""
    if block["type"] == "tool_use":
        return "tool_use", None
    if result.stop_sequence is not None:
        return "stop_sequence", result.stop_sequence
    return "end_turn", None


def _usage(result: MockResult, *, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": result.prompt_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


async def messages(request: web.Request) -> web.StreamResponse:
    try:
        parsed = _parse(request, await read_json(request))
    except WireRequestError as exc:
        return render_error(INVALID_REQUEST, str(exc), None)
    outcome = await decide(request, parsed.prompt, parsed.schema, render_error, parsed.shape)
    if not isinstance(outcome, MockResult):
        return outcome
    message_id = f"msg_{uuid.uuid4().hex[:24]}"
    block = _content_block(parsed, outcome, f"toolu_{uuid.uuid4().hex[:24]}")
    stop_reason, stop_sequence = _stop(block, outcome)
    if parsed.stream:
        return await _stream(request, parsed, outcome, message_id, block, (stop_reason, stop_sequence))
    await wait_for_answer(request, outcome)
    return json_response(
        {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": parsed.model,
            "content": [block],
            "stop_reason": stop_reason,
            "stop_sequence": stop_sequence,
            "usage": _usage(outcome, output_tokens=outcome.completion_tokens),
        }
    )


async def _stream(
    request: web.Request,
    parsed: _MessagesRequest,
    result: MockResult,
    message_id: str,
    block: dict[str, Any],
    stop: tuple[str, str | None],
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
    chunks = argument_pieces(text) if is_tool else result.chunks
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
            "delta": {"stop_reason": stop[0], "stop_sequence": stop[1]},
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
