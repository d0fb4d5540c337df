"""OpenAI Chat Completions wire format of the mock server: `/v1/chat/completions` and `/v1/models`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from llm_provider_service.mock.engine import MockResult
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

# outcome -> (status, error.type, error.code, message), as OpenAI sends them.
_ERRORS: dict[str, tuple[int, str, str | None, str]] = {
    "rate_limited": (429, "requests", "rate_limit_exceeded", "Rate limit reached for requests. Try again in 1s."),
    "overloaded": (503, "server_error", "overloaded", "The server is overloaded or not ready yet."),
    "server_error": (500, "server_error", None, "The server had an error while processing your request."),
    "timeout": (504, "server_error", "timeout", "The server timed out while processing your request."),
    "unauthorized": (401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    INVALID_REQUEST: (400, "invalid_request_error", None, ""),
}
_JSON_OBJECT_SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def render_error(outcome: str, message: str, result: MockResult | None) -> web.Response:
    status, kind, code, canned = _ERRORS[outcome]
    headers = {}
    if result is not None and result.retry_after_seconds is not None:
        headers["retry-after"] = f"{result.retry_after_seconds:g}"
        headers["x-ratelimit-reset-requests"] = f"{result.retry_after_seconds:g}s"
    body = {"error": {"message": canned or message, "type": kind, "param": None, "code": code}}
    return json_response(body, status=status, headers=headers)


@dataclass(frozen=True, slots=True)
class _ChatRequest:
    model: str
    prompt: str
    schema: Mapping[str, Any] | None
    tool_name: str | None
    stream: bool
    include_usage: bool


def _parse(body: Mapping[str, Any]) -> _ChatRequest:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireRequestError("'messages' must be a non-empty array")
    prompt = "\n\n".join(
        f"{message.get('role', 'user')}: {text_of(message.get('content'))}"
        for message in messages
        if isinstance(message, dict)
    )
    schema, tool_name = _schema(body)
    stream_options = body.get("stream_options") or {}
    return _ChatRequest(
        model=str(body.get("model") or "mock-comparison-v1"),
        prompt=prompt,
        schema=schema,
        tool_name=tool_name,
        stream=bool(body.get("stream")),
        include_usage=bool(stream_options.get("include_usage")),
    )


def _schema(body: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, str | None]:
    """The schema the answer must follow and, when a tool is forced, that tool's name."""
    tools = [tool.get("function", {}) for tool in body.get("tools") or [] if isinstance(tool, dict)]
    choice = body.get("tool_choice")
    forced: Mapping[str, Any] | None = None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        forced = next((tool for tool in tools if tool.get("name") == name), None)
        if forced is None:
            raise WireRequestError(f"tool_choice names an unknown function {name!r}")
    elif choice == "required" and tools:
        forced = tools[0]
    if forced is not None:
        return forced.get("parameters") or {"type": "object", "properties": {}}, str(forced.get("name"))
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema") or _JSON_OBJECT_SCHEMA, None
    if response_format.get("type") == "json_object":
        return _JSON_OBJECT_SCHEMA, None
    return None, None


def _usage(result: MockResult) -> dict[str, Any]:
    return {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "total_tokens": result.prompt_tokens + result.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _message(chat: _ChatRequest, result: MockResult, call_id: str) -> dict[str, Any]:
    if chat.tool_name is None:
        return {"role": "assistant", "content": result.text, "refusal": None}
    call = {"id": call_id, "type": "function", "function": {"name": chat.tool_name, "arguments": result.text}}
    return {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}


async def chat_completions(request: web.Request) -> web.StreamResponse:
    try:
        chat = _parse(await read_json(request))
    except WireRequestError as exc:
        return render_error(INVALID_REQUEST, str(exc), None)
    outcome = await decide(request, chat.prompt, chat.schema, render_error)
    if not isinstance(outcome, MockResult):
        return outcome
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    call_id = f"call_{uuid.uuid4().hex[:24]}"
    if chat.stream:
        return await _stream(request, chat, outcome, completion_id, call_id)
    await wait_for_answer(request, outcome)
    finish_reason = "stop" if chat.tool_name is None else "tool_calls"
    choice = {"index": 0, "message": _message(chat, outcome, call_id), "logprobs": None, "finish_reason": finish_reason}
    body = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": chat.model,
        "choices": [choice],
        "usage": _usage(outcome),
        "system_fingerprint": None,
    }
    return json_response(body)


async def _stream(
    request: web.Request, chat: _ChatRequest, result: MockResult, completion_id: str, call_id: str
) -> web.StreamResponse:
    response = await open_sse(request)
    created = int(time.time())

    async def send(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> None:
        chunk: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": chat.model,
            "choices": choices,
            "system_fingerprint": None,
        }
        if chat.include_usage:
            chunk["usage"] = usage
        await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")

    def choice(delta: dict[str, Any], finish_reason: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]

    if chat.tool_name is None:
        await send(choice({"role": "assistant", "content": "", "refusal": None}))
    else:
        function = {"name": chat.tool_name, "arguments": ""}
        first_call = {"index": 0, "id": call_id, "type": "function", "function": function}
        await send(choice({"role": "assistant", "content": None, "tool_calls": [first_call]}))
    async for _, text in paced_chunks(request, result):
        if chat.tool_name is None:
            await send(choice({"content": text}))
        else:
            await send(choice({"tool_calls": [{"index": 0, "function": {"arguments": text}}]}))
    await send(choice({}, "stop" if chat.tool_name is None else "tool_calls"))
    if chat.include_usage:
        await send([], _usage(result))
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def list_models(request: web.Request) -> web.Response:
    models = state_of(request).models
    return json_response(
        {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "mock"} for m in models]}
    )
