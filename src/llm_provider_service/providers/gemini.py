"""Gemini `generateContent` adapter: `responseSchema` structured output, `thinkingConfig`, real usage counts.

Gemini takes an OpenAPI subset, not JSON Schema: upper-case types, `nullable` instead of `"null"`
types, no `additionalProperties`. `gemini_schema` translates, and refuses what it cannot express.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import (
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    JsonObject,
    ReasoningEffort,
    TokenUsage,
)
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

    async def stream(self, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        path = self._path(request.model, "streamGenerateContent") + "?alt=sse"
        usage: TokenUsage | None = None
        finish: str | None = None
        async for event in self._transport.post_sse(path, self.build_payload(request), call=request):
            try:
                chunk = json.loads(event.data)
            except json.JSONDecodeError as exc:
                raise invalid_response(self.name, "stream chunk is not JSON") from exc
            if not isinstance(chunk, dict):
                raise invalid_response(self.name, "stream chunk is not a JSON object")
            if "error" in chunk:
                raise stream_error(self.name, chunk)
            self._raise_if_blocked(chunk)
            text = self._text(chunk)
            if text:
                yield CompletionChunk(text)
            if isinstance(chunk.get("usageMetadata"), dict):  # cumulative: the last one holds the totals
                usage = self._usage(chunk["usageMetadata"])
            candidates = chunk.get("candidates")
            if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
                reason = candidates[0].get("finishReason")
                finish = ("length" if reason == "MAX_TOKENS" else "stop") if reason else finish
        if usage is not None or finish is not None:
            yield CompletionChunk(usage=usage, finish_reason=finish)

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
        payload: dict[str, Any] = {
            "contents": [
                {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
                for m in request.messages
                if m.role != "system"
            ]
        }
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
        content = candidates[0].get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        return "".join(
            str(part.get("text", ""))
            for part in parts or ()
            if isinstance(part, dict) and not part.get("thought")  # thought summaries are not the answer
        )

    def parse_response(self, request: CompletionRequest, body: Mapping[str, Any]) -> CompletionResponse:
        self._raise_if_blocked(body)
        candidates = body.get("candidates")
        if not isinstance(candidates, list) or not candidates or not isinstance(candidates[0], dict):
            raise invalid_response(self.name, "answer has no candidates")
        finish = str(candidates[0].get("finishReason") or "STOP")
        truncated = finish == "MAX_TOKENS"
        text = self._text(body)
        structured = None
        if request.output_schema is not None:
            structured = parse_json_object(self.name, text, truncated=truncated)
        elif not text:
            raise invalid_response(self.name, "empty answer" + (" (cut off at the token limit)" if truncated else ""))
        usage = as_dict(body.get("usageMetadata"))
        return CompletionResponse(
            text=text,
            usage=self._usage(usage),
            model=str(body.get("modelVersion") or request.model),
            finish_reason="length" if truncated else "stop",
            structured=structured,
            provider_metadata={
                "response_id": str(body.get("responseId", "")),
                "finish_reason": finish,
                "thoughts_token_count": as_int(usage.get("thoughtsTokenCount")),
            },
        )
