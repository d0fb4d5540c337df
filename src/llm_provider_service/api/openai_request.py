"""The Chat Completions request we accept (SPEC §3.3) and its translation into a vendor-neutral call.

Known fields are validated strictly (pydantic); unknown fields are kept (`extra="allow"`): OpenAI-protocol
upstreams receive them verbatim, and for other vendors they follow the drop|reject policy like any
parameter the vendor cannot honour (the gateway service decides, see `service/chat_parameters.py`).
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm_provider_service.domain.chat import ImagePart, ToolCall, ToolChoice, ToolSpec
from llm_provider_service.domain.errors import RequestValidationError, UnsupportedParameterError
from llm_provider_service.domain.mock_control import MockControl
from llm_provider_service.domain.models import (
    NO_OPTIONS,
    ChatMessage,
    ChatOptions,
    CompletionRequest,
    ContentPart,
    OutputSchema,
    OutputVerbosity,
    ReasoningEffort,
    TextBlock,
)

_EFFORTS = {"none": ReasoningEffort.NONE, "minimal": ReasoningEffort.NONE, "low": ReasoningEffort.LOW,
            "medium": ReasoningEffort.MEDIUM, "high": ReasoningEffort.HIGH}  # fmt: skip
# Fields the adapters set from the vendor-neutral call (names and values depend on the model); every
# other field of the body reaches an OpenAI-protocol upstream as the caller sent it.
MANAGED_FIELDS = frozenset(
    {"model", "stream", "stream_options", "temperature", "max_tokens", "max_completion_tokens",
     "reasoning_effort", "verbosity"}
)  # fmt: skip
_IMAGE_SCHEMES = ("https://", "http://", "data:")
# The request fields that make up `ChatOptions`: a plain chat sets none and shares `NO_OPTIONS`.
_OPTION_FIELDS = frozenset(
    {"tools", "tool_choice", "parallel_tool_calls", "stop", "seed", "top_p", "frequency_penalty",
     "presence_penalty", "n", "logprobs", "top_logprobs", "user"}
)  # fmt: skip

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


class _Open(BaseModel):
    """A wire object whose unknown fields are kept (they pass through to OpenAI-protocol upstreams)."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class ImageUrlIn(_Open):
    url: str = Field(min_length=1)
    detail: Literal["auto", "low", "high"] | None = None


class PartIn(_Open):
    type: str
    text: str | None = None
    image_url: ImageUrlIn | None = None


class FunctionCallIn(_Open):
    name: str
    arguments: str


class ToolCallIn(_Open):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallIn


class MessageIn(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[PartIn] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        return "".join(part.text or "" for part in self.content if part.type == "text")


class FunctionIn(_Open):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolIn(_Open):
    type: Literal["function"]
    function: FunctionIn


class NamedFunctionIn(_Open):
    name: str


class NamedToolChoiceIn(_Open):
    type: Literal["function"]
    function: NamedFunctionIn


class JsonSchemaIn(_Wire):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None


class ResponseFormatIn(_Wire):
    type: Literal["text", "json_schema", "json_object"]
    json_schema: JsonSchemaIn | None = None


class StreamOptionsIn(_Open):
    include_usage: bool = False


class ChatRequestIn(_Open):
    model: str = Field(min_length=1, max_length=256)
    messages: list[MessageIn] = Field(min_length=1, max_length=1024)
    stream: bool = False
    stream_options: StreamOptionsIn | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, gt=0)
    max_completion_tokens: int | None = Field(None, gt=0)
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = None
    verbosity: Literal["low", "medium", "high"] | None = None
    response_format: ResponseFormatIn | None = None
    tools: list[ToolIn] | None = Field(None, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoiceIn | None = None
    parallel_tool_calls: bool | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    n: int | None = Field(None, ge=1, le=128)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    user: str | None = Field(None, max_length=256)  # an end-user id for abuse tracking
    metadata: dict[str, str] | None = None

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage

    def present(self) -> set[str]:
        """The names of the fields the caller set (known and unknown), for the drop|reject policy."""
        names = set(self.model_fields_set)
        if self.model_extra:
            names.update(self.model_extra)
        return names


def parse_chat_request(body: bytes) -> tuple[ChatRequestIn, dict[str, Any]]:
    """The validated request and the decoded body (for pass-through); 400-class errors otherwise."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestValidationError(
            "the request body is not valid JSON", [{"loc": ["body"], "msg": "invalid JSON", "type": "json_invalid"}]
        ) from exc
    if not isinstance(raw, dict):
        raise RequestValidationError(
            "the request body must be a JSON object", [{"loc": ["body"], "msg": "not an object", "type": "dict_type"}]
        )
    try:
        return ChatRequestIn.model_validate(raw), raw
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        listed: list[dict[str, object]] = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]} for error in errors
        ]
        first = ".".join(str(part) for part in errors[0]["loc"]) if errors else "body"
        raise RequestValidationError(f"invalid request: {first}: {errors[0]['msg']}", listed) from exc


def to_completion_request(
    chat: ChatRequestIn, raw: dict[str, Any] | None, *, model_id: str, request_key: str, mock: MockControl
) -> CompletionRequest:
    """The vendor-neutral call for a validated chat request; `raw` (the body) is kept for pass-through."""
    system, messages = _messages(chat.messages, verbatim=raw is not None)
    if chat.max_tokens is not None and chat.max_completion_tokens is not None:
        raise _invalid("max_tokens", "set max_completion_tokens or max_tokens, not both")
    passthrough = None
    if raw is not None:
        passthrough = {key: value for key, value in raw.items() if key not in MANAGED_FIELDS}
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
        options=_options(chat) if not _OPTION_FIELDS.isdisjoint(chat.model_fields_set) else NO_OPTIONS,
        passthrough=passthrough,
    )


def _options(chat: ChatRequestIn) -> ChatOptions:
    stop = (chat.stop,) if isinstance(chat.stop, str) else tuple(chat.stop or ())
    return ChatOptions(
        tools=tuple(_tool(tool) for tool in chat.tools or ()),
        tool_choice=_tool_choice(chat),
        parallel_tool_calls=chat.parallel_tool_calls,
        stop=stop,
        seed=chat.seed,
        top_p=chat.top_p,
        frequency_penalty=chat.frequency_penalty,
        presence_penalty=chat.presence_penalty,
        n=chat.n or 1,
        logprobs=bool(chat.logprobs),
        top_logprobs=chat.top_logprobs,
        user=chat.user,
    )


def _messages(wire: list[MessageIn], *, verbatim: bool) -> tuple[list[TextBlock], list[ChatMessage]]:
    """System blocks and turns; `verbatim` (the upstream gets the caller's messages as sent) lets content
    parts we cannot translate (audio, files) through untouched instead of refusing them."""
    system: list[TextBlock] = []
    messages: list[ChatMessage] = []
    has_user = False
    for index, message in enumerate(wire):
        if message.role in ("system", "developer"):  # "developer" is OpenAI's newer name for the system prompt
            system.append(TextBlock(message.text()))
        elif message.role == "tool":
            if not message.tool_call_id:
                raise _invalid(f"messages.{index}.tool_call_id", "a tool message needs tool_call_id")
            messages.append(ChatMessage("tool", message.text(), tool_call_id=message.tool_call_id))
        elif message.role == "assistant":
            calls = tuple(
                ToolCall(call.id, call.function.name, call.function.arguments) for call in message.tool_calls or ()
            )
            messages.append(ChatMessage("assistant", message.text(), tool_calls=calls))
        else:
            messages.append(ChatMessage("user", message.text(), parts=_parts(message, index, verbatim=verbatim)))
            has_user = True
    if not has_user:
        raise _invalid("messages", "messages must include a user message")
    return system, messages


def _parts(message: MessageIn, index: int, *, verbatim: bool) -> tuple[ContentPart, ...]:
    if not isinstance(message.content, list):
        return ()
    parts: list[ContentPart] = []
    for part_index, part in enumerate(message.content):
        if part.type == "text":
            parts.append(TextBlock(part.text or ""))
        elif part.type == "image_url" and part.image_url is not None:
            if not part.image_url.url.startswith(_IMAGE_SCHEMES):
                raise _invalid(f"messages.{index}.content.{part_index}.image_url.url", "need an https or data URL")
            parts.append(ImagePart(part.image_url.url, part.image_url.detail))
        elif not verbatim:
            raise UnsupportedParameterError(
                f"content part type {part.type!r} is not supported by this vendor",
                param=f"messages.{index}.content.{part_index}",
            )
    return tuple(parts) if any(isinstance(part, ImagePart) for part in parts) else ()


def _tool(tool: ToolIn) -> ToolSpec:
    function = tool.function
    return ToolSpec(function.name, function.description or "", function.parameters, function.strict)


def _tool_choice(chat: ChatRequestIn) -> ToolChoice | None:
    choice = chat.tool_choice
    if choice is None:
        return None
    if isinstance(choice, str):
        return ToolChoice(choice)
    names = {tool.function.name for tool in chat.tools or ()}
    if choice.function.name not in names:
        raise _invalid("tool_choice", f"tool_choice names {choice.function.name!r}, which is not in tools")
    return ToolChoice("function", choice.function.name)


def _output_schema(response_format: ResponseFormatIn | None) -> OutputSchema | None:
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return JSON_OBJECT_OUTPUT
    spec = response_format.json_schema
    if spec is None:
        raise _invalid("response_format.json_schema", "response_format json_schema needs a json_schema object")
    return OutputSchema(spec.name, spec.description or "", spec.schema_)


def _invalid(param: str, message: str) -> RequestValidationError:
    error = RequestValidationError(message, [{"loc": param.split("."), "msg": message, "type": "value_error"}])
    error.param = param
    return error
