"""Read the vendors' rate-limit headers (`x-ratelimit-*`, `anthropic-ratelimit-*`, `retry-after`).

OpenAI (and OpenRouter, vLLM-style servers) send `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` with
resets as durations (`1s`, `6m0s`, `20ms`). Anthropic sends `anthropic-ratelimit-{requests,tokens,input-tokens,
output-tokens}-{limit,remaining,reset}` with resets as RFC 3339 timestamps. Both may send `retry-after`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from llm_provider_service.domain.rate_limits import Dimension, DimensionReading, RateLimitObservation
from llm_provider_service.providers.errors import parse_retry_after

_OPENAI = {Dimension.REQUESTS: "requests", Dimension.TOKENS: "tokens"}
_ANTHROPIC = {
    Dimension.REQUESTS: "requests",
    Dimension.TOKENS: "tokens",
    Dimension.INPUT_TOKENS: "input-tokens",
    Dimension.OUTPUT_TOKENS: "output-tokens",
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration_seconds(text: str) -> float | None:
    """`6m0s` -> 360.0, `20ms` -> 0.02, `1.5` -> 1.5; None if unreadable."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(value + unit for value, unit in parts) != text:
            return None
        return sum(float(value) * _UNIT_SECONDS[unit] for value, unit in parts)
    return number if math.isfinite(number) and number >= 0 else None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return max(int(float(text)), 0)
    except ValueError:
        return None


def _timestamp_seconds(text: str | None, now: datetime) -> float | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return parse_duration_seconds(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def parse_rate_limit_headers(
    status: int, headers: Mapping[str, str], *, now: datetime | None = None
) -> RateLimitObservation | None:
    """The observation these headers carry, or None when they say nothing about rate limits."""
    if status != 429 and not _mentions_limits(headers):
        return None  # most answers: one pass over the names instead of a dozen lookups and a clock read
    readings: dict[Dimension, DimensionReading] = {}
    for dimension, name in _OPENAI.items():
        reading = DimensionReading(
            limit=_int(headers.get(f"x-ratelimit-limit-{name}")),
            remaining=_int(headers.get(f"x-ratelimit-remaining-{name}")),
            reset_seconds=_duration(headers.get(f"x-ratelimit-reset-{name}")),
        )
        if reading != DimensionReading():
            readings[dimension] = reading
    if not readings:
        moment = now or datetime.now(UTC)
        for dimension, name in _ANTHROPIC.items():
            reading = DimensionReading(
                limit=_int(headers.get(f"anthropic-ratelimit-{name}-limit")),
                remaining=_int(headers.get(f"anthropic-ratelimit-{name}-remaining")),
                reset_seconds=_timestamp_seconds(headers.get(f"anthropic-ratelimit-{name}-reset"), moment),
            )
            if reading != DimensionReading():
                readings[dimension] = reading
    retry_after = parse_retry_after(headers, now=now) if status == 429 or "retry-after" in headers else None
    if not readings and retry_after is None and status != 429:
        return None
    return RateLimitObservation(status=status, readings=readings, retry_after_seconds=retry_after)


def _mentions_limits(headers: Mapping[str, str]) -> bool:
    for name in headers:
        lowered = name.lower()
        if "ratelimit" in lowered or lowered == "retry-after":
            return True
    return False


def _duration(text: str | None) -> float | None:
    return None if text is None else parse_duration_seconds(text)
