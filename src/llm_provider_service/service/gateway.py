"""The OpenAI-compatible gateway's use case: route a model name, call the provider with the jobs' resilience.

Kept lean because it sits on every gateway request: routing is one dict lookup, the breaker and the
concurrency limit are in-memory checks, and accounting is a `UsageRecorder.add` (written later, in
batches). Sync calls get a small retry budget — at most `retry_policy.max_attempts` calls and at most
`max_retry_wait_seconds` of added waiting — so a caller is never held for minutes; streams retry only
until their first chunk, because nothing can be taken back once text has been sent.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from llm_provider_service.domain.catalog import ModelCatalog, ModelInfo
from llm_provider_service.domain.embeddings import EmbeddingRequest, EmbeddingResponse
from llm_provider_service.domain.errors import (
    BudgetExhaustedError,
    ModelNotFoundError,
    ProviderError,
    ProviderErrorKind,
    ProviderUnavailableError,
    UnknownModelError,
    UnsupportedParameterError,
)
from llm_provider_service.domain.models import CompletionChunk, CompletionRequest, CompletionResponse, TokenUsage
from llm_provider_service.domain.rate_limits import observing_rate_limits
from llm_provider_service.domain.usage import UsageRecord
from llm_provider_service.ports import Clock, EmbeddingProvider, StreamingLLMProvider
from llm_provider_service.resilience.circuit_breaker import CircuitBreaker, CircuitBreakerRegistry
from llm_provider_service.resilience.retry import RetryPolicy, call_with_retries
from llm_provider_service.service.budget_gate import Admission, BudgetGate, record_provider_failure
from llm_provider_service.service.chat_parameters import OPENAI_PROTOCOL, UnsupportedParamsPolicy, admit
from llm_provider_service.service.limits import ProviderLimits
from llm_provider_service.service.routing import RouteGroup, RouteSpec
from llm_provider_service.service.usage_recorder import UsageRecorder

logger = logging.getLogger(__name__)

T = TypeVar("T")
_MIN_RETRY_AFTER_SECONDS = 1.0
# A sync caller waits for at most this many calls and this much added backoff (Retry-After included).
GATEWAY_MAX_ATTEMPTS = 3
GATEWAY_MAX_RETRY_WAIT_SECONDS = 2.0
# Ad-hoc model ids (any id on an OpenAI-compatible server) whose routes are remembered; beyond this
# many a new id is resolved each time, so callers cannot grow memory.
_MAX_CACHED_ADHOC_ROUTES = 256


@dataclass(frozen=True, slots=True)
class Route:
    """Where a gateway model name leads: the provider and the manifest entry."""

    name: str
    provider: StreamingLLMProvider
    info: ModelInfo
    deployment: str | None = None  # a named deployment of the vendor: its own breaker, limits and budget

    @property
    def provider_name(self) -> str:
        """Who serves: the vendor, or the deployment's name (breakers, limits, usage and headers use it)."""
        return self.deployment or self.info.provider

    @property
    def speaks_openai(self) -> bool:
        """Whether the upstream speaks Chat Completions (and gets the caller's unknown fields verbatim)."""
        return self.info.provider in OPENAI_PROTOCOL


@dataclass(frozen=True, slots=True)
class ListedModel:
    """One `GET /v1/models` entry: a `provider/model-id` or an alias, and who serves it."""

    id: str
    owned_by: str


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
        self._providers = providers
        self._catalog = catalog
        self._breakers = breakers
        self._limits = limits
        self._retry_policy = retry_policy
        self._max_retry_wait_seconds = max_retry_wait_seconds
        self._call_timeout_seconds = call_timeout_seconds
        self._recorder = recorder
        self._clock = clock
        self._sleep = sleep
        self._random = random
        self._on_call = on_call
        self._unsupported_params: UnsupportedParamsPolicy = unsupported_params
        self._budgets = budgets
        self._budget_wait_seconds = budget_wait_seconds
        self._routes: dict[str, Route] = {}
        self._adhoc_routes: dict[str, Route] = {}
        # A deployment (another key or base URL of a vendor) has its own name; its models are the vendor's.
        self._deployment_vendors = dict(deployment_vendors or {})
        self._listing: list[ListedModel] = []
        # Ids: a random per-process prefix and a counter, unique without uuid4's syscall per call.
        self._id_prefix = os.urandom(8).hex()
        self._id_counter = itertools.count(1)
        for info in catalog:
            provider = providers.get(info.provider)
            if provider is not None:
                name = f"{info.provider}/{info.model_id}"
                self._routes[name] = Route(name, provider, info)
                self._listing.append(ListedModel(name, info.provider))
        for alias, target in aliases.items():
            try:
                route = self.route(target)
            except ModelNotFoundError:
                logger.warning("model alias %s -> %s is not served here; ignored", alias, target)
                continue
            self._routes[alias] = route
            self._listing.append(ListedModel(alias, route.provider_name))
        self._groups: dict[str, RouteGroup] = {}
        for name, spec in (model_routes or {}).items():
            group = self._group(name, spec)
            if group is not None:
                self._groups[name] = group
                self._listing.append(ListedModel(name, group.targets[0].provider_name))

    def _group(self, name: str, spec: RouteSpec) -> RouteGroup | None:
        targets, weights = [], []
        for index, target in enumerate(spec.targets):
            try:
                targets.append(self.route(target))
            except ModelNotFoundError:
                logger.warning("route %s: target %s is not served here; left out", name, target)
                continue
            weights.append(spec.weights[index] if index < len(spec.weights) else 1.0)
        if not targets:
            logger.warning("route %s has no target served here; ignored", name)
            return None
        return RouteGroup(name, tuple(targets), spec.strategy, tuple(weights))

    def plan(self, model: str) -> list[Route]:
        """The targets to try for `model`, in order: a route's (by its strategy), else the one route."""
        group = self._groups.get(model)
        if group is None:
            return [self.route(model)]
        return group.ordered(in_flight=self._limits.in_flight, random=self._random)

    def route_groups(self) -> list[RouteGroup]:
        return list(self._groups.values())

    def models(self) -> list[ListedModel]:
        return list(self._listing)

    def new_id(self) -> str:
        """A unique 32-hex-digit id (completion and usage-record ids)."""
        return f"{self._id_prefix}{next(self._id_counter):016x}"

    def route(self, model: str) -> Route:
        """The route of `provider/model-id` or an alias; `ModelNotFoundError` otherwise."""
        found = self._routes.get(model) or self._adhoc_routes.get(model)
        if found is not None:
            return found
        provider_name, slash, model_id = model.partition("/")
        if not slash or not model_id:
            raise ModelNotFoundError(f"model {model!r} does not exist: use provider/model-id or an alias")
        provider = self._providers.get(provider_name)
        if provider is None:
            raise ModelNotFoundError(f"model {model!r} does not exist: provider {provider_name!r} is not configured")
        vendor = self._deployment_vendors.get(provider_name)
        try:
            info = self._catalog.resolve(vendor or provider_name, model_id)
        except UnknownModelError as exc:
            raise ModelNotFoundError(f"model {model!r} does not exist") from exc
        # Ad-hoc ids (OpenAI-compatible servers) and deployments' models get here; a bounded number are remembered.
        route = Route(model, provider, info, deployment=provider_name if vendor is not None else None)
        if len(self._adhoc_routes) < _MAX_CACHED_ADHOC_ROUTES:
            self._adhoc_routes[model] = route
        return route

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
        self._acquire(route)
        started = self._clock.monotonic()
        try:
            admission = await self._admit(route, budget_request) if budget_request is not None else None
            with observing_rate_limits() as seen:
                try:
                    answer = await self._with_retries(lambda attempt: self._attempt(route, call, attempt))
                except ProviderError as error:
                    await self._settle(admission, None, seen.last)
                    self._observe(route, error.kind.value, TokenUsage(), started)
                    raise
            await self._settle(admission, usage_of(answer), seen.last)
        finally:
            self._limits.release(route.provider_name)
        self._record(route, usage_of(answer), started)
        return answer

    async def _admit(self, route: Route, request: CompletionRequest) -> Admission | None:
        """Wait (bounded) for rate budget; past the bound a typed 429 that is not a provider failure."""
        if self._budgets is None:
            return None
        admission = await self._budgets.admit(
            route.provider_name,
            route.info.model_id,
            request,
            job_id=None,
            horizon_seconds=self._budget_wait_seconds,
        )
        if admission.deferred:
            raise BudgetExhaustedError(
                f"rate budget of {admission.key} is exhausted; try again later",
                max(_MIN_RETRY_AFTER_SECONDS, admission.grant.delay_seconds),
            )
        if admission.grant.delay_seconds > 0:
            await self._sleep(admission.grant.delay_seconds)
        return admission

    async def _settle(self, admission: Admission | None, usage: TokenUsage | None, seen: Any) -> None:
        if self._budgets is not None and admission is not None:
            await self._budgets.settle(admission, usage=usage, observation=seen)

    async def _attempt(self, route: Route, call: Callable[[int], Awaitable[T]], attempt: int) -> T:
        breaker = self._allow(route)
        try:
            async with asyncio.timeout(self._call_timeout_seconds):
                response = await call(attempt)
        except TimeoutError as exc:
            error = _timeout(route)
            breaker.record_failure(error)
            raise error from exc
        except ProviderError as error:
            record_provider_failure(breaker, error, budgets_on=self._budgets is not None)
            raise
        except BaseException:
            breaker.record_cancelled()
            raise
        breaker.record_success()
        return response

    # --- streaming -------------------------------------------------------------------------------------

    async def open_stream(self, route: Route, request: CompletionRequest) -> AsyncGenerator[CompletionChunk, None]:
        """Start a stream and wait for its first chunk, so failures to start still map to HTTP statuses.

        The returned iterator must be consumed or closed (`aclose`): it holds the provider's slot.
        """
        self._acquire(route)
        started = self._clock.monotonic()
        try:
            admission = await self._admit(route, request)
            with observing_rate_limits() as seen:
                source, first = await self._with_retries(lambda attempt: self._start(route, request, attempt))
            # Streams settle their learning at the start; the usage refund is not worth holding the stream for.
            await self._settle(admission, None, seen.last)
        except ProviderError as error:
            self._limits.release(route.provider_name)
            self._observe(route, error.kind.value, TokenUsage(), started)
            raise
        except BaseException:
            self._limits.release(route.provider_name)
            raise
        return self._relay(route, source, first, started)

    async def _start(
        self, route: Route, request: CompletionRequest, attempt: int
    ) -> tuple[AsyncIterator[CompletionChunk], CompletionChunk | None]:
        breaker = self._allow(route)
        call = replace(request, attempt=attempt) if attempt != request.attempt else request
        source = route.provider.stream(call)
        try:
            async with asyncio.timeout(self._call_timeout_seconds):
                first = await anext(source, None)
        except TimeoutError as exc:
            await _close(source)
            error = _timeout(route)
            breaker.record_failure(error)
            raise error from exc
        except ProviderError as error:
            await _close(source)
            record_provider_failure(breaker, error, budgets_on=self._budgets is not None)
            raise
        except BaseException:
            await _close(source)
            breaker.record_cancelled()
            raise
        return source, first

    async def _relay(
        self,
        route: Route,
        source: AsyncIterator[CompletionChunk],
        first: CompletionChunk | None,
        started: float,
    ) -> AsyncGenerator[CompletionChunk, None]:
        breaker = self._breakers.get(route.provider_name)
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
            self._limits.release(route.provider_name)
            await _close(source)

    # --- shared ----------------------------------------------------------------------------------------

    def _acquire(self, route: Route) -> None:
        if not self._limits.try_acquire(route.provider_name):
            raise ProviderUnavailableError(
                f"provider {route.provider_name} is at its concurrency limit", _MIN_RETRY_AFTER_SECONDS
            )

    def _allow(self, route: Route) -> CircuitBreaker:
        breaker = self._breakers.get(route.provider_name)
        if not breaker.allow():
            wait = max(_MIN_RETRY_AFTER_SECONDS, breaker.retry_after_seconds())
            raise ProviderUnavailableError(f"provider {route.provider_name} is unavailable (circuit open)", wait)
        return breaker

    async def _with_retries(self, call: Callable[[int], Awaitable[T]]) -> T:
        waited = 0.0

        def within_budget(attempt: int, error: ProviderError, delay_seconds: float) -> None:
            nonlocal waited
            if waited + delay_seconds > self._max_retry_wait_seconds:
                raise error  # a sync caller is not held longer: answer with this error now
            waited += delay_seconds

        return await call_with_retries(
            call, self._retry_policy, sleep=self._sleep, random=self._random, on_retry=within_budget
        )

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


def _timeout(route: Route) -> ProviderError:
    return ProviderError(ProviderErrorKind.TIMEOUT, "provider call timed out", provider=route.provider_name)


async def _close(source: AsyncIterator[CompletionChunk]) -> None:
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        await aclose()
