"""Gemini `generateContent` adapter: `responseSchema` structured output, `thinkingConfig`, real usage counts.

Gemini takes an OpenAPI subset, not JSON Schema: upper-case types, `nullable` instead of `"null"`
types, no `additionalProperties`. `gemini_schema` translates, and refuses what it cannot express.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from llm_provider_service.domain.chat import AnswerChoice, ToolCallDelta
from llm_provider_service.domain.embeddings import EmbeddingRequest, EmbeddingResponse
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import (
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    JsonObject,
    ReasoningEffort,
    TokenUsage,
)
from llm_provider_service.providers.embeddings import gemini_embedding_payload, parse_gemini_embeddings
from llm_provider_service.providers.errors import stream_error
from llm_provider_service.providers.gemini_contents import (
    function_calls,
    gemini_contents,
    gemini_tools,
    openai_logprobs,
    sampling_config,
)
from llm_provider_service.providers.http_client import VendorTransport
from llm_provider_service.providers.mock_forwarding import with_intrinsic_ms
from llm_provider_service.providers.structured import (
    as_dict,
    as_int,
    content_filtered,
    invalid_response,
    parse_json_object,
)

DEFAULT_GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
API_VERSION = "v1beta"
# Gemini 2.5 thinking budgets per effort; 0 turns thinking off (Flash only; Pro cannot stop thinking).
THINKING_BUDGET_TOKENS = {
    ReasoningEffort.NONE: 0,
    ReasoningEffort.LOW: 1024,
    ReasoningEffort.MEDIUM: 8192,
    ReasoningEffort.HIGH: 24576,
}
BLOCKED_FINISH_REASONS = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE"}
)
_COPIED_KEYWORDS = ("description", "format", "enum", "minimum", "maximum", "minItems", "maxItems", "title")
_UNSUPPORTED_KEYWORDS = ("$ref", "oneOf", "allOf", "not", "patternProperties")


def gemini_headers(api_key: str) -> dict[str, str]:
    return {"x-goog-api-key": api_key}


def gemini_schema(schema: JsonObject) -> dict[str, Any]:
    """Translate a JSON schema into Gemini's `responseSchema` (OpenAPI 3.0 subset)."""
    for keyword in _UNSUPPORTED_KEYWORDS:
        if keyword in schema:
            raise ValueError(f"JSON schema keyword {keyword!r} has no Gemini equivalent")
    result = _gemini_type(schema.get("type"))
    result.update((keyword, schema[keyword]) for keyword in _COPIED_KEYWORDS if keyword in schema)
    if "const" in schema:
        result["enum"] = [schema["const"]]
    if isinstance(schema.get("items"), Mapping):
        result["items"] = gemini_schema(schema["items"])
    if isinstance(schema.get("anyOf"), list):
        result["anyOf"] = [gemini_schema(option) for option in schema["anyOf"]]
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        result["properties"] = {name: gemini_schema(sub) for name, sub in properties.items()}
        # Without an explicit order Gemini sorts keys alphabetically, which can hurt answer quality.
        result["propertyOrdering"] = list(properties)
        if schema.get("required"):
            result["required"] = list(schema["required"])
    return result


def _gemini_type(kind: Any) -> dict[str, Any]:
    """`"string"` -> `STRING`; `["string", "null"]` -> `STRING` + `nullable`."""
    if isinstance(kind, list):
        types = [item for item in kind if item != "null"]
        if len(types) != 1:
            raise ValueError("Gemini schemas take one type per value (plus null)")
        result = _gemini_type(types[0])
        if len(types) < len(kind):
            result["nullable"] = True
        return result
    return {"type": kind.upper()} if isinstance(kind, str) else {}


class GeminiProvider:
    """A `StreamingLLMProvider` for the Gemini API (`generateContent`, `streamGenerateContent?alt=sse`)."""

    def __init__(self, transport: VendorTransport, *, name: str = "google") -> None:
        self._transport = transport
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def _path(self, model: str, method: str) -> str:
        return f"/{API_VERSION}/models/{quote(model.removeprefix('models/'), safe='.-_')}:{method}"

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        payload = self.build_payload(request)
        answer = await self._transport.post_json(self._path(request.model, "generateContent"), payload, call=request)
        return with_intrinsic_ms(self.parse_response(request, answer.body), answer.mock_intrinsic_ms)

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        path = self._path(request.model, "batchEmbedContents")
        answer = await self._transport.post_json(path, gemini_embedding_payload(request, self.name), call=request)
        return parse_gemini_embeddings(self.name, request, answer.body)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        path = self._path(request.model, "streamGenerateContent") + "?alt=sse"
        usage: TokenUsage | None = None
        finish: str | None = None
        calls_seen: dict[int, int] = {}  # candidate index -> tool calls streamed so far
        async for event in self._transport.post_sse(path, self.build_payload(request), call=request):
            chunk = self._decode_chunk(event.data)
            if isinstance(chunk.get("usageMetadata"), dict):  # cumulative: the last one holds the totals
                usage = self._usage(chunk["usageMetadata"])
            for piece in _candidate_chunks(chunk, calls_seen):
                if piece.index == 0 and piece.finish_reason is not None:
                    finish = piece.finish_reason  # sent with the usage, in the last chunk
                else:
                    yield piece
        if usage is not None or finish is not None:
            yield CompletionChunk(usage=usage, finish_reason=finish)

    def _decode_chunk(self, data: str) -> dict[str, Any]:
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError as exc:
            raise invalid_response(self.name, "stream chunk is not JSON") from exc
        if not isinstance(chunk, dict):
            raise invalid_response(self.name, "stream chunk is not a JSON object")
        if "error" in chunk:
            raise stream_error(self.name, chunk)
        self._raise_if_blocked(chunk)
        return chunk

    @staticmethod
    def _usage(metadata: Mapping[str, Any]) -> TokenUsage:
        # Thinking tokens are billed as output.
        completion = as_int(metadata.get("candidatesTokenCount")) + as_int(metadata.get("thoughtsTokenCount"))
        return TokenUsage(as_int(metadata.get("promptTokenCount")), completion)

    # --- request -------------------------------------------------------------------------------------

    def build_payload(self, request: CompletionRequest) -> dict[str, Any]:
        if request.output_verbosity is not None:
            raise self._unsupported("Gemini models have no output verbosity setting")
        config: dict[str, Any] = {}
        budget = self._thinking_budget(request)
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.max_tokens is not None:
            # Thinking tokens count against maxOutputTokens; the caller's limit is for the answer.
            config["maxOutputTokens"] = request.max_tokens + (budget or 0)
        if budget is not None:
            config["thinkingConfig"] = {"thinkingBudget": budget}
        schema = request.output_schema
        if schema is not None:
            config["responseMimeType"] = "application/json"
            if not schema.json_object:  # JSON mode: the MIME type alone, any JSON object will do
                try:
                    config["responseSchema"] = gemini_schema(schema.json_schema)
                except ValueError as exc:
                    raise self._unsupported(str(exc)) from exc
        config.update(sampling_config(request))
        payload: dict[str, Any] = {"contents": gemini_contents(request, self.name), **gemini_tools(request)}
        if request.system:
            payload["systemInstruction"] = {"parts": [{"text": block.text} for block in request.system]}
        if config:
            payload["generationConfig"] = config
        return payload

    def _thinking_budget(self, request: CompletionRequest) -> int | None:
        effort = request.reasoning_effort
        if effort is None:
            return None
        if effort is ReasoningEffort.NONE and "pro" in request.model:
            raise self._unsupported(f"{request.model} cannot turn thinking off")
        return THINKING_BUDGET_TOKENS[effort]

    def _unsupported(self, message: str) -> ProviderError:
        return ProviderError(ProviderErrorKind.INVALID_REQUEST, f"{self.name}: {message}", provider=self.name)

    # --- response ------------------------------------------------------------------------------------

    def _raise_if_blocked(self, body: Mapping[str, Any]) -> None:
        feedback = body.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            raise content_filtered(self.name, f"prompt blocked ({feedback['blockReason']})")
        for candidate in body.get("candidates") or ():
            if isinstance(candidate, dict) and candidate.get("finishReason") in BLOCKED_FINISH_REASONS:
                raise content_filtered(self.name, f"answer blocked ({candidate['finishReason']})")

    @staticmethod
    def _text(body: Mapping[str, Any]) -> str:
        candidates = body.get("candidates")
        if not isinstance(candidates, list) or not candidates or not isinstance(candidates[0], dict):
            return ""
        return _candidate_text(candidates[0])

    def parse_response(self, request: CompletionRequest, body: Mapping[str, Any]) -> CompletionResponse:
        self._raise_if_blocked(body)
        candidates = body.get("candidates")
        if not isinstance(candidates, list) or not candidates or not isinstance(candidates[0], dict):
            raise invalid_response(self.name, "answer has no candidates")
        response_id = str(body.get("responseId", ""))
        answers = [
            self._answer(request, c, f"{response_id}{i}") for i, c in enumerate(candidates) if isinstance(c, dict)
        ]
        first = answers[0]
        finish = str(candidates[0].get("finishReason") or "STOP")
        structured = None
        if request.output_schema is not None:
            structured = parse_json_object(self.name, first.text, truncated=first.finish_reason == "length")
        usage = as_dict(body.get("usageMetadata"))
        return CompletionResponse(
            text=first.text,
            usage=self._usage(usage),
            model=str(body.get("modelVersion") or request.model),
            finish_reason=first.finish_reason,
            structured=structured,
            provider_metadata={
                "response_id": response_id,
                "finish_reason": finish,
                "thoughts_token_count": as_int(usage.get("thoughtsTokenCount")),
            },
            tool_calls=first.tool_calls,
            logprobs=first.logprobs,
            more_choices=tuple(answers[1:]),
        )

    def _answer(self, request: CompletionRequest, candidate: Mapping[str, Any], id_prefix: str) -> AnswerChoice:
        truncated = candidate.get("finishReason") == "MAX_TOKENS"
        text = _candidate_text(candidate)
        calls = tuple(function_calls(_parts_of(candidate), id_prefix))
        if not text and not calls and request.output_schema is None:
            raise invalid_response(self.name, "empty answer" + (" (cut off at the token limit)" if truncated else ""))
        finish = "length" if truncated else "tool_calls" if calls else "stop"
        return AnswerChoice(text, calls, finish, openai_logprobs(candidate))


def _parts_of(candidate: Mapping[str, Any]) -> list[Any]:
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    return parts if isinstance(parts, list) else []


def _candidate_text(candidate: Mapping[str, Any]) -> str:
    return "".join(
        str(part.get("text", ""))
        for part in _parts_of(candidate)
        if isinstance(part, dict) and not part.get("thought")  # thought summaries are not the answer
    )


def _candidate_chunks(chunk: Mapping[str, Any], calls_seen: dict[int, int]) -> list[CompletionChunk]:
    """Text and whole function calls of each candidate in a stream chunk, then its finish when it ended."""
    pieces: list[CompletionChunk] = []
    for position, candidate in enumerate(chunk.get("candidates") or ()):
        if not isinstance(candidate, dict):
            continue
        index = as_int(candidate.get("index")) or position
        text = _candidate_text(candidate)
        start = calls_seen.get(index, 0)
        calls = function_calls(_parts_of(candidate), str(chunk.get("responseId", "")), start)
        calls_seen[index] = start + len(calls)
        deltas = tuple(ToolCallDelta(start + k, call.id, call.name, call.arguments) for k, call in enumerate(calls))
        logprobs = openai_logprobs(candidate)
        if text or deltas or logprobs:
            pieces.append(CompletionChunk(text, tool_calls=deltas, index=index, logprobs=logprobs))
        reason = candidate.get("finishReason")
        if reason:
            mapped = "length" if reason == "MAX_TOKENS" else "tool_calls" if calls_seen.get(index) else "stop"
            pieces.append(CompletionChunk(finish_reason=mapped, index=index))
    return pieces
