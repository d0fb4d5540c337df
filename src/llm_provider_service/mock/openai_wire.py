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
from llm_provider_service.mock.logprobs import openai_logprobs
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
    tool: ToolPlan | None
    stream: bool
    include_usage: bool
    shape: AnswerShape
    top_logprobs: int | None = None  # None: no `logprobs` asked for; else how many alternatives per token

    @property
    def tool_name(self) -> str | None:
        return self.tool.name if self.tool is not None else None


def _parse(request: web.Request, body: Mapping[str, Any]) -> _ChatRequest:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireRequestError("'messages' must be a non-empty array")
    prompt = "\n\n".join(
        f"{message.get('role', 'user')}: {text_of(message.get('content'))}"
        for message in messages
        if isinstance(message, dict)
    )
    images = sum(
        1
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for part in message["content"]
        if isinstance(part, dict) and part.get("type") == "image_url"
    )
    after_tool = isinstance(messages[-1], dict) and messages[-1].get("role") == "tool"
    tool = _tool(request, body, after_tool_result=after_tool)
    stream_options = body.get("stream_options") or {}
    n = body.get("n")
    top = body.get("top_logprobs")
    return _ChatRequest(
        model=str(body.get("model") or "mock-comparison-v1"),
        prompt=prompt,
        schema=tool.schema if tool is not None else _response_schema(body),
        tool=tool,
        stream=bool(body.get("stream")),
        include_usage=bool(stream_options.get("include_usage")),
        shape=AnswerShape(
            stop=stop_sequences(body.get("stop")) if tool is None else (),
            images=images,
            choices=n if isinstance(n, int) and tool is None and 1 <= n <= 128 else 1,
        ),
        top_logprobs=(top if isinstance(top, int) and 0 <= top <= 20 else 0) if body.get("logprobs") is True else None,
    )


def _tool(request: web.Request, body: Mapping[str, Any], *, after_tool_result: bool) -> ToolPlan | None:
    """The tool call to answer with: scripted (`x-mock-tool-call`) or forced by `tool_choice`."""
    functions = [tool.get("function") or {} for tool in body.get("tools") or [] if isinstance(tool, dict)]
    tools = {str(function.get("name")): function.get("parameters") for function in functions}
    choice = body.get("tool_choice")
    if choice == "none":
        return None
    forced = None
    if isinstance(choice, dict):
        forced = str((choice.get("function") or {}).get("name"))
    elif choice == "required":
        forced = ""
    return tool_plan(request, tools, forced=forced, after_tool_result=after_tool_result)


def _response_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema") or _JSON_OBJECT_SCHEMA
    if response_format.get("type") == "json_object":
        return _JSON_OBJECT_SCHEMA
    return None


def _arguments(chat: _ChatRequest, result: MockResult) -> str:
    assert chat.tool is not None  # noqa: S101 - only called for tool answers
    return orjson.dumps(call_arguments(chat.tool, result.structured)).decode()


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
    function = {"name": chat.tool_name, "arguments": _arguments(chat, result)}
    call = {"id": call_id, "type": "function", "function": function}
    return {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}


def _logprobs(chat: _ChatRequest, text: str) -> dict[str, Any] | None:
    """Log probabilities of a text answer (or piece) when the request asked; tool calls have none, as OpenAI's."""
    if chat.top_logprobs is None or chat.tool_name is not None:
        return None
    return openai_logprobs(text, chat.top_logprobs)


def _choices(chat: _ChatRequest, result: MockResult, call_id: str) -> list[dict[str, Any]]:
    finish_reason = "stop" if chat.tool_name is None else "tool_calls"
    message = _message(chat, result, call_id)
    choices = [
        {"index": 0, "message": message, "logprobs": _logprobs(chat, result.text), "finish_reason": finish_reason}
    ]
    for index, text in enumerate(result.more_texts, start=1):
        message = {"role": "assistant", "content": text, "refusal": None}
        choices.append({"index": index, "message": message, "logprobs": _logprobs(chat, text), "finish_reason": "stop"})
    return choices


async def chat_completions(request: web.Request) -> web.StreamResponse:
    try:
        chat = _parse(request, await read_json(request))
    except WireRequestError as exc:
        return render_error(INVALID_REQUEST, str(exc), None)
    outcome = await decide(request, chat.prompt, chat.schema, render_error, chat.shape)
    if not isinstance(outcome, MockResult):
        return outcome
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    call_id = f"call_{uuid.uuid4().hex[:24]}"
    if chat.stream:
        return await _stream(request, chat, outcome, completion_id, call_id)
    await wait_for_answer(request, outcome)
    body = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": chat.model,
        "choices": _choices(chat, outcome, call_id),
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

    def choice(
        delta: dict[str, Any], finish_reason: str | None = None, index: int = 0, text: str = ""
    ) -> list[dict[str, Any]]:
        logprobs = _logprobs(chat, text) if text else None
        return [{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}]

    if chat.tool_name is None:
        await send(choice({"role": "assistant", "content": "", "refusal": None}))
    else:
        function = {"name": chat.tool_name, "arguments": ""}
        first_call = {"index": 0, "id": call_id, "type": "function", "function": function}
        await send(choice({"role": "assistant", "content": None, "tool_calls": [first_call]}))
    pieces = argument_pieces(_arguments(chat, result)) if chat.tool_name is not None else None
    async for _, text in paced_chunks(request, result, pieces):
        if chat.tool_name is None:
            await send(choice({"content": text}, text=text))
        else:
            await send(choice({"tool_calls": [{"index": 0, "function": {"arguments": text}}]}))
    for index, text in enumerate(result.more_texts, start=1):
        await send(choice({"role": "assistant", "content": text}, index=index, text=text))
        await send(choice({}, "stop", index=index))
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
