"""Anthropic Messages adapter: structured output through one forced tool, prompt caching, extended thinking.

The output schema becomes the `input_schema` of a single tool the model must call. Extended thinking
cannot be combined with a forced tool (the API answers 400), so when `reasoning_effort` asks for thinking
the tool is offered with `tool_choice: auto` and the system prompt tells the model to call it; a missing
tool call is then an `invalid_response` the core repairs once, never a guessed answer.

Anthropic has no JSON mode: an `OutputSchema.json_object` request takes the same path with a tool whose
`input_schema` is any object, so the answer is still a JSON object by construction, not by prompting.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from llm_provider_service.domain.chat import ToolCall, ToolCallDelta
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import (
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    ReasoningEffort,
    TextBlock,
    TokenUsage,
)
from llm_provider_service.providers.anthropic_messages import anthropic_messages, tool_options
from llm_provider_service.providers.errors import stream_error
from llm_provider_service.providers.http_client import VendorTransport
from llm_provider_service.providers.mock_forwarding import with_intrinsic_ms
from llm_provider_service.providers.structured import as_dict, as_int, content_filtered, invalid_response

DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
# Anthropic requires max_tokens; a verdict or a short chat answer fits well within this.
DEFAULT_MAX_TOKENS = 4096
# Thinking budgets per effort (the API minimum is 1024); max_tokens must exceed the budget.
THINKING_BUDGET_TOKENS = {ReasoningEffort.LOW: 1024, ReasoningEffort.MEDIUM: 4096, ReasoningEffort.HIGH: 16384}
# The API accepts at most four cache breakpoints per request.
_MAX_CACHE_BREAKPOINTS = 4
# Anthropic reports cached prompt tokens apart from `input_tokens`; all of them were read.
_INPUT_TOKEN_FIELDS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def anthropic_headers(api_key: str) -> dict[str, str]:
    return {"x-api-key": api_key, "anthropic-version": ANTHROPIC_VERSION}


class AnthropicProvider:
    """A `StreamingLLMProvider` for the Anthropic Messages API over the shared session."""

    def __init__(self, transport: VendorTransport, *, name: str = "anthropic") -> None:
        self._transport = transport
        self._name = name

    @property
    def transport(self) -> VendorTransport:
        """The transport its calls go over (the vendor's batch client shares it)."""
        return self._transport

    @property
    def name(self) -> str:
        return self._name

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        payload = self.build_payload(request, stream=False)
        answer = await self._transport.post_json("/v1/messages", payload, call=request)
        return with_intrinsic_ms(self.parse_response(request, answer.body), answer.mock_intrinsic_ms)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        prompt_tokens, completion_tokens, stop = 0, 0, ""
        tools: dict[int, int] = {}  # content block index -> tool call index
        structured = request.output_schema is not None
        events = self._transport.post_sse("/v1/messages", self.build_payload(request, stream=True), call=request)
        async for event in events:
            data = self._event_data(event.data)
            kind = data.get("type")
            if kind == "error":
                raise stream_error(self.name, data)
            if kind in ("content_block_delta", "content_block_start"):
                chunk = self._block_chunk(data, tools, structured=structured)
                if chunk is not None:
                    yield chunk
            elif kind == "message_start":
                usage = as_dict(as_dict(data.get("message")).get("usage"))
                prompt_tokens = sum(as_int(usage.get(key)) for key in _INPUT_TOKEN_FIELDS)
                completion_tokens = as_int(usage.get("output_tokens"))
            elif kind == "message_delta":
                stop = str(as_dict(data.get("delta")).get("stop_reason") or stop)
                if stop == "refusal":
                    raise content_filtered(self.name, "the model refused to answer")
                # `message_delta` usage is cumulative: the final output count, not an increment.
                completion_tokens = as_int(as_dict(data.get("usage")).get("output_tokens")) or completion_tokens
            elif kind == "message_stop":
                break
        yield CompletionChunk(
            usage=TokenUsage(prompt_tokens, completion_tokens), finish_reason=self._finish(stop, tools)
        )

    @staticmethod
    def _block_chunk(data: dict[str, Any], tools: dict[int, int], *, structured: bool) -> CompletionChunk | None:
        """A text or tool-call piece from a content block event; `tools` maps block index -> call index."""
        block = as_int(data.get("index"))
        if data.get("type") == "content_block_start":
            started = as_dict(data.get("content_block"))
            if structured or started.get("type") != "tool_use":
                return None
            index = tools[block] = len(tools)
            first = ToolCallDelta(index, id=str(started.get("id") or ""), name=str(started.get("name") or ""))
            return CompletionChunk(tool_calls=(first,))
        delta = as_dict(data.get("delta"))
        if delta.get("type") == "text_delta" and delta.get("text"):
            return CompletionChunk(str(delta["text"]))
        if delta.get("type") == "input_json_delta" and delta.get("partial_json"):
            piece = str(delta["partial_json"])
            if structured or block not in tools:  # the forced output tool's input is the answer text
                return CompletionChunk(piece)
            return CompletionChunk(tool_calls=(ToolCallDelta(tools[block], arguments=piece),))
        return None

    @staticmethod
    def _finish(stop: str, tool_calls: object) -> str:
        if stop == "max_tokens":
            return "length"
        return "tool_calls" if stop == "tool_use" and tool_calls else "stop"

    def _event_data(self, data: str) -> dict[str, Any]:
        try:
            decoded = json.loads(data)
        except json.JSONDecodeError as exc:
            raise invalid_response(self.name, "stream event is not JSON") from exc
        if not isinstance(decoded, dict):
            raise invalid_response(self.name, "stream event is not a JSON object")
        return decoded

    # --- request -------------------------------------------------------------------------------------

    def build_payload(self, request: CompletionRequest, *, stream: bool) -> dict[str, Any]:
        if request.output_verbosity is not None:
            raise self._unsupported("Anthropic models have no output verbosity setting")
        effort = request.reasoning_effort
        budget = THINKING_BUDGET_TOKENS.get(effort) if effort is not None else None
        answer_tokens = request.max_tokens or DEFAULT_MAX_TOKENS
        payload: dict[str, Any] = {
            "model": request.model,
            "max_tokens": answer_tokens + (budget or 0),
            "messages": anthropic_messages(
                request, self.name, text_block=self._text_block, breakpoints=self._breakpoints(request)
            ),
        }
        payload.update(tool_options(request, self.name))
        system = self._system_blocks(request, thinking=budget is not None)
        if system:
            payload["system"] = system
        if budget is not None:
            if request.temperature is not None:
                raise self._unsupported("temperature cannot be set together with extended thinking")
            payload["thinking"] = {"type": "enabled", "budget_tokens": budget}
        elif effort is ReasoningEffort.NONE:
            payload["thinking"] = {"type": "disabled"}
        if request.temperature is not None:
            payload["temperature"] = request.temperature
        if request.output_schema is not None:
            schema = request.output_schema
            payload["tools"] = [
                {"name": schema.name, "description": schema.description, "input_schema": dict(schema.json_schema)}
            ]
            payload["tool_choice"] = {"type": "auto"} if budget is not None else {"type": "tool", "name": schema.name}
        if stream:
            payload["stream"] = True
        return payload

    @staticmethod
    def _breakpoints(request: CompletionRequest) -> frozenset[int]:
        """Which cacheable blocks get a cache breakpoint: the last four, counting system blocks then message parts
        in prompt order (Anthropic allows four; a later breakpoint caches the whole prefix before it)."""
        flags = [block.cacheable for block in request.system]
        flags.extend(part.cacheable for message in request.messages for part in message.parts)
        cacheable = [index for index, flag in enumerate(flags) if flag]
        return frozenset(cacheable[-_MAX_CACHE_BREAKPOINTS:])

    @staticmethod
    def _text_block(block: TextBlock, cached: bool) -> dict[str, Any]:
        text: dict[str, Any] = {"type": "text", "text": block.text}
        if cached:
            text["cache_control"] = {"type": "ephemeral", "ttl": "1h"} if block.ttl == "1h" else {"type": "ephemeral"}
        return text

    def _system_blocks(self, request: CompletionRequest, *, thinking: bool) -> list[dict[str, Any]]:
        breakpoints = self._breakpoints(request)
        blocks = [self._text_block(block, index in breakpoints) for index, block in enumerate(request.system)]
        if thinking and request.output_schema is not None:
            # Appended after the cached prefix so that caching still applies.
            blocks.append(
                {"type": "text", "text": f"Give your answer by calling the tool {request.output_schema.name}."}
            )
        return blocks

    def _unsupported(self, message: str) -> ProviderError:
        return ProviderError(ProviderErrorKind.INVALID_REQUEST, f"{self.name}: {message}", provider=self.name)

    # --- response ------------------------------------------------------------------------------------

    def parse_response(self, request: CompletionRequest, body: Mapping[str, Any]) -> CompletionResponse:
        stop = str(body.get("stop_reason") or "")
        if stop == "refusal":
            raise content_filtered(self.name, "the model refused to answer")
        content = body.get("content")
        blocks = [block for block in content if isinstance(block, dict)] if isinstance(content, list) else []
        text = "".join(str(block.get("text", "")) for block in blocks if block.get("type") == "text")
        structured = None
        calls: tuple[ToolCall, ...] = ()
        if request.output_schema is not None:
            structured = self._tool_input(blocks, request.output_schema.name, truncated=stop == "max_tokens")
            text = json.dumps(structured)
        else:
            calls = tuple(
                ToolCall(str(block.get("id") or ""), str(block.get("name") or ""), json.dumps(block.get("input") or {}))
                for block in blocks
                if block.get("type") == "tool_use"
            )
            if not text and not calls:
                cut = " (cut off at the token limit)" if stop == "max_tokens" else ""
                raise invalid_response(self.name, f"answer has no text{cut}")
        usage = as_dict(body.get("usage"))
        prompt_tokens: int = sum(as_int(usage.get(key)) for key in _INPUT_TOKEN_FIELDS)
        return CompletionResponse(
            text=text,
            usage=TokenUsage(prompt_tokens, as_int(usage.get("output_tokens"))),
            model=str(body.get("model") or request.model),
            finish_reason=self._finish(stop, calls),
            structured=structured,
            tool_calls=calls,
            provider_metadata={
                "response_id": str(body.get("id", "")),
                "stop_reason": stop,
                "cache_read_input_tokens": as_int(usage.get("cache_read_input_tokens")),
                "cache_creation_input_tokens": as_int(usage.get("cache_creation_input_tokens")),
            },
        )

    def _tool_input(self, blocks: list[dict[str, Any]], tool_name: str, *, truncated: bool) -> dict[str, Any]:
        for block in blocks:
            if block.get("type") == "tool_use" and block.get("name") == tool_name:
                tool_input = block.get("input")
                if isinstance(tool_input, dict):
                    return tool_input
                raise invalid_response(self.name, "tool input is not a JSON object")
        cut = " (cut off at the token limit)" if truncated else ""
        raise invalid_response(self.name, f"answer has no {tool_name} tool call{cut}")
