"""Per-provider concurrency limits, checked without waiting so one slow provider cannot hold every slot."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping


class ProviderLimits:
    """Counts in-flight calls per provider against optional limits."""

    def __init__(self, limits: Mapping[str, int]) -> None:
        self._limits = dict(limits)
        self._in_flight: Counter[str] = Counter()

    def try_acquire(self, provider: str) -> bool:
        limit = self._limits.get(provider)
        if limit is not None and self._in_flight[provider] >= limit:
            return False
        self._in_flight[provider] += 1
        return True

    def release(self, provider: str) -> None:
        self._in_flight[provider] -= 1

    def in_flight(self, provider: str) -> int:
        return self._in_flight[provider]

    def limit(self, provider: str) -> int | None:
        return self._limits.get(provider)
