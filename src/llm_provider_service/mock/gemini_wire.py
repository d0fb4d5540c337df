"""Gemini wire format of the mock server: `models/{model}:generateContent` and `:streamGenerateContent`."""

from __future__ import annotations

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

# outcome -> (status, google.rpc status, message), as the Gemini API sends them.
_ERRORS: dict[str, tuple[int, str, str]] = {
    "rate_limited": (429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    "overloaded": (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    "server_error": (500, "INTERNAL", "An internal error has occurred. Please retry or report the issue."),
    "timeout": (504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
    "unauthorized": (401, "UNAUTHENTICATED", "API key not valid. Please pass a valid API key."),
    INVALID_REQUEST: (400, "INVALID_ARGUMENT", ""),
    "not_found": (404, "NOT_FOUND", ""),
}
_GENERATE = "generateContent"
_STREAM = "streamGenerateContent"


def render_error(outcome: str, message: str, result: MockResult | None) -> web.Response:
    status, rpc_status, canned = _ERRORS[outcome]
    error: dict[str, Any] = {"code": status, "message": canned or message, "status": rpc_status}
    headers = {}
    if result is not None and result.retry_after_seconds is not None:
        delay = f"{result.retry_after_seconds:g}s"
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]
        headers["retry-after"] = f"{result.retry_after_seconds:g}"
    return json_response({"error": error}, status=status, headers=headers)


@dataclass(frozen=True, slots=True)
class _GenerateRequest:
    model: str
    prompt: str
    schema: Mapping[str, Any] | None


def _parse(model: str, body: Mapping[str, Any]) -> _GenerateRequest:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise WireRequestError("* GenerateContentRequest.contents: contents is not specified")
    parts = []
    if isinstance(instruction := body.get("systemInstruction") or body.get("system_instruction"), dict):
        parts.append(f"system: {text_of(instruction.get('parts'))}")
    parts.extend(
        f"{content.get('role', 'user')}: {text_of(content.get('parts'))}"
        for content in contents
        if isinstance(content, dict)
    )
    config = body.get("generationConfig") or body.get("generation_config") or {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema") or config.get("response_schema")
    if schema is None and config.get("responseMimeType") == "application/json":
        schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    return _GenerateRequest(model=model, prompt="\n\n".join(parts), schema=schema)


def _usage(result: MockResult, *, final: bool) -> dict[str, Any]:
    completion = result.completion_tokens if final else 0
    usage = {"promptTokenCount": result.prompt_tokens, "totalTokenCount": result.prompt_tokens + completion}
    if final:
        usage["candidatesTokenCount"] = completion
    return usage


def _response(
    request: _GenerateRequest, result: MockResult, text: str, response_id: str, *, final: bool
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if final:
        candidate["finishReason"] = "STOP"
    return {
        "candidates": [candidate],
        "usageMetadata": _usage(result, final=final),
        "modelVersion": request.model,
        "responseId": response_id,
    }


async def generate(request: web.Request) -> web.StreamResponse:
    """Both methods share one route, `models/{model}:{method}`: the colon is not a path separator."""
    model, _, method = request.match_info["target"].partition(":")
    if method not in (_GENERATE, _STREAM):
        return render_error("not_found", f"Method {method!r} is not found for this service.", None)
    try:
        parsed = _parse(model, await read_json(request))
    except WireRequestError as exc:
        return render_error(INVALID_REQUEST, str(exc), None)
    outcome = await decide(request, parsed.prompt, parsed.schema, render_error)
    if not isinstance(outcome, MockResult):
        return outcome
    response_id = uuid.uuid4().hex[:22]
    if method == _STREAM and request.query.get("alt") == "sse":
        return await _stream_sse(request, parsed, outcome, response_id)
    await wait_for_answer(request, outcome)
    whole = _response(parsed, outcome, outcome.text, response_id, final=True)
    # Without alt=sse the streaming method answers one JSON array of responses.
    return json_response([whole] if method == _STREAM else whole)


async def _stream_sse(
    request: web.Request, parsed: _GenerateRequest, result: MockResult, response_id: str
) -> web.StreamResponse:
    response = await open_sse(request)
    last = len(result.chunks) - 1
    async for index, text in paced_chunks(request, result):
        chunk = _response(parsed, result, text, response_id, final=index == last)
        await response.write(b"data: " + orjson.dumps(chunk) + b"\r\n\r\n")
    if last < 0:
        chunk = _response(parsed, result, "", response_id, final=True)
        await response.write(b"data: " + orjson.dumps(chunk) + b"\r\n\r\n")
    await response.write_eof()
    return response


async def list_models(request: web.Request) -> web.Response:
    models = [
        {
            "name": f"models/{model}",
            "displayName": model,
            "supportedGenerationMethods": [_GENERATE, _STREAM],
        }
        for model in state_of(request).models
    ]
    return json_response({"models": models})
