"""Reading the vendors' rate-limit headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from multidict import CIMultiDict

from llm_provider_service.domain.rate_limits import Dimension, DimensionReading
from llm_provider_service.providers.rate_limit_headers import parse_duration_seconds, parse_rate_limit_headers


@pytest.mark.parametrize(
    ("text", "seconds"), [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("2.5", 2.5)]
)
def test_openai_durations(text: str, seconds: float) -> None:
    assert parse_duration_seconds(text) == pytest.approx(seconds)


def test_an_unreadable_duration_is_none() -> None:
    assert parse_duration_seconds("soon") is None


def test_openai_headers() -> None:
    headers = {
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-tokens": "29000",
        "x-ratelimit-reset-tokens": "2s",
    }
    observation = parse_rate_limit_headers(200, headers)
    assert observation is not None
    assert observation.readings[Dimension.REQUESTS] == DimensionReading(500, 499, 0.12)
    assert observation.readings[Dimension.TOKENS] == DimensionReading(30000, 29000, 2.0)
    assert not observation.rate_limited


def test_anthropic_headers_with_split_input_and_output_tokens() -> None:
    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2026-12-01T12:00:30Z",
        "anthropic-ratelimit-input-tokens-limit": "30000",
        "anthropic-ratelimit-output-tokens-limit": "8000",
        "retry-after": "30",
    }
    observation = parse_rate_limit_headers(429, headers, now=now)
    assert observation is not None
    assert observation.rate_limited
    assert observation.retry_after_seconds == 30.0
    assert observation.readings[Dimension.REQUESTS] == DimensionReading(50, 0, 30.0)
    assert observation.readings[Dimension.INPUT_TOKENS].limit == 30000
    assert observation.readings[Dimension.OUTPUT_TOKENS].limit == 8000


def test_no_rate_limit_headers_is_no_observation() -> None:
    assert parse_rate_limit_headers(200, {"content-type": "application/json"}) is None


def test_names_are_matched_whatever_their_case_as_vendors_send_them() -> None:
    headers = CIMultiDict({"Content-Type": "application/json", "X-RateLimit-Remaining-Tokens": "10"})
    observation = parse_rate_limit_headers(200, headers)
    assert observation is not None
    assert observation.readings[Dimension.TOKENS] == DimensionReading(None, 10, None)
    retry_only = parse_rate_limit_headers(503, CIMultiDict({"Retry-After": "3"}))
    assert retry_only is not None
    assert retry_only.retry_after_seconds == 3.0


def test_a_429_without_any_header_is_still_an_observation() -> None:
    observation = parse_rate_limit_headers(429, {"content-type": "application/json"})
    assert observation is not None
    assert observation.status == 429
