"""Rate budgets ("queue instead of 429"): the token-bucket rules, the in-process book, and the demand estimate.

Each key (`provider/model`) has a bucket per known dimension (requests, tokens, input or output tokens) whose
limit `L` is per window `W` (a minute at the vendors). The bucket holds at most `C = max(L * burst_fraction, 1)`
and refills at `r = (L * (1 - headroom_fraction) - C) / W`, so what is let through in any window of length `W` is
at most `C + r * W <= L`: the vendor's own sliding count is never exceeded, and sustained throughput is
`1 - burst_fraction - headroom_fraction` of the limit (93 % by default).

A reservation is taken when it fits within `horizon_seconds` (a ticket: the call starts when its turn comes, the
bucket going into debt meanwhile); otherwise nothing is taken and the job is told when to come back. Those return
times are spread one demand's refill time apart (the key's `overflow_at`), so a backlog of thousands comes back at
the rate the budget refills instead of all at once, and never later than `max_defer_seconds`.

While jobs wait in that line, a newcomer joins its end rather than taking the tickets promised to the returning
ones (so a new job waits behind earlier deferred ones, whatever its priority, for at most `max_defer_seconds`).

Limits come from settings and are learned from the vendors' headers (the lower one wins); a header saying
nothing remains empties the bucket, and a 429 also pauses the key for its `retry-after` (no refill meanwhile).
A limit learned mid-window owes what the vendor already counted. `RedisRateBudget` implements the same rules in
Lua; one contract suite runs against both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from llm_provider_service.domain.models import CompletionRequest, TokenUsage
from llm_provider_service.domain.rate_limits import (
    UNLIMITED,
    BudgetState,
    Demand,
    Dimension,
    Grant,
    RateLimitObservation,
)

# Output tokens assumed for a call that sets no max_tokens (settled from the real usage afterwards).
DEFAULT_OUTPUT_TOKENS_ESTIMATE = 1024
CHARACTERS_PER_TOKEN = 4
# A 429 without retry-after pauses its key this long.
DEFAULT_PAUSE_SECONDS = 1.0
MIN_DEFER_SECONDS = 0.01
# Per-job budget-wait records are forgotten after this long (a job that never ran, e.g. cancelled).
WAIT_RECORD_TTL_SECONDS = 86400.0


@dataclass(frozen=True, slots=True)
class BudgetPolicy:
    """How budgets behave: window, burst and headroom fractions, ticket horizon, deferral cap, configured limits."""

    window_seconds: float = 60.0
    burst_fraction: float = 0.05
    headroom_fraction: float = 0.02
    horizon_seconds: float = 2.0
    max_defer_seconds: float = 30.0
    configured: Mapping[str, Mapping[Dimension, int]] = field(default_factory=dict)
    learn: bool = True

    def __post_init__(self) -> None:
        if self.window_seconds <= 0 or self.horizon_seconds < 0 or self.max_defer_seconds <= 0:
            raise ValueError("budget window and max defer must be positive, the horizon not negative")
        if not 0 <= self.burst_fraction < 1 or not 0 <= self.headroom_fraction < 1:
            raise ValueError("budget burst and headroom fractions must be in [0, 1)")
        if self.burst_fraction + self.headroom_fraction >= 1:
            raise ValueError("budget burst + headroom must leave some of the limit to refill")

    def configured_for(self, provider: str, model: str) -> Mapping[Dimension, int]:
        """Limits from settings: `provider/model` wins over `provider` dimension by dimension."""
        merged = dict(self.configured.get(provider, {}))
        merged.update(self.configured.get(f"{provider}/{model}", {}))
        return merged

    def bucket(self, limit: int) -> tuple[float, float]:
        """(capacity, refill per second) of a bucket for `limit` per window."""
        capacity = min(max(limit * self.burst_fraction, 1.0), float(limit))
        refill = (limit * (1.0 - self.headroom_fraction) - capacity) / self.window_seconds
        return capacity, max(refill, limit / self.window_seconds / 100.0)


def budget_key(provider: str, model: str) -> str:
    return f"{provider}/{model}"


def estimate_demand(request: CompletionRequest) -> Demand:
    """Tokens before the call: prompt characters / 4 for input, `max_tokens` (or a default) for output."""
    characters = sum(len(block.text) for block in request.system) + sum(
        len(message.content) for message in request.messages
    )
    input_tokens = math.ceil(characters / CHARACTERS_PER_TOKEN)
    output_tokens = request.max_tokens or DEFAULT_OUTPUT_TOKENS_ESTIMATE
    return Demand(1.0, float(input_tokens + output_tokens), float(input_tokens), float(output_tokens))


def actual_demand(usage: TokenUsage | None) -> Demand:
    """What a call really took: its usage, or (no usage reported) the request alone."""
    if usage is None:
        return Demand(1.0)
    return Demand(1.0, float(usage.total_tokens), float(usage.prompt_tokens), float(usage.completion_tokens))


def effective_limit(configured: int | None, learned: int | None) -> int | None:
    known = [limit for limit in (configured, learned) if limit is not None and limit > 0]
    return min(known) if known else None


def _first_level(capacity: float, limit: int, remaining: int | None) -> float:
    """A bucket learned mid-window: what the vendor already counted (`limit - remaining`) may all still be in
    its window for a whole window, so it is owed first. Costs at most one window of throughput."""
    if remaining is None:
        return 0.0
    remaining = min(remaining, limit)
    return min(capacity, float(remaining)) - float(limit - remaining)


@dataclass(slots=True)
class _Bucket:
    learned: int | None = None
    level: float | None = None  # None until first used: a configured bucket starts full
    updated_at: float = 0.0


@dataclass(slots=True)
class _Key:
    buckets: dict[Dimension, _Bucket] = field(default_factory=dict)
    paused_until: float = 0.0
    overflow_at: float = 0.0
    configured: dict[Dimension, int] = field(default_factory=dict)


class BudgetBook:
    """The budget rules on plain state, for one process (the embedded budget and the reference for the Lua)."""

    def __init__(self, policy: BudgetPolicy) -> None:
        self._policy = policy
        self._keys: dict[str, _Key] = {}
        self._waits: dict[str, tuple[float, float]] = {}  # job id -> (seconds, forget at)

    def reserve(
        self,
        key: str,
        *,
        demand: Demand,
        configured: Mapping[Dimension, int],
        job_id: str | None,
        now: float,
        horizon_seconds: float,
    ) -> Grant:
        state = self._keys.get(key)
        if state is None:
            if not configured:
                return UNLIMITED
            state = self._keys[key] = _Key()
        state.configured = dict(configured)
        # A paused bucket does not refill for the pause: its tickets start when the pause ends.
        start = max(now, state.paused_until)
        wait, step, levels = self._wait_for(state, demand, start)
        if not levels:
            return UNLIMITED
        wait += start - now
        returning = job_id is not None and job_id in self._waits
        # While others wait in line (beyond half the horizon), a newcomer queues behind them instead of
        # taking the tickets the returning jobs were promised.
        # Sync calls (no job id) never join the line: they wait in place, bounded, or are refused.
        line_busy = job_id is not None and state.overflow_at > now + horizon_seconds / 2
        if wait <= horizon_seconds and (returning or not line_busy):
            for dimension, (bucket, level) in levels.items():
                bucket.level, bucket.updated_at = level - demand.amount(dimension), start
            earlier = self._waits.pop(job_id, (0.0, 0.0))[0] if job_id else 0.0
            return Grant(True, max(wait, 0.0), earlier)
        if returning or job_id is None:
            # Back at its slot but still no room (a pause): come back when there is, keeping its place.
            defer = min(max(wait - horizon_seconds / 2, MIN_DEFER_SECONDS), self._policy.max_defer_seconds)
        else:
            slot = max(state.overflow_at, now + wait - horizon_seconds / 2)
            defer = min(max(slot - now, MIN_DEFER_SECONDS), self._policy.max_defer_seconds)
            state.overflow_at = min(slot + step, now + self._policy.max_defer_seconds)
        if job_id:
            seconds = self._waits.get(job_id, (0.0, 0.0))[0]
            self._waits[job_id] = (seconds + defer, now + WAIT_RECORD_TTL_SECONDS)
        return Grant(False, defer)

    def _wait_for(
        self, state: _Key, demand: Demand, now: float
    ) -> tuple[float, float, dict[Dimension, tuple[_Bucket, float]]]:
        """(seconds until the demand fits, one demand's refill time, refilled level per limited dimension)."""
        wait = step = 0.0
        levels: dict[Dimension, tuple[_Bucket, float]] = {}
        for dimension in Dimension:
            bucket = state.buckets.get(dimension) or _Bucket()
            limit = effective_limit(state.configured.get(dimension), bucket.learned)
            if limit is None:
                continue
            state.buckets[dimension] = bucket
            capacity, refill = self._policy.bucket(limit)
            if bucket.level is None:
                bucket.level, bucket.updated_at = capacity, now
            level = min(capacity, bucket.level + max(now - bucket.updated_at, 0.0) * refill)
            amount = demand.amount(dimension)
            needed = min(amount, capacity)
            if level < needed:
                wait = max(wait, (needed - level) / refill)
            step = max(step, amount / refill)
            levels[dimension] = (bucket, level)
        return wait, step, levels

    def record(self, key: str, *, refund: Demand | None, observation: RateLimitObservation | None, now: float) -> None:
        state = self._keys.get(key)
        if observation is not None and self._policy.learn:
            if state is None:
                state = self._keys[key] = _Key()
            self._learn(state, observation, now)
        if state is None or refund is None:
            return
        for dimension, bucket in state.buckets.items():
            limit = effective_limit(state.configured.get(dimension), bucket.learned)
            if limit is None or bucket.level is None:
                continue
            capacity, refill = self._policy.bucket(limit)
            level = min(capacity, bucket.level + max(now - bucket.updated_at, 0.0) * refill)
            # Never move the refill clock back: a paused bucket stays unrefilled until its pause ends.
            bucket.level = min(capacity, level + refund.amount(dimension))
            bucket.updated_at = max(bucket.updated_at, now)

    def _learn(self, state: _Key, observation: RateLimitObservation, now: float) -> None:
        for dimension, reading in observation.readings.items():
            bucket = state.buckets.setdefault(dimension, _Bucket())
            if reading.limit is not None and reading.limit > 0:
                bucket.learned = reading.limit
                limit = effective_limit(state.configured.get(dimension), bucket.learned) or reading.limit
                capacity, _ = self._policy.bucket(limit)
                if bucket.level is None:
                    bucket.level, bucket.updated_at = _first_level(capacity, limit, reading.remaining), now
                else:
                    bucket.level = min(bucket.level, capacity)
            if reading.remaining == 0 and bucket.level is not None:
                # The vendor counts us at its limit: nothing left until our own refill says so.
                bucket.level = min(bucket.level, 0.0)
        if observation.rate_limited:
            pause = observation.retry_after_seconds or DEFAULT_PAUSE_SECONDS
            state.paused_until = max(state.paused_until, now + pause)
            for bucket in state.buckets.values():
                if bucket.level is not None:
                    # Empty, and no refill while paused: tickets already promised are still owed after it.
                    bucket.level = min(bucket.level, 0.0)
                    bucket.updated_at = max(bucket.updated_at, state.paused_until)

    def states(self, *, now: float) -> list[BudgetState]:
        result = []
        for key, state in sorted(self._keys.items()):
            limits: dict[Dimension, int] = {}
            available: dict[Dimension, float] = {}
            for dimension, bucket in state.buckets.items():
                limit = effective_limit(state.configured.get(dimension), bucket.learned)
                if limit is None:
                    continue
                capacity, refill = self._policy.bucket(limit)
                level = capacity if bucket.level is None else bucket.level
                limits[dimension] = limit
                available[dimension] = min(capacity, level + max(now - bucket.updated_at, 0.0) * refill)
            if limits:
                result.append(BudgetState(key, limits, available, max(state.paused_until - now, 0.0)))
        return result

    def forget_waits(self, *, now: float) -> None:
        """Drop the wait records of jobs that never came back."""
        for job_id in [job for job, (_, forget_at) in self._waits.items() if forget_at <= now]:
            del self._waits[job_id]
