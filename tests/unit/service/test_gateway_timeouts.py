"""The gateway's per-call timeout: its own timer, unless the provider bounds the call itself within it."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from llm_provider_service.domain.catalog import ModelInfo
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.resilience.circuit_breaker import CircuitBreakerRegistry
from llm_provider_service.resilience.retry import RetryPolicy
from llm_provider_service.service.gateway_calls import CallGuard
from llm_provider_service.service.gateway_routes import Route
from llm_provider_service.service.limits import ProviderLimits

TIMEOUT_SECONDS = 0.05


class SlowProvider:
    """Answers after `delay_seconds`; `call_bound_seconds` is what it claims to bound a call by itself."""

    name = "slow"

    def __init__(self, call_bound_seconds: float | None) -> None:
        self.call_bound_seconds = call_bound_seconds

    async def complete(self, request: Any) -> Any:
        raise NotImplementedError

    def stream(self, request: Any) -> Any:
        raise NotImplementedError


def _guard() -> CallGuard:
    breakers = CircuitBreakerRegistry(failure_threshold=5, reset_seconds=30.0, half_open_probes=1, clock=lambda: 0.0)
    return CallGuard(
        breakers=breakers,
        limits=ProviderLimits({}),
        retry_policy=RetryPolicy(max_attempts=1),
        max_retry_wait_seconds=0.0,
        call_timeout_seconds=TIMEOUT_SECONDS,
        sleep=asyncio.sleep,
        random=random.random,
        budgets=None,
        budget_wait_seconds=0.0,
    )


def _route(provider: SlowProvider) -> Route:
    return Route("slow/m", provider, ModelInfo("slow", "m", 0.0, 0.0, 0, 0))


async def _answer_after(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "answer"


@pytest.mark.parametrize("bound", [None, TIMEOUT_SECONDS * 10])
async def test_a_call_not_bounded_within_the_timeout_is_cut_as_a_timeout(bound: float | None) -> None:
    guard = _guard()
    route = _route(SlowProvider(bound))
    with pytest.raises(ProviderError) as caught:
        await guard.attempt(route, lambda _: _answer_after(TIMEOUT_SECONDS * 4), 1)
    assert caught.value.kind is ProviderErrorKind.TIMEOUT
    assert guard.breaker(route).consecutive_failures == 1


async def test_a_provider_bounding_its_calls_within_the_timeout_gets_no_second_timer() -> None:
    guard = _guard()
    route = _route(SlowProvider(TIMEOUT_SECONDS))
    # The provider's own bound is trusted: the guard adds no timer of its own, so this slow answer arrives.
    assert await guard.attempt(route, lambda _: _answer_after(TIMEOUT_SECONDS * 2), 1) == "answer"


async def test_the_providers_own_timeout_error_still_counts_against_the_breaker() -> None:
    guard = _guard()
    route = _route(SlowProvider(TIMEOUT_SECONDS))

    async def times_out(_: int) -> str:
        raise ProviderError(ProviderErrorKind.TIMEOUT, "slow: request timed out", provider="slow")

    with pytest.raises(ProviderError) as caught:
        await guard.attempt(route, times_out, 1)
    assert caught.value.kind is ProviderErrorKind.TIMEOUT
    assert guard.breaker(route).consecutive_failures == 1
