"""The mock's own rate limit: requests and tokens per sliding window, answered with the vendors' headers.

Like a vendor, the mock counts every request that arrives (answered or refused) in the trailing window; past
the limit it refuses with 429 and says when to come back. It also keeps the figures a load test needs to prove
a client never exceeded the limit: the most requests and tokens that ever arrived within one window, and when
each refusal happened. Rendered as OpenAI's `x-ratelimit-*` or Anthropic's `anthropic-ratelimit-*` headers.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# Arrival and refusal times kept for a load test's proof (bounded memory on a long run).
MAX_RECORDED = 100_000


def most_in_any_window(times: list[float], window_seconds: float) -> int:
    """The largest number of these (sorted) times that fall within one window of the given length."""
    most = start = 0
    for end, moment in enumerate(times):
        while times[start] <= moment - window_seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    """What the limiter said about one request."""

    admitted: bool
    requests_limit: int
    requests_remaining: int
    tokens_limit: int
    tokens_remaining: int
    reset_seconds: float
    retry_after_seconds: float | None = None

    def openai_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.requests_limit:
            headers["x-ratelimit-limit-requests"] = str(self.requests_limit)
            headers["x-ratelimit-remaining-requests"] = str(self.requests_remaining)
            headers["x-ratelimit-reset-requests"] = f"{self.reset_seconds:.3f}s"
        if self.tokens_limit:
            headers["x-ratelimit-limit-tokens"] = str(self.tokens_limit)
            headers["x-ratelimit-remaining-tokens"] = str(self.tokens_remaining)
            headers["x-ratelimit-reset-tokens"] = f"{self.reset_seconds:.3f}s"
        if self.retry_after_seconds is not None:
            headers["retry-after"] = str(max(1, math.ceil(self.retry_after_seconds)))
            headers["retry-after-ms"] = str(max(1, math.ceil(self.retry_after_seconds * 1000)))
        return headers

    def anthropic_headers(self, now: datetime | None = None) -> dict[str, str]:
        reset = ((now or datetime.now(UTC)) + timedelta(seconds=self.reset_seconds)).isoformat(timespec="milliseconds")
        headers: dict[str, str] = {}
        if self.requests_limit:
            headers["anthropic-ratelimit-requests-limit"] = str(self.requests_limit)
            headers["anthropic-ratelimit-requests-remaining"] = str(self.requests_remaining)
            headers["anthropic-ratelimit-requests-reset"] = reset.replace("+00:00", "Z")
        if self.tokens_limit:
            headers["anthropic-ratelimit-tokens-limit"] = str(self.tokens_limit)
            headers["anthropic-ratelimit-tokens-remaining"] = str(self.tokens_remaining)
            headers["anthropic-ratelimit-tokens-reset"] = reset.replace("+00:00", "Z")
        if self.retry_after_seconds is not None:
            headers["retry-after"] = str(max(1, math.ceil(self.retry_after_seconds)))
        return headers


@dataclass(slots=True)
class RateLimitStats:
    """Figures for a load test: arrivals, refusals (with their times) and the fullest window seen."""

    requests: int = 0
    refused: int = 0
    refused_at: list[float] = field(default_factory=list)
    arrived_at: list[float] = field(default_factory=list)  # the first MAX_RECORDED arrivals
    max_requests_in_window: int = 0
    max_tokens_in_window: int = 0
    first_request_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "rate_limited": self.refused,
            "rate_limited_at": list(self.refused_at[:MAX_RECORDED]),
            "arrived_at": list(self.arrived_at),
            "max_requests_in_window": self.max_requests_in_window,
            "max_tokens_in_window": self.max_tokens_in_window,
            "first_request_at": self.first_request_at,
        }


class MockRateLimiter:
    """Sliding-window limits on requests and tokens (0 = no limit on that dimension). Thread-safe."""

    def __init__(
        self,
        *,
        requests_per_window: int = 0,
        tokens_per_window: int = 0,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if requests_per_window < 0 or tokens_per_window < 0 or window_seconds <= 0:
            raise ValueError("mock rate limits must not be negative and the window must be positive")
        self.requests_per_window = requests_per_window
        self.tokens_per_window = tokens_per_window
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._admitted: deque[tuple[float, int]] = deque()  # what counts against the limit
        self._arrived: deque[tuple[float, int]] = deque()  # every request, for the proof figures
        self._admitted_tokens = 0
        self._arrived_tokens = 0
        self.stats = RateLimitStats()

    @property
    def enabled(self) -> bool:
        return bool(self.requests_per_window or self.tokens_per_window)

    def admit(self, tokens: int) -> RateLimitDecision:
        with self._lock:
            now = self._clock()
            self._expire(now)
            self._count_arrival(now, tokens)
            requests_over = self.requests_per_window and len(self._admitted) + 1 > self.requests_per_window
            tokens_over = self.tokens_per_window and self._admitted_tokens + tokens > self.tokens_per_window
            admitted = not (requests_over or tokens_over)
            if admitted:
                self._admitted.append((now, tokens))
                self._admitted_tokens += tokens
            else:
                self.stats.refused += 1
                if len(self.stats.refused_at) < MAX_RECORDED:
                    self.stats.refused_at.append(now)
            oldest = self._admitted[0][0] if self._admitted else now
            reset = max(oldest + self.window_seconds - now, 0.0)
            return RateLimitDecision(
                admitted=admitted,
                requests_limit=self.requests_per_window,
                requests_remaining=max(self.requests_per_window - len(self._admitted), 0),
                tokens_limit=self.tokens_per_window,
                tokens_remaining=max(self.tokens_per_window - self._admitted_tokens, 0),
                reset_seconds=reset,
                retry_after_seconds=None if admitted else max(reset, 0.001),
            )

    def _expire(self, now: float) -> None:
        cutoff = now - self.window_seconds
        while self._admitted and self._admitted[0][0] <= cutoff:
            self._admitted_tokens -= self._admitted.popleft()[1]
        while self._arrived and self._arrived[0][0] <= cutoff:
            self._arrived_tokens -= self._arrived.popleft()[1]

    def _count_arrival(self, now: float, tokens: int) -> None:
        stats = self.stats
        stats.requests += 1
        if len(stats.arrived_at) < MAX_RECORDED:
            stats.arrived_at.append(now)
        if stats.first_request_at is None:
            stats.first_request_at = now
        self._arrived.append((now, tokens))
        self._arrived_tokens += tokens
        stats.max_requests_in_window = max(stats.max_requests_in_window, len(self._arrived))
        stats.max_tokens_in_window = max(stats.max_tokens_in_window, self._arrived_tokens)

    def reset_stats(self) -> None:
        with self._lock:
            self.stats = RateLimitStats()
            self._arrived.clear()
            self._arrived_tokens = 0
