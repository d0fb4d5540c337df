"""OpenAI Chat Completions adapter (`json_schema` strict output), also the base of OpenRouter and compatibles.

Parameter names follow the model manifest: `max_completion_tokens` for reasoning models that refuse
`max_tokens`, no `temperature` where the model rejects it, `reasoning_effort` and `verbosity` top-level.
Prompt caching is automatic at OpenAI, so `TextBlock.cacheable` needs no wire field here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from llm_provider_service.domain.catalog import ModelCatalog, ModelInfo
from llm_provider_service.domain.chat import AnswerChoice, ToolCall, ToolCallDelta
from llm_provider_service.domain.embeddings import EmbeddingRequest, EmbeddingResponse
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind, UnknownModelError
from llm_provider_service.domain.models import (
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    JsonObject,
    OutputSchema,
    ReasoningEffort,
    TextBlock,
    TokenUsage,
)
from llm_provider_service.providers.embeddings import openai_embedding_payload, parse_openai_embeddings
from llm_provider_service.providers.errors import stream_error
from llm_provider_service.providers.http_client import VendorTransport
from llm_provider_service.providers.mock_forwarding import with_intrinsic_ms
from llm_provider_service.providers.structured import (
    as_dict,
    as_int,
    content_filtered,
    invalid_response,
    parse_json_object,
)

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"

# gpt-5 has no "none"; "minimal" is its least reasoning, the faithful reading of "none".
_OPENAI_EFFORT = {
    ReasoningEffort.NONE: "minimal",
    ReasoningEffort.LOW: "low",
    ReasoningEffort.MEDIUM: "medium",
    ReasoningEffort.HIGH: "high",
}


def strict_json_schema(schema: JsonObject) -> dict[str, Any]:
    """A JSON schema in the form OpenAI's strict mode demands.

    Every object gets `additionalProperties: false` and lists all its properties as required; a property
    that was optional becomes nullable instead, so its meaning survives.
    """
    result: dict[str, Any] = {key: _strict_value(value) for key, value in schema.items()}
    properties = result.get("properties")
    if result.get("type") == "object" or isinstance(properties, dict):
        props: dict[str, Any] = properties if isinstance(properties, dict) else {}
        required = set(schema.get("required") or ())
        for name, subschema in props.items():
            if name not in required and isinstance(subschema, dict):
                props[name] = _nullable(subschema)
        result["properties"] = props
        result["required"] = list(props)
        result["additionalProperties"] = False
    return result


def _strict_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return strict_json_schema(value)
    if isinstance(value, list):
        return [_strict_value(item) for item in value]
    return value


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    if isinstance(kind, list) and "null" not in kind:
        return {**schema, "type": [*kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


class OpenAIChatProvider:
    """A `StreamingLLMProvider` speaking OpenAI Chat Completions over the shared session."""

    catalog_provider = "openai"
    # Unknown OpenAI models are assumed current: `max_tokens` is deprecated there.
    unknown_model_uses_max_completion_tokens = True

    def __init__(self, transport: VendorTransport, catalog: ModelCatalog, *, name: str | None = None) -> None:
        self._transport = transport
        self._catalog = catalog
        self._name = name or self.catalog_provider

    @property
    def transport(self) -> VendorTransport:
        """The transport its calls go over (the vendor's batch client shares it)."""
        return self._transport

    @property
    def name(self) -> str:
        return self._name

    @property
    def call_bound_seconds(self) -> float | None:
        """How long one `complete`/`embed` may take at most: one POST under the session's total timeout."""
        return self._transport.total_timeout_seconds

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        payload = self.build_payload(request, stream=False)
        answer = await self._transport.post_json("/chat/completions", payload, call=request)
        return with_intrinsic_ms(self.parse_response(request, answer.body), answer.mock_intrinsic_ms)

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        answer = await self._transport.post_json("/embeddings", openai_embedding_payload(request), call=request)
        return parse_openai_embeddings(self.name, request, answer.body)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        events = self._transport.post_sse("/chat/completions", self.build_payload(request, stream=True), call=request)
        usage: TokenUsage | None = None
        finish: str | None = None
        async for event in events:
            if event.data.strip() == "[DONE]":
                break
            chunk = self._chunk(event.data)
            if isinstance(chunk.get("usage"), dict):  # the last chunk, asked for by `include_usage`
                reported = chunk["usage"]
                usage = TokenUsage(as_int(reported.get("prompt_tokens")), as_int(reported.get("completion_tokens")))
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                index = as_int(choice.get("index"))
                if delta.get("refusal") or choice.get("finish_reason") == "content_filter":
                    raise content_filtered(self.name, "the model refused or the answer was filtered")
                pieces = tuple(
                    _tool_call_delta(piece) for piece in delta.get("tool_calls") or () if isinstance(piece, dict)
                )
                logprobs = choice.get("logprobs")
                logprobs = logprobs if isinstance(logprobs, dict) else None
                if delta.get("content") or pieces or logprobs:
                    text = str(delta.get("content") or "")
                    yield CompletionChunk(text, tool_calls=pieces, index=index, logprobs=logprobs)
                if choice.get("finish_reason"):
                    if index:
                        yield CompletionChunk(finish_reason=str(choice["finish_reason"]), index=index)
                    else:
                        finish = str(choice["finish_reason"])
        if usage is not None or finish is not None:
            yield CompletionChunk(usage=usage, finish_reason=finish)

    def _chunk(self, data: str) -> dict[str, Any]:
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError as exc:
            raise invalid_response(self.name, "stream chunk is not JSON") from exc
        if not isinstance(chunk, dict):
            raise invalid_response(self.name, "stream chunk is not a JSON object")
        if "error" in chunk:
            raise stream_error(self.name, chunk)
        return chunk

    # --- request -------------------------------------------------------------------------------------

    def model_info(self, model: str) -> ModelInfo:
        try:
            return self._catalog.resolve(self.catalog_provider, model)
        except UnknownModelError:
            return ModelInfo(
                self.catalog_provider,
                model,
                0.0,
                0.0,
                0,
                0,
                uses_max_completion_tokens=self.unknown_model_uses_max_completion_tokens,
            )

    def build_payload(self, request: CompletionRequest, *, stream: bool) -> dict[str, Any]:
        """The Chat Completions body: the caller's own fields verbatim (gateway), then ours on top."""
        info = self.model_info(request.model)
        passthrough = request.passthrough
        payload: dict[str, Any] = dict(passthrough) if passthrough is not None else {}
        payload["model"] = request.model
        if "messages" not in payload:
            payload["messages"] = openai_messages(request)
        if passthrough is None:
            payload.update(openai_options(request))
        if request.max_tokens is not None:
            payload["max_completion_tokens" if info.uses_max_completion_tokens else "max_tokens"] = request.max_tokens
        if request.temperature is not None:
            if not info.supports_temperature:
                raise self._unsupported(f"{request.model} does not accept temperature")
            payload["temperature"] = request.temperature
        if request.output_schema is not None and "response_format" not in payload:
            payload["response_format"] = self.response_format(request.output_schema)
        if request.reasoning_effort is not None:
            payload.update(self.reasoning_fields(request.reasoning_effort))
        if request.output_verbosity is not None:
            payload["verbosity"] = request.output_verbosity.value
        if stream:
            payload["stream"] = True
            payload["stream_options"] = {"include_usage": True}
        return payload

    @staticmethod
    def response_format(schema: OutputSchema) -> dict[str, Any]:
        """JSON mode (`json_object`; OpenAI then demands the word "JSON" in the messages) or strict schema."""
        if schema.json_object:
            return {"type": "json_object"}
        return {
            "type": "json_schema",
            "json_schema": {
                "name": schema.name,
                "description": schema.description,
                "schema": strict_json_schema(schema.json_schema),
                "strict": True,
            },
        }

    def reasoning_fields(self, effort: ReasoningEffort) -> dict[str, Any]:
        return {"reasoning_effort": _OPENAI_EFFORT[effort]}

    def _unsupported(self, message: str) -> ProviderError:
        return ProviderError(ProviderErrorKind.INVALID_REQUEST, f"{self.name}: {message}", provider=self.name)

    # --- response ------------------------------------------------------------------------------------

    def parse_response(self, request: CompletionRequest, body: Mapping[str, Any]) -> CompletionResponse:
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise invalid_response(self.name, "answer has no choices")
        first = self._answer(request, choices[0])
        usage = as_dict(body.get("usage"))
        structured = None
        if request.output_schema is not None and not first.tool_calls:
            structured = parse_json_object(self.name, first.text, truncated=first.finish_reason == "length")
        return CompletionResponse(
            text=first.text,
            usage=TokenUsage(as_int(usage.get("prompt_tokens")), as_int(usage.get("completion_tokens"))),
            model=str(body.get("model") or request.model),
            finish_reason=first.finish_reason,
            structured=structured,
            provider_metadata={"response_id": str(body.get("id", ""))},
            tool_calls=first.tool_calls,
            logprobs=first.logprobs,
            more_choices=tuple(self._answer(request, choice) for choice in choices[1:] if isinstance(choice, dict)),
        )

    def _answer(self, request: CompletionRequest, choice: Mapping[str, Any]) -> AnswerChoice:
        message = as_dict(choice.get("message"))
        finish = str(choice.get("finish_reason") or "stop")
        if message.get("refusal"):
            raise content_filtered(self.name, "the model refused to answer")
        if finish == "content_filter":
            raise content_filtered(self.name, "the answer was withheld by the content filter")
        content = message.get("content")
        text = content if isinstance(content, str) else ""
        calls = tuple(_tool_call(call) for call in message.get("tool_calls") or () if isinstance(call, dict))
        if not text and not calls and request.output_schema is None:
            cut = " (cut off at the token limit)" if finish == "length" else ""
            raise invalid_response(self.name, f"empty answer{cut}")
        logprobs = choice.get("logprobs")
        return AnswerChoice(text, calls, finish, logprobs if isinstance(logprobs, dict) else None)


def _tool_call(call: Mapping[str, Any]) -> ToolCall:
    function = as_dict(call.get("function"))
    return ToolCall(str(call.get("id") or ""), str(function.get("name") or ""), str(function.get("arguments") or ""))


def _tool_call_delta(piece: Mapping[str, Any]) -> ToolCallDelta:
    function = as_dict(piece.get("function"))
    name = function.get("name")
    return ToolCallDelta(
        index=as_int(piece.get("index")),
        id=str(piece["id"]) if piece.get("id") else None,
        name=str(name) if name else None,
        arguments=str(function.get("arguments") or ""),
    )


def openai_messages(request: CompletionRequest) -> list[dict[str, Any]]:
    """The vendor-neutral conversation in Chat Completions form (when the caller's own is not at hand)."""
    messages: list[dict[str, Any]] = []
    system_text = "\n\n".join(block.text for block in request.system)
    if system_text:
        messages.append({"role": "system", "content": system_text})
    for message in request.messages:
        entry: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.parts:
            entry["content"] = [
                {"type": "text", "text": part.text}
                if isinstance(part, TextBlock)
                else {
                    "type": "image_url",
                    "image_url": {"url": part.url, **({"detail": part.detail} if part.detail else {})},
                }
                for part in message.parts
            ]
        if message.tool_calls:
            entry["content"] = message.content or None
            entry["tool_calls"] = [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
                for call in message.tool_calls
            ]
        if message.tool_call_id is not None:
            entry["tool_call_id"] = message.tool_call_id
        messages.append(entry)
    return messages


def openai_options(request: CompletionRequest) -> dict[str, Any]:
    """Tools and sampling options of the vendor-neutral call, in Chat Completions names."""
    options: dict[str, Any] = {}
    if request.options.tools:
        options["tools"] = [
            {"type": "function", "function": {"name": tool.name, "description": tool.description,
                                              "parameters": dict(tool.schema),
                                              **({"strict": tool.strict} if tool.strict is not None else {})}}
            for tool in request.options.tools
        ]  # fmt: skip
    choice = request.options.tool_choice
    if choice is not None:
        options["tool_choice"] = (
            {"type": "function", "function": {"name": choice.name}} if choice.mode == "function" else choice.mode
        )
    given = request.options
    simple = {
        "parallel_tool_calls": given.parallel_tool_calls, "seed": given.seed, "top_p": given.top_p,
        "frequency_penalty": given.frequency_penalty, "presence_penalty": given.presence_penalty,
        "top_logprobs": given.top_logprobs, "user": given.user,
    }  # fmt: skip
    options.update((key, value) for key, value in simple.items() if value is not None)
    if request.options.stop:
        options["stop"] = list(request.options.stop)
    if request.options.n != 1:
        options["n"] = request.options.n
    if request.options.logprobs:
        options["logprobs"] = True
    return options
