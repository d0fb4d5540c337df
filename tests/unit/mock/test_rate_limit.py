"""The mock's rate limit: a sliding window on requests and tokens, 429 past it, the vendors' headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from llm_provider_service.domain.rate_limits import Dimension
from llm_provider_service.mock import MockEngine, MockProfile
from llm_provider_service.mock.engine import MockCall
from llm_provider_service.mock.rate_limit import MockRateLimiter
from llm_provider_service.providers.rate_limit_headers import parse_rate_limit_headers


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_requests_past_the_limit_in_the_window_are_refused_until_the_oldest_leaves() -> None:
    clock = Clock()
    limiter = MockRateLimiter(requests_per_window=3, window_seconds=10.0, clock=clock)
    decisions = []
    for _ in range(4):
        decisions.append(limiter.admit(tokens=5))
        clock.now += 1.0
    assert [decision.admitted for decision in decisions] == [True, True, True, False]
    assert decisions[2].requests_remaining == 0
    assert decisions[3].retry_after_seconds == pytest.approx(7.0)
    clock.now = 1010.5  # the first has left the window
    assert limiter.admit(tokens=5).admitted
    assert limiter.stats.refused == 1
    assert limiter.stats.max_requests_in_window == 4  # arrivals, refused ones included


def test_tokens_past_the_limit_are_refused() -> None:
    limiter = MockRateLimiter(tokens_per_window=100, window_seconds=60.0, clock=Clock())
    assert limiter.admit(tokens=60).admitted
    refused = limiter.admit(tokens=60)
    assert not refused.admitted
    assert refused.tokens_remaining == 40


def test_the_decision_renders_headers_our_parser_reads_back() -> None:
    clock = Clock()
    limiter = MockRateLimiter(requests_per_window=2, tokens_per_window=1000, window_seconds=60.0, clock=clock)
    limiter.admit(tokens=10)
    clock.now += 15
    decision = limiter.admit(tokens=10)
    openai = parse_rate_limit_headers(200, decision.openai_headers())
    assert openai is not None
    assert openai.readings[Dimension.REQUESTS].limit == 2
    assert openai.readings[Dimension.REQUESTS].remaining == 0
    assert openai.readings[Dimension.REQUESTS].reset_seconds == pytest.approx(45.0)
    assert openai.readings[Dimension.TOKENS].remaining == 980
    now = datetime(2026, 12, 1, tzinfo=UTC)
    refused = limiter.admit(tokens=10)
    anthropic = parse_rate_limit_headers(429, refused.anthropic_headers(now), now=now)
    assert anthropic is not None
    assert anthropic.rate_limited
    assert anthropic.readings[Dimension.REQUESTS].limit == 2
    assert anthropic.readings[Dimension.REQUESTS].reset_seconds == pytest.approx(45.0, abs=0.01)
    assert anthropic.retry_after_seconds == 45.0


def test_the_engine_answers_429_past_its_limit_even_in_performance_mode() -> None:
    engine = MockEngine(MockProfile(performance_mode=True, rate_limit_requests=1, rate_limit_window_seconds=60))
    assert engine.respond(MockCall(prompt="a")).outcome == "ok"
    refused = engine.respond(MockCall(prompt="b"))
    assert refused.outcome == "rate_limited"
    assert refused.retry_after_seconds is not None
    assert refused.rate_limit is not None
    assert not refused.rate_limit.admitted
