"""The OpenAI-compatible gateway's use case: route a model name, call the provider with the jobs' resilience.

Kept lean because it sits on every gateway request: routing is one dict lookup (`gateway_routes.py`), the
breaker, the concurrency limit and the retry budget are in-memory checks (`gateway_calls.py`), and accounting
is a `UsageRecorder.add` (written later, in batches). Streams retry only until their first chunk, because
nothing can be taken back once text has been sent.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import TypeVar

from llm_provider_service.domain.catalog import ModelCatalog
from llm_provider_service.domain.embeddings import EmbeddingRequest, EmbeddingResponse
from llm_provider_service.domain.errors import ProviderError, UnsupportedParameterError
from llm_provider_service.domain.models import CompletionChunk, CompletionRequest, CompletionResponse, TokenUsage
from llm_provider_service.domain.usage import UsageRecord
from llm_provider_service.ports import Clock, EmbeddingProvider, StreamingLLMProvider
from llm_provider_service.resilience.circuit_breaker import CircuitBreakerRegistry
from llm_provider_service.resilience.retry import RetryPolicy
from llm_provider_service.service.budget_gate import BudgetGate
from llm_provider_service.service.chat_parameters import UnsupportedParamsPolicy, admit
from llm_provider_service.service.gateway_calls import CallGuard, close_stream
from llm_provider_service.service.gateway_routes import ListedModel, Route, RouteTable
from llm_provider_service.service.limits import ProviderLimits
from llm_provider_service.service.routing import RouteGroup, RouteSpec
from llm_provider_service.service.usage_recorder import UsageRecorder

T = TypeVar("T")
# A sync caller waits for at most this many calls and this much added backoff (Retry-After included).
GATEWAY_MAX_ATTEMPTS = 3
GATEWAY_MAX_RETRY_WAIT_SECONDS = 2.0
__all__ = ["GATEWAY_MAX_ATTEMPTS", "GATEWAY_MAX_RETRY_WAIT_SECONDS", "ChatGateway", "ListedModel", "Route"]


class ChatGateway:
    """Routes and performs gateway calls; the HTTP edge only parses and renders."""

    def __init__(
        self,
        *,
        providers: Mapping[str, StreamingLLMProvider],
        catalog: ModelCatalog,
        aliases: Mapping[str, str],
        breakers: CircuitBreakerRegistry,
        limits: ProviderLimits,
        retry_policy: RetryPolicy,
        max_retry_wait_seconds: float,
        call_timeout_seconds: float,
        recorder: UsageRecorder,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float],
        on_call: Callable[[UsageRecord], None] = lambda record: None,
        unsupported_params: UnsupportedParamsPolicy = "drop",
        model_routes: Mapping[str, RouteSpec] | None = None,
        deployment_vendors: Mapping[str, str] | None = None,
        budgets: BudgetGate | None = None,
        budget_wait_seconds: float = 5.0,
    ) -> None:
        self._limits = limits
        self._recorder = recorder
        self._clock = clock
        self._random = random
        self._on_call = on_call
        self._unsupported_params: UnsupportedParamsPolicy = unsupported_params
        self._guard = CallGuard(
            breakers=breakers,
            limits=limits,
            retry_policy=retry_policy,
            max_retry_wait_seconds=max_retry_wait_seconds,
            call_timeout_seconds=call_timeout_seconds,
            sleep=sleep,
            random=random,
            budgets=budgets,
            budget_wait_seconds=budget_wait_seconds,
        )
        self._table = RouteTable(
            providers=providers,
            catalog=catalog,
            aliases=aliases,
            model_routes=model_routes,
            deployment_vendors=deployment_vendors,
        )
        # Ids: a random per-process prefix and a counter, unique without uuid4's syscall per call.
        self._id_prefix = os.urandom(8).hex()
        self._id_counter = itertools.count(1)

    def plan(self, model: str) -> list[Route]:
        """The targets to try for `model`, in order: a route's (by its strategy), else the one route."""
        return self._table.plan(model, in_flight=self._limits.in_flight, random=self._random)

    def route(self, model: str) -> Route:
        """The route of `provider/model-id` or an alias; `ModelNotFoundError` otherwise."""
        return self._table.route(model)

    def route_groups(self) -> list[RouteGroup]:
        return self._table.groups()

    def models(self) -> list[ListedModel]:
        return self._table.models()

    def new_id(self) -> str:
        """A unique 32-hex-digit id (completion and usage-record ids)."""
        return f"{self._id_prefix}{next(self._id_counter):016x}"

    def admit(
        self, route: Route, request: CompletionRequest, present: Iterable[str], *, stream: bool
    ) -> tuple[CompletionRequest, tuple[str, ...]]:
        """Apply the drop|reject policy: the call as the vendor gets it and the parameters dropped."""
        return admit(route.name, route.info, request, present, self._unsupported_params, stream=stream)

    # --- sync ------------------------------------------------------------------------------------------

    async def complete(self, route: Route, request: CompletionRequest) -> CompletionResponse:
        """One answer, retried within the budget; `ProviderError` / `ProviderUnavailableError` otherwise."""

        def call(attempt: int) -> Awaitable[CompletionResponse]:
            return route.provider.complete(replace(request, attempt=attempt) if attempt != request.attempt else request)

        return await self._sync(route, call, lambda answer: answer.usage, request)

    async def embed(self, route: Route, request: EmbeddingRequest) -> EmbeddingResponse:
        """Vectors for the inputs, with the same budget and accounting; 400 if the vendor has no embeddings."""
        provider = route.provider
        if not isinstance(provider, EmbeddingProvider):
            raise UnsupportedParameterError(f"{route.name} has no embeddings API", param="model")

        def call(attempt: int) -> Awaitable[EmbeddingResponse]:
            return provider.embed(replace(request, attempt=attempt) if attempt != request.attempt else request)

        # Embeddings are not metered by the rate budgets (their estimator reads chat messages).
        return await self._sync(route, call, lambda answer: answer.usage, None)

    async def _sync(
        self,
        route: Route,
        call: Callable[[int], Awaitable[T]],
        usage_of: Callable[[T], TokenUsage],
        budget_request: CompletionRequest | None,
    ) -> T:
        """One call under the limits, rate budget (completions only), breaker and retry budget; accounted."""
        guard = self._guard
        guard.acquire(route)
        started = self._clock.monotonic()
        try:
            admission = await guard.admit(route, budget_request) if budget_request is not None else None
            with guard.observing() as seen:
                try:
                    answer = await guard.with_retries(lambda attempt: guard.attempt(route, call, attempt))
                except ProviderError as error:
                    await guard.settle(admission, None, seen.last)
                    self._observe(route, error.kind.value, TokenUsage(), started)
                    raise
            await guard.settle(admission, usage_of(answer), seen.last)
        finally:
            guard.release(route)
        self._record(route, usage_of(answer), started)
        return answer

    # --- streaming -------------------------------------------------------------------------------------

    async def open_stream(self, route: Route, request: CompletionRequest) -> AsyncGenerator[CompletionChunk, None]:
        """Start a stream and wait for its first chunk, so failures to start still map to HTTP statuses.

        The returned iterator must be consumed or closed (`aclose`): it holds the provider's slot.
        """
        guard = self._guard
        guard.acquire(route)
        started = self._clock.monotonic()
        try:
            admission = await guard.admit(route, request)
            with guard.observing() as seen:
                source, first = await guard.with_retries(lambda attempt: guard.start(route, request, attempt))
            # Streams settle their learning at the start; the usage refund is not worth holding the stream for.
            await guard.settle(admission, None, seen.last)
        except ProviderError as error:
            guard.release(route)
            self._observe(route, error.kind.value, TokenUsage(), started)
            raise
        except BaseException:
            guard.release(route)
            raise
        return self._relay(route, source, first, started)

    async def _relay(
        self,
        route: Route,
        source: AsyncIterator[CompletionChunk],
        first: CompletionChunk | None,
        started: float,
    ) -> AsyncGenerator[CompletionChunk, None]:
        guard = self._guard
        breaker = guard.breaker(route)
        usage: TokenUsage | None = None
        try:
            chunk = first
            while chunk is not None:
                usage = chunk.usage or usage
                yield chunk
                chunk = await anext(source, None)
        except ProviderError as error:
            breaker.record_failure(error)
            self._observe(route, error.kind.value, TokenUsage(), started)
            raise
        except BaseException:  # the client went away (GeneratorExit) or the server is stopping
            breaker.record_cancelled()
            self._observe(route, "cancelled", usage or TokenUsage(), started)
            raise
        else:
            breaker.record_success()
            self._record(route, usage or TokenUsage(), started)
        finally:
            guard.release(route)
            await close_stream(source)

    # --- accounting ------------------------------------------------------------------------------------

    def _record(self, route: Route, usage: TokenUsage, started: float) -> None:
        record = self._observe(route, "ok", usage, started)
        self._recorder.add(record)

    def _observe(self, route: Route, outcome: str, usage: TokenUsage, started: float) -> UsageRecord:
        record = UsageRecord(
            id=self.new_id(),
            source="gateway",
            provider=route.provider_name,
            model=route.info.model_id,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost_usd=route.info.cost_usd(usage),
            latency_ms=round((self._clock.monotonic() - started) * 1000),
            outcome=outcome,
            created_at=self._clock.now(),
        )
        self._on_call(record)
        return record
