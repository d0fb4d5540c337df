"""Retry policy: which provider failures to retry, and how long to wait (exponential backoff, full jitter).

The worker uses `RetryPolicy` to reschedule a job in the queue; synchronous paths (the gateway) use
`call_with_retries`. Randomness and sleeping are injected so tests never wait.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from llm_provider_service.domain.errors import ProviderError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# 2**64 x any sane base delay is far above every cap; bounding the exponent keeps the float finite.
_MAX_EXPONENT = 64


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """At most `max_attempts` calls; the wait before attempt n+1 is uniform(0, min(max, base x 2**(n-1)))."""

    max_attempts: int = 5
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_seconds <= 0 or self.max_delay_seconds <= 0:
            raise ValueError("retry delays must be positive")

    def should_retry(self, error: ProviderError, attempt: int) -> bool:
        """True if `error`, raised by call number `attempt` (from 1), is worth another call."""
        return error.retryable and attempt < self.max_attempts

    def backoff_cap_seconds(self, attempt: int) -> float:
        """The upper bound of the jittered wait after call number `attempt`."""
        exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
        return min(self.max_delay_seconds, self.base_delay_seconds * 2.0**exponent)

    def delay_seconds(
        self, attempt: int, *, retry_after_seconds: float | None = None, random: Callable[[], float]
    ) -> float:
        """How long to wait after call number `attempt` failed.

        Full jitter spreads retries of many clients over the whole window (no thundering herd). A vendor's
        Retry-After is a floor: retrying sooner is certain to be refused. It may exceed `max_delay_seconds`
        because the vendor knows its own limits better than our cap does.
        """
        jittered = min(max(random(), 0.0), 1.0) * self.backoff_cap_seconds(attempt)
        if retry_after_seconds is None:
            return jittered
        floor = max(retry_after_seconds, 0.0)
        return min(max(floor, jittered), max(self.max_delay_seconds, floor))


async def call_with_retries(
    call: Callable[[int], Awaitable[T]],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]],
    random: Callable[[], float],
    on_retry: Callable[[int, ProviderError, float], None] | None = None,
) -> T:
    """Run `call(attempt)` (attempts from 1) until it succeeds, fails terminally, or attempts run out.

    Only `ProviderError`s are retried, and only retryable kinds; anything else propagates at once.
    `on_retry(attempt, error, delay_seconds)` is told about each failed attempt before the wait.
    The last error is re-raised when attempts are exhausted.
    """
    attempt = 1
    while True:
        try:
            return await call(attempt)
        except ProviderError as error:
            if not policy.should_retry(error, attempt):
                raise
            delay = policy.delay_seconds(attempt, retry_after_seconds=error.retry_after_seconds, random=random)
            logger.info(
                "provider %s call failed (%s, attempt %d of %d); retrying in %.3f s",
                error.provider or "?",
                error.kind,
                attempt,
                policy.max_attempts,
                delay,
            )
            if on_retry is not None:
                on_retry(attempt, error, delay)
        await sleep(delay)
        attempt += 1
