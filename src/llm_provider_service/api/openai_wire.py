"""OpenAI Chat Completions on the wire: the answers and chunks we send, and our errors.

The request side is `api/openai_request.py`. Error bodies are our problem+json plus an OpenAI-style
`error` object (`message`, `type`, `code`, `param`), which the `openai` SDK reads; caller mistakes are
400 as at OpenAI (never 422, which OpenAI does not send), so the SDK raises `BadRequestError`.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from starlette.responses import Response

from llm_provider_service.api.problems import problem
from llm_provider_service.domain.chat import AnswerChoice, ToolCall, ToolCallDelta
from llm_provider_service.domain.errors import (
    ProviderError,
    ProviderErrorKind,
    RequestValidationError,
    ServiceError,
    UnavailableError,
)
from llm_provider_service.domain.models import CompletionResponse, TokenUsage

K = ProviderErrorKind
# Provider failure -> (HTTP status, problem code). Authentication is OUR vendor key failing: a 502, not a 401.
PROVIDER_STATUSES: dict[ProviderErrorKind, tuple[int, str]] = {
    K.RATE_LIMITED: (429, "rate_limited"),
    K.OVERLOADED: (503, "provider_overloaded"),
    K.SERVER_ERROR: (502, "provider_error"),
    K.CONNECTION: (502, "provider_unreachable"),
    K.TIMEOUT: (504, "provider_timeout"),
    K.AUTHENTICATION: (502, "provider_authentication_failed"),
    K.INVALID_REQUEST: (400, "invalid_request"),
    K.CONTENT_FILTERED: (400, "content_filtered"),
    K.MODEL_NOT_FOUND: (404, "model_not_found"),
    K.INVALID_RESPONSE: (502, "invalid_provider_response"),
}
# Kinds whose vendor message helps the caller fix the request; the others are summarised.
_CALLER_KINDS = frozenset({K.INVALID_REQUEST, K.CONTENT_FILTERED, K.MODEL_NOT_FOUND})
_ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}
# --- answers ---------------------------------------------------------------------------------------------


def _usage(usage: TokenUsage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


_FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter"})


def _finish(reason: str | None) -> str:
    return reason if reason in _FINISH_REASONS else "stop"


def _tool_calls(calls: tuple[ToolCall, ...]) -> list[dict[str, Any]]:
    return [
        {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
        for call in calls
    ]


def _choice(index: int, answer: CompletionResponse | AnswerChoice) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.text, "refusal": None}
    if answer.tool_calls:
        message["content"] = answer.text or None
        message["tool_calls"] = _tool_calls(answer.tool_calls)
    return {
        "index": index,
        "message": message,
        "logprobs": answer.logprobs,
        "finish_reason": _finish(answer.finish_reason),
    }


def completion_body(completion_id: str, created: int, model: str, response: CompletionResponse) -> bytes:
    choices = [_choice(0, response)]
    choices.extend(_choice(index, more) for index, more in enumerate(response.more_choices, start=1))
    return orjson.dumps(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": choices,
            "usage": _usage(response.usage),
            "system_fingerprint": None,
        }
    )


class ChunkWriter:
    """Renders one stream's `chat.completion.chunk` events as SSE frames."""

    def __init__(self, completion_id: str, created: int, model: str, *, include_usage: bool) -> None:
        self._head = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model}
        self._include_usage = include_usage

    def _frame(self, choices: list[dict[str, Any]], usage: TokenUsage | None = None) -> bytes:
        chunk: dict[str, Any] = {**self._head, "choices": choices, "system_fingerprint": None}
        if self._include_usage:
            chunk["usage"] = _usage(usage) if usage is not None else None
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def delta(self, delta: dict[str, Any], finish_reason: str | None = None, index: int = 0) -> bytes:
        return self._frame([{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}])

    def first(self, index: int = 0) -> bytes:
        return self.delta({"role": "assistant", "content": "", "refusal": None}, index=index)

    def content(self, text: str, index: int = 0) -> bytes:
        return self.delta({"content": text}, index=index)

    def tool_calls(self, pieces: tuple[ToolCallDelta, ...], index: int = 0) -> bytes:
        """Tool-call pieces as OpenAI streams them: id, type and name with a call's first piece only."""
        calls: list[dict[str, Any]] = []
        for piece in pieces:
            call: dict[str, Any] = {"index": piece.index}
            function: dict[str, Any] = {"arguments": piece.arguments}
            if piece.id is not None:
                call["id"] = piece.id
                call["type"] = "function"
            if piece.name is not None:
                function["name"] = piece.name
            call["function"] = function
            calls.append(call)
        return self.delta({"tool_calls": calls}, index=index)

    def finish(self, reason: str | None, index: int = 0) -> bytes:
        return self.delta({}, _finish(reason), index=index)

    def usage(self, usage: TokenUsage) -> bytes | None:
        """The final usage chunk (empty `choices`), only when `stream_options.include_usage` asked for it."""
        return self._frame([], usage) if self._include_usage else None

    @staticmethod
    def error(exc: ServiceError) -> bytes:
        """An error after the 200 was sent: the `openai` SDK raises `APIError` for a data event with `error`."""
        status, code, message = describe(exc)
        body = {"error": {"message": message, "type": _error_type(status), "code": code, "param": exc.param}}
        return b"data: " + orjson.dumps(body) + b"\n\n"


DONE = b"data: [DONE]\n\n"


# --- errors ----------------------------------------------------------------------------------------------


def describe(exc: ServiceError) -> tuple[int, str, str]:
    """(HTTP status, code, caller-safe message) of an error on the gateway (OpenAI's 400 for our 422)."""
    if exc.status == 422:
        return 400, exc.code, str(exc)
    if isinstance(exc, ProviderError):
        status, code = PROVIDER_STATUSES[exc.kind]
        if exc.kind in _CALLER_KINDS:
            return status, code, str(exc)
        return status, code, f"provider {exc.provider or 'call'} failed: {exc.kind.value}"
    if exc.status >= 500 and not isinstance(exc, UnavailableError):
        return exc.status, exc.code, "the request could not be completed"
    return exc.status, exc.code, str(exc)


def _error_type(status: int) -> str:
    return _ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")


def error_response(exc: ServiceError, *, correlation_id: str | None) -> Response:
    status, code, message = describe(exc)
    headers: dict[str, str] | None = None
    retry_after = exc.retry_after_seconds if isinstance(exc, ProviderError | UnavailableError) else None
    if retry_after is not None:
        headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}
    extra: dict[str, Any] = {}
    if isinstance(exc, RequestValidationError):
        extra["errors"] = exc.errors
    error = {"message": message, "type": _error_type(status), "code": code, "param": exc.param}
    return problem(status, code, message, correlation_id=correlation_id, headers=headers, error=error, **extra)
