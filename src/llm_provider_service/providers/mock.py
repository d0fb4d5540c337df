"""The in-process `mock` provider: the deterministic mock engine behind the provider port, no network."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson

from llm_provider_service.domain.chat import AnswerChoice, ImagePart, ToolCall, ToolCallDelta
from llm_provider_service.domain.embeddings import EmbeddingRequest, EmbeddingResponse
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import (
    MOCK_INTRINSIC_MS_KEY,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    TokenUsage,
)
from llm_provider_service.domain.rate_limits import (
    Dimension,
    DimensionReading,
    RateLimitObservation,
    observing,
    report_rate_limits,
)
from llm_provider_service.mock.embeddings import mock_embedding
from llm_provider_service.mock.engine import MockCall, MockEngine, MockResult, token_count
from llm_provider_service.mock.profile import FaultKind
from llm_provider_service.mock.rate_limit import RateLimitDecision
from llm_provider_service.mock.tool_calls import (
    ToolCallScriptError,
    ToolPlan,
    argument_pieces,
    call_arguments,
    plan_tool_call,
)

Sleep = Callable[[float], Awaitable[None]]
# What a JSON-mode (`json_object`) answer looks like, the same as the mock server's OpenAI wire sends.
JSON_MODE_ANSWER_SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}

# The HTTP status each fault has at a real vendor, reported as `http_status` for logs and metrics.
_FAULT_ERRORS: dict[FaultKind, tuple[ProviderErrorKind, int | None, str]] = {
    FaultKind.RATE_LIMITED: (ProviderErrorKind.RATE_LIMITED, 429, "mock: rate limited"),
    FaultKind.OVERLOADED: (ProviderErrorKind.OVERLOADED, 529, "mock: overloaded"),
    FaultKind.SERVER_ERROR: (ProviderErrorKind.SERVER_ERROR, 500, "mock: internal server error"),
    FaultKind.TIMEOUT: (ProviderErrorKind.TIMEOUT, None, "mock: request timed out"),
    FaultKind.UNAUTHORIZED: (ProviderErrorKind.AUTHENTICATION, 401, "mock: invalid API key"),
}


def prompt_text(request: CompletionRequest) -> str:
    """Everything the mock 'reads': system blocks then messages, as one string."""
    parts = [block.text for block in request.system]
    parts.extend(f"{message.role}: {message.content}" for message in request.messages)
    return "\n\n".join(parts)


def _tool_plan(request: CompletionRequest, scripted: str | None) -> ToolPlan | None:
    choice = request.options.tool_choice
    if not request.options.tools or (choice is not None and choice.mode == "none"):
        return None
    forced = None
    if choice is not None and choice.mode in ("required", "function"):
        forced = choice.name or ""
    after_tool = bool(request.messages) and request.messages[-1].role == "tool"
    tools = {tool.name: tool.schema for tool in request.options.tools}
    return plan_tool_call(tools, forced=forced, scripted=scripted, after_tool_result=after_tool)


class MockProvider:
    """A `StreamingLLMProvider` answering from a `MockEngine`.

    Waits through the injected `sleep` (so unit tests never sleep for real), raises `ProviderError`
    for error faults, and returns broken JSON (`malformed`) or rule-breaking JSON (`invalid_output`)
    for the faults the core's strict validator must catch.
    """

    def __init__(self, engine: MockEngine, *, sleep: Sleep = asyncio.sleep, name: str = "mock") -> None:
        self._engine = engine
        self._sleep = sleep
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        result, call = self._respond(request)
        await self._wait_ms(result.intrinsic_ms)
        self._raise_fault(result)
        return CompletionResponse(
            text="" if call is not None else result.text,
            usage=TokenUsage(result.prompt_tokens, result.completion_tokens),
            model=request.model,
            finish_reason="tool_calls" if call is not None else "stop",
            structured=result.structured if request.output_schema is not None and call is None else None,
            provider_metadata={MOCK_INTRINSIC_MS_KEY: round(result.intrinsic_ms, 3), "mock_scenario": result.outcome},
            tool_calls=(call,) if call is not None else (),
            more_choices=tuple(AnswerChoice(text) for text in result.more_texts),
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        """Text deltas paced by the profile (latency, then TTFT before the first, inter-token between),
        then a last chunk with the usage."""
        result, call = self._respond(request)
        await self._wait_ms(result.latency_ms)
        self._raise_fault(result)
        await self._wait_ms(result.ttft_ms)
        if call is not None:
            yield CompletionChunk(tool_calls=(ToolCallDelta(0, call.id, call.name),))
        pieces = argument_pieces(call.arguments) if call is not None else result.chunks
        for index, piece in enumerate(pieces):
            if index:
                await self._wait_ms(result.inter_token_ms)
            yield (
                CompletionChunk(piece)
                if call is None
                else CompletionChunk(tool_calls=(ToolCallDelta(0, arguments=piece),))
            )
        for index, text in enumerate(result.more_texts, start=1):
            yield CompletionChunk(text, index=index)
            yield CompletionChunk(finish_reason="stop", index=index)
        usage = TokenUsage(result.prompt_tokens, result.completion_tokens)
        yield CompletionChunk(usage=usage, finish_reason="tool_calls" if call is not None else "stop")

    def _respond(self, request: CompletionRequest) -> tuple[MockResult, ToolCall | None]:
        """The engine's result and, when the mock calls a tool, that call."""
        control = request.mock
        try:
            plan = _tool_plan(request, control.tool_call)
        except ToolCallScriptError as exc:
            raise ProviderError(ProviderErrorKind.INVALID_REQUEST, str(exc), provider=self._name) from exc
        schema = request.output_schema.json_schema if request.output_schema is not None else None
        if request.output_schema is not None and request.output_schema.json_object:
            schema = JSON_MODE_ANSWER_SCHEMA  # JSON mode: an object, shaped as the mock server answers it
        call = MockCall(
            prompt=prompt_text(request),
            key=request.request_key,
            attempt=request.attempt,
            schema=plan.schema if plan is not None else schema,
            control=control,
            stop=request.options.stop if plan is None else (),
            images=sum(isinstance(part, ImagePart) for message in request.messages for part in message.parts),
            choices=request.options.n if plan is None else 1,
        )
        result = self._engine.respond(call)
        if result.rate_limit is not None and observing():
            report_rate_limits(_observation(result.rate_limit))
        if plan is None:
            return result, None
        arguments = orjson.dumps(call_arguments(plan, result.structured)).decode()
        digest = hashlib.sha256(f"{request.request_key}\x00{plan.name}".encode()).hexdigest()[:24]
        return result, ToolCall(f"call_{digest}", plan.name, arguments)

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Deterministic vectors (`mock/embeddings.py`), with the same faults and latency as a completion."""
        control = request.mock
        prompt = "\n".join(request.inputs)
        result = self._engine.respond(
            MockCall(prompt=prompt, key=request.request_key, attempt=request.attempt, control=control)
        )
        await self._wait_ms(result.latency_ms)
        self._raise_fault(result)
        seed = self._engine.profile.seed
        vectors = tuple(mock_embedding(seed, text, request.dimensions) for text in request.inputs)
        tokens = sum(max(token_count(text), 1) for text in request.inputs)
        return EmbeddingResponse(
            vectors, TokenUsage(tokens, 0), request.model, {"mock_intrinsic_ms": result.latency_ms}
        )

    def _raise_fault(self, result: MockResult) -> None:
        fault = result.fault
        if fault is None or fault not in _FAULT_ERRORS:
            return
        kind, status, message = _FAULT_ERRORS[fault]
        raise ProviderError(
            kind,
            message,
            provider=self._name,
            retry_after_seconds=result.retry_after_seconds,
            http_status=status,
        )

    async def _wait_ms(self, milliseconds: float) -> None:
        if milliseconds > 0:
            await self._sleep(milliseconds / 1000.0)


def _observation(decision: RateLimitDecision) -> RateLimitObservation:
    """What a vendor's headers would have said about this decision."""
    readings = {}
    if decision.requests_limit:
        readings[Dimension.REQUESTS] = DimensionReading(
            decision.requests_limit, decision.requests_remaining, decision.reset_seconds
        )
    if decision.tokens_limit:
        readings[Dimension.TOKENS] = DimensionReading(
            decision.tokens_limit, decision.tokens_remaining, decision.reset_seconds
        )
    return RateLimitObservation(
        status=200 if decision.admitted else 429,
        readings=readings,
        retry_after_seconds=decision.retry_after_seconds,
    )
