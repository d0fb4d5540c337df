"""Gemini wire format of the mock server: `models/{model}:generateContent` and `:streamGenerateContent`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from llm_provider_service.mock.engine import MockResult
from llm_provider_service.mock.logprobs import gemini_logprobs
from llm_provider_service.mock.profile import FaultKind
from llm_provider_service.mock.tool_calls import ToolPlan, call_arguments
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
    tool: ToolPlan | None
    shape: AnswerShape
    top_logprobs: int | None = None  # None: `responseLogprobs` not asked for; else `logprobs` (alternatives)

    def logprobs(self, text: str) -> dict[str, Any]:
        """`logprobsResult` and `avgLogprobs` of a text part when they were asked for (none for function calls)."""
        if self.top_logprobs is None or self.tool is not None or not text:
            return {}
        result, average = gemini_logprobs(text, self.top_logprobs)
        return {"logprobsResult": result, "avgLogprobs": average}


def _parse(request: web.Request, model: str, body: Mapping[str, Any]) -> _GenerateRequest:
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
    every_part = [part for content in contents if isinstance(content, dict) for part in _parts(content)]
    last = contents[-1] if isinstance(contents[-1], dict) else {}
    tool = _tool(request, body, after_tool_result=any("functionResponse" in part for part in _parts(last)))
    config = body.get("generationConfig") or body.get("generation_config") or {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema") or config.get("response_schema")
    if schema is None and config.get("responseMimeType") == "application/json":
        schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    count = config.get("candidateCount")
    shape = AnswerShape(
        stop=stop_sequences(config.get("stopSequences")) if tool is None else (),
        images=sum(1 for part in every_part if "inlineData" in part or "fileData" in part),
        choices=count if isinstance(count, int) and tool is None and 1 <= count <= 8 else 1,
    )
    top = config.get("logprobs")
    top_logprobs = (top if isinstance(top, int) and 0 <= top <= 20 else 0) if config.get("responseLogprobs") else None
    return _GenerateRequest(model, "\n\n".join(parts), tool.schema if tool else schema, tool, shape, top_logprobs)


def _parts(content: Mapping[str, Any]) -> list[dict[str, Any]]:
    parts = content.get("parts")
    return [part for part in parts if isinstance(part, dict)] if isinstance(parts, list) else []


def _tool(request: web.Request, body: Mapping[str, Any], *, after_tool_result: bool) -> ToolPlan | None:
    """The function to call: scripted (`x-mock-tool-call`), or forced by `toolConfig` mode ANY."""
    declarations = [
        declaration
        for tool in body.get("tools") or []
        if isinstance(tool, dict)
        for declaration in tool.get("functionDeclarations") or tool.get("function_declarations") or []
        if isinstance(declaration, dict)
    ]
    # The API takes both spellings of the JSON schema (google-genai sends the snake_case one).
    keys = ("parametersJsonSchema", "parameters_json_schema", "parameters")
    tools = {str(item.get("name")): next((item[key] for key in keys if item.get(key)), None) for item in declarations}
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if config.get("mode") == "NONE":
        return None
    forced = None
    if config.get("mode") == "ANY":
        allowed = config.get("allowedFunctionNames") or []
        forced = str(allowed[0]) if allowed else ""
    return tool_plan(request, tools, forced=forced, after_tool_result=after_tool_result)


def _usage(result: MockResult, *, final: bool) -> dict[str, Any]:
    completion = result.completion_tokens if final else 0
    usage = {"promptTokenCount": result.prompt_tokens, "totalTokenCount": result.prompt_tokens + completion}
    if final:
        usage["candidatesTokenCount"] = completion
    return usage


def _candidate(
    index: int, parts: list[dict[str, Any]], *, final: bool, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": index, **(extra or {})}
    if final:
        candidate["finishReason"] = "STOP"
    return candidate


def _response(
    request: _GenerateRequest, result: MockResult, text: str, response_id: str, *, final: bool
) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": text}]
    if request.tool is not None and result.outcome != FaultKind.MALFORMED:
        parts = [{"functionCall": {"name": request.tool.name, "args": call_arguments(request.tool, result.structured)}}]
    candidates = [_candidate(0, parts, final=final, extra=request.logprobs(text))]
    if final:
        candidates.extend(
            _candidate(i, [{"text": more}], final=True, extra=request.logprobs(more))
            for i, more in enumerate(result.more_texts, 1)
        )
    return {
        "candidates": candidates,
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
        parsed = _parse(request, model, await read_json(request))
    except WireRequestError as exc:
        return render_error(INVALID_REQUEST, str(exc), None)
    outcome = await decide(request, parsed.prompt, parsed.schema, render_error, parsed.shape)
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
    # A function call arrives whole in one chunk, as Gemini streams it.
    chunks = ("",) if parsed.tool is not None else None
    last = len(chunks or result.chunks) - 1
    async for index, text in paced_chunks(request, result, chunks):
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
