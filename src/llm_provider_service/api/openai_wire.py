"""OpenAI Chat Completions on the wire: the request we accept, the answers and chunks we send, our errors.

Requests are validated strictly (pydantic, ~4 µs a request); a parameter we do not implement is refused
with 400 `unsupported_parameter` naming it, never silently dropped. Error bodies are our problem+json
plus an OpenAI-style `error` object (`message`, `type`, `code`, `param`), which the `openai` SDK reads.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from llm_provider_service.api.problems import describe, problem_response
from llm_provider_service.domain.errors import (
    RequestValidationError,
    ServiceError,
    UnsupportedParameterError,
)
from llm_provider_service.domain.models import (
    ChatMessage,
    CompletionRequest,
    CompletionResponse,
    OutputSchema,
    OutputVerbosity,
    ReasoningEffort,
    TextBlock,
    TokenUsage,
)

_ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}
_EFFORTS = {"none": ReasoningEffort.NONE, "minimal": ReasoningEffort.NONE, "low": ReasoningEffort.LOW,
            "medium": ReasoningEffort.MEDIUM, "high": ReasoningEffort.HIGH}  # fmt: skip
_UNSUPPORTED_HINTS = {
    "tools": "tool calling is not supported by this gateway",
    "tool_choice": "tool calling is not supported by this gateway",
    "functions": "function calling is not supported by this gateway",
    "function_call": "function calling is not supported by this gateway",
}


# `response_format: {"type": "json_object"}`: each adapter maps it to its vendor's JSON mode (Anthropic,
# which has none, gets a forced tool taking any object; the description is what the model reads).
JSON_OBJECT_OUTPUT = OutputSchema(
    "json_object",
    "Give your whole answer as this one JSON object, in the shape the conversation asks for.",
    {"type": "object"},
    json_object=True,
)


class _Wire(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class TextPartIn(_Wire):
    type: Literal["text"]
    text: str


class MessageIn(_Wire):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPartIn]

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(part.text for part in self.content)


class JsonSchemaIn(_Wire):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None


class ResponseFormatIn(_Wire):
    type: Literal["text", "json_schema", "json_object"]
    json_schema: JsonSchemaIn | None = None


class StreamOptionsIn(_Wire):
    include_usage: bool = False


class ChatRequestIn(_Wire):
    model: str = Field(min_length=1, max_length=256)
    messages: list[MessageIn] = Field(min_length=1, max_length=1024)
    stream: bool = False
    stream_options: StreamOptionsIn | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0)
    max_completion_tokens: int | None = Field(None, gt=0)
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = None
    verbosity: Literal["low", "medium", "high"] | None = None
    response_format: ResponseFormatIn | None = None
    n: int | None = Field(None, ge=1, le=1)
    user: str | None = Field(None, max_length=256)  # an end-user id for abuse tracking; no effect on the answer

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


def parse_chat_request(body: bytes) -> ChatRequestIn:
    """Validate the body; unknown parameters are `UnsupportedParameterError`, the rest 400 with a list."""
    try:
        return ChatRequestIn.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        for error in errors:
            if error["type"] == "extra_forbidden" and len(error["loc"]) == 1:
                name = str(error["loc"][0])
                hint = _UNSUPPORTED_HINTS.get(name, "this gateway does not implement it")
                raise UnsupportedParameterError(f"parameter {name!r} is not supported: {hint}") from exc
        listed: list[dict[str, object]] = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]} for error in errors
        ]
        raise RequestValidationError("the request body is invalid", listed) from exc


def to_completion_request(
    chat: ChatRequestIn, *, model_id: str, request_key: str, mock: dict[str, Any]
) -> CompletionRequest:
    """The vendor-neutral call for a validated chat request."""
    system: list[TextBlock] = []
    messages: list[ChatMessage] = []
    for message in chat.messages:
        if message.role == "user" or message.role == "assistant":
            messages.append(ChatMessage(message.role, message.text()))
        else:  # "developer" is OpenAI's newer name for the system prompt
            system.append(TextBlock(message.text()))
    if not messages:
        raise RequestValidationError(
            "messages must include a user message",
            [{"loc": ["messages"], "msg": "no user or assistant message", "type": "value_error"}],
        )
    if chat.max_tokens is not None and chat.max_completion_tokens is not None:
        raise RequestValidationError(
            "set max_completion_tokens or max_tokens, not both",
            [{"loc": ["max_tokens"], "msg": "conflicts with max_completion_tokens", "type": "value_error"}],
        )
    return CompletionRequest(
        model=model_id,
        messages=tuple(messages),
        system=tuple(system),
        temperature=chat.temperature,
        max_tokens=chat.max_completion_tokens or chat.max_tokens,
        reasoning_effort=_EFFORTS[chat.reasoning_effort] if chat.reasoning_effort else None,
        output_verbosity=OutputVerbosity(chat.verbosity) if chat.verbosity else None,
        output_schema=_output_schema(chat.response_format),
        request_key=request_key,
        mock=mock,
    )


def _output_schema(response_format: ResponseFormatIn | None) -> OutputSchema | None:
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return JSON_OBJECT_OUTPUT
    spec = response_format.json_schema
    if spec is None:
        raise RequestValidationError(
            "response_format json_schema needs a json_schema object",
            [{"loc": ["response_format", "json_schema"], "msg": "field required", "type": "missing"}],
        )
    return OutputSchema(spec.name, spec.description or "", spec.schema_)


# --- answers ---------------------------------------------------------------------------------------------


def _usage(usage: TokenUsage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def _finish(reason: str | None) -> str:
    return "length" if reason == "length" else "stop"


def completion_body(completion_id: str, created: int, model: str, response: CompletionResponse) -> bytes:
    message = {"role": "assistant", "content": response.text, "refusal": None}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(response.finish_reason)}
    return orjson.dumps(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [choice],
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

    def delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return self._frame([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}])

    def first(self) -> bytes:
        return self.delta({"role": "assistant", "content": "", "refusal": None})

    def content(self, text: str) -> bytes:
        return self.delta({"content": text})

    def finish(self, reason: str | None) -> bytes:
        return self.delta({}, _finish(reason))

    def usage(self, usage: TokenUsage) -> bytes | None:
        """The final usage chunk (empty `choices`), only when `stream_options.include_usage` asked for it."""
        return self._frame([], usage) if self._include_usage else None

    @staticmethod
    def error(exc: ServiceError) -> bytes:
        """An error after the 200 was sent: the `openai` SDK raises `APIError` for a data event with `error`."""
        described = describe(exc)
        error = {"message": described.detail, "type": _error_type(described.status), "code": described.code}
        body = {"error": {**error, "param": None}}
        return b"data: " + orjson.dumps(body) + b"\n\n"


DONE = b"data: [DONE]\n\n"


# --- errors ----------------------------------------------------------------------------------------------


def _error_type(status: int) -> str:
    return _ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")


def error_response(exc: ServiceError, *, correlation_id: str | None) -> Response:
    """Our problem+json with OpenAI's `error` object in place of the message, so the SDK raises its usual classes."""
    described = describe(exc)
    error = {"message": described.detail, "type": _error_type(described.status), "code": described.code, "param": None}
    return problem_response(exc, correlation_id=correlation_id, error=error)
