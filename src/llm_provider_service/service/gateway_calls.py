"""The resilience around one gateway call: concurrency slot, rate budget, breaker, timeout and retry budget.

In-memory checks only (the budget gate aside, which is off unless budgets are configured), because every
gateway request passes through here. A sync caller is held for at most `retry_policy.max_attempts` calls and
`max_retry_wait_seconds` of added waiting (Retry-After included); a stream retries only until its first chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any, TypeVar

from llm_provider_service.domain.errors import (
    BudgetExhaustedError,
    ProviderError,
    ProviderErrorKind,
    ProviderUnavailableError,
)
from llm_provider_service.domain.models import CompletionChunk, CompletionRequest, TokenUsage
from llm_provider_service.domain.rate_limits import ObservationSink, observing_rate_limits
from llm_provider_service.resilience.circuit_breaker import CircuitBreaker, CircuitBreakerRegistry
from llm_provider_service.resilience.retry import RetryPolicy, call_with_retries
from llm_provider_service.service.budget_gate import Admission, BudgetGate, record_provider_failure
from llm_provider_service.service.gateway_routes import Route
from llm_provider_service.service.limits import ProviderLimits

T = TypeVar("T")
MIN_RETRY_AFTER_SECONDS = 1.0
# Without budgets nobody reads vendors' rate-limit headers: no sink is installed, so adapters skip parsing them.
_UNOBSERVED = contextlib.nullcontext(ObservationSink())


class CallGuard:
    """Admits, bounds and accounts one provider call of the gateway (sync or the start of a stream)."""

    def __init__(
        self,
        *,
        breakers: CircuitBreakerRegistry,
        limits: ProviderLimits,
        retry_policy: RetryPolicy,
        max_retry_wait_seconds: float,
        call_timeout_seconds: float,
        sleep: Callable[[float], Awaitable[None]],
        random: Callable[[], float],
        budgets: BudgetGate | None,
        budget_wait_seconds: float,
    ) -> None:
        self._breakers = breakers
        self._limits = limits
        self._retry_policy = retry_policy
        self._max_retry_wait_seconds = max_retry_wait_seconds
        self._call_timeout_seconds = call_timeout_seconds
        self._sleep = sleep
        self._random = random
        self._budgets = budgets
        self._budget_wait_seconds = budget_wait_seconds

    def observing(self) -> contextlib.AbstractContextManager[ObservationSink]:
        """Collects the vendor's rate-limit headers for the budgets; a no-op (nothing parsed) without budgets."""
        return observing_rate_limits() if self._budgets is not None else _UNOBSERVED

    def acquire(self, route: Route) -> None:
        if not self._limits.try_acquire(route.provider_name):
            raise ProviderUnavailableError(
                f"provider {route.provider_name} is at its concurrency limit", MIN_RETRY_AFTER_SECONDS
            )

    def release(self, route: Route) -> None:
        self._limits.release(route.provider_name)

    def breaker(self, route: Route) -> CircuitBreaker:
        return self._breakers.get(route.provider_name)

    def allow(self, route: Route) -> CircuitBreaker:
        breaker = self._breakers.get(route.provider_name)
        if not breaker.allow():
            wait = max(MIN_RETRY_AFTER_SECONDS, breaker.retry_after_seconds())
            raise ProviderUnavailableError(f"provider {route.provider_name} is unavailable (circuit open)", wait)
        return breaker

    async def admit(self, route: Route, request: CompletionRequest) -> Admission | None:
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
                max(MIN_RETRY_AFTER_SECONDS, admission.grant.delay_seconds),
            )
        if admission.grant.delay_seconds > 0:
            await self._sleep(admission.grant.delay_seconds)
        return admission

    async def settle(self, admission: Admission | None, usage: TokenUsage | None, seen: Any) -> None:
        if self._budgets is not None and admission is not None:
            await self._budgets.settle(admission, usage=usage, observation=seen)

    async def attempt(self, route: Route, call: Callable[[int], Awaitable[T]], attempt: int) -> T:
        """One call within the timeout; its outcome goes to the route's breaker.

        A provider whose transport already bounds the whole call by no more than our timeout (and reports a
        timeout as a `ProviderError` of kind TIMEOUT) gets no second timer on the hot path.
        """
        breaker = self.allow(route)
        try:
            if _self_bounded(route.provider, self._call_timeout_seconds):
                response = await call(attempt)
            else:
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

    async def start(
        self, route: Route, request: CompletionRequest, attempt: int
    ) -> tuple[AsyncIterator[CompletionChunk], CompletionChunk | None]:
        """Open a stream and wait (within the timeout) for its first chunk; a failure closes it."""
        breaker = self.allow(route)
        call = replace(request, attempt=attempt) if attempt != request.attempt else request
        source = route.provider.stream(call)
        try:
            async with asyncio.timeout(self._call_timeout_seconds):
                first = await anext(source, None)
        except TimeoutError as exc:
            await close_stream(source)
            error = _timeout(route)
            breaker.record_failure(error)
            raise error from exc
        except ProviderError as error:
            await close_stream(source)
            record_provider_failure(breaker, error, budgets_on=self._budgets is not None)
            raise
        except BaseException:
            await close_stream(source)
            breaker.record_cancelled()
            raise
        return source, first

    def with_retries(self, call: Callable[[int], Awaitable[T]]) -> Coroutine[Any, Any, T]:
        """`call(attempt)` retried within the budget (a plain function: one coroutine layer less per call)."""
        waited = 0.0

        def within_budget(attempt: int, error: ProviderError, delay_seconds: float) -> None:
            nonlocal waited
            if waited + delay_seconds > self._max_retry_wait_seconds:
                raise error  # a sync caller is not held longer: answer with this error now
            waited += delay_seconds

        return call_with_retries(
            call, self._retry_policy, sleep=self._sleep, random=self._random, on_retry=within_budget
        )


def _self_bounded(provider: object, timeout_seconds: float) -> bool:
    bound = getattr(provider, "call_bound_seconds", None)
    return isinstance(bound, int | float) and bound <= timeout_seconds


def _timeout(route: Route) -> ProviderError:
    return ProviderError(ProviderErrorKind.TIMEOUT, "provider call timed out", provider=route.provider_name)


async def close_stream(source: AsyncIterator[CompletionChunk]) -> None:
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        await aclose()
