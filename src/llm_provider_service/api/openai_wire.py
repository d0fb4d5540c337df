"""OpenAI Chat Completions on the wire: the answers and chunks we send, and our errors.

The request side is `api/openai_request.py`. Error bodies are our problem+json plus an OpenAI-style
`error` object (`message`, `type`, `code`, `param`), which the `openai` SDK reads; statuses come from the
one error table (`api/problems.py`): caller mistakes are 400 as at OpenAI, so the SDK raises `BadRequestError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from llm_provider_service.api.problems import describe, problem_response
from llm_provider_service.domain.chat import AnswerChoice, ToolCall, ToolCallDelta
from llm_provider_service.domain.errors import ServiceError
from llm_provider_service.domain.models import CompletionResponse, TokenUsage

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

    def delta(
        self,
        delta: dict[str, Any],
        finish_reason: str | None = None,
        index: int = 0,
        logprobs: Mapping[str, Any] | None = None,
    ) -> bytes:
        return self._frame([{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}])

    def first(self, index: int = 0) -> bytes:
        return self.delta({"role": "assistant", "content": "", "refusal": None}, index=index)

    def content(self, text: str, index: int = 0, logprobs: Mapping[str, Any] | None = None) -> bytes:
        return self.delta({"content": text}, index=index, logprobs=logprobs)

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
        body = {"error": _error_object(exc)}
        return b"data: " + orjson.dumps(body) + b"\n\n"


DONE = b"data: [DONE]\n\n"


# --- errors ----------------------------------------------------------------------------------------------


def _error_type(status: int) -> str:
    return _ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")


def _error_object(exc: ServiceError) -> dict[str, Any]:
    """OpenAI's `error` object, from the one error table (`api/problems.py`)."""
    described = describe(exc)
    return {
        "message": described.detail,
        "type": _error_type(described.status),
        "code": described.code,
        "param": getattr(exc, "param", None),
    }


def error_response(exc: ServiceError, *, correlation_id: str | None) -> Response:
    """Our problem+json with OpenAI's `error` object in place of the message, so the SDK raises its usual classes."""
    return problem_response(exc, correlation_id=correlation_id, error=_error_object(exc))
