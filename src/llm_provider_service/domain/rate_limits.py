"""What vendors say about their rate limits, and the per-task sink their adapters report it into."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class Dimension(StrEnum):
    """What a budget counts per window: requests, tokens, or input/output tokens where the vendor splits them."""

    REQUESTS = "requests"
    TOKENS = "tokens"
    INPUT_TOKENS = "input_tokens"
    OUTPUT_TOKENS = "output_tokens"


@dataclass(frozen=True, slots=True)
class DimensionReading:
    """One dimension as a vendor reported it: the limit per window, what remains, and when it is whole again."""

    limit: int | None = None
    remaining: int | None = None
    reset_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class RateLimitObservation:
    """The rate-limit facts of one vendor answer (headers of a 2xx or of a 429)."""

    status: int
    readings: Mapping[Dimension, DimensionReading] = field(default_factory=dict)
    retry_after_seconds: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "readings", MappingProxyType(dict(self.readings)))

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


class ObservationSink:
    """Collects the observations made while one call runs (the last one wins)."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: RateLimitObservation | None = None


_SINK: ContextVar[ObservationSink | None] = ContextVar("rate_limit_sink", default=None)


class observing_rate_limits:  # noqa: N801 - used like the function it was; a class costs less per call
    """Within this block, adapters report the rate-limit headers they see into the yielded sink.

    A context variable rather than a return value, so no adapter signature changes: child tasks copy the
    context and therefore report into the same sink.
    """

    __slots__ = ("_sink", "_token")

    def __init__(self) -> None:
        self._sink = ObservationSink()
        self._token: Token[ObservationSink | None] | None = None

    def __enter__(self) -> ObservationSink:
        self._token = _SINK.set(self._sink)
        return self._sink

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _SINK.reset(self._token)


def report_rate_limits(observation: RateLimitObservation | None) -> None:
    """Called by adapters; does nothing outside `observing_rate_limits`."""
    sink = _SINK.get()
    if sink is not None and observation is not None:
        sink.last = observation


def observing() -> bool:
    """Whether a caller wants observations (adapters skip parsing headers otherwise)."""
    return _SINK.get() is not None


@dataclass(frozen=True, slots=True)
class Demand:
    """What one call takes from a budget: one request and its (estimated or real) tokens."""

    requests: float = 1.0
    tokens: float = 0.0
    input_tokens: float = 0.0
    output_tokens: float = 0.0

    def amount(self, dimension: Dimension) -> float:
        return float(getattr(self, dimension.value))

    def minus(self, other: Demand) -> Demand:
        return Demand(
            self.requests - other.requests,
            self.tokens - other.tokens,
            self.input_tokens - other.input_tokens,
            self.output_tokens - other.output_tokens,
        )


@dataclass(frozen=True, slots=True)
class Grant:
    """A budget's answer to a reservation.

    `granted`: the demand was taken; the call may start after `delay_seconds` (a ticket a little in the future).
    Not granted: nothing was taken; try again after `delay_seconds`. `earlier_wait_seconds` is the budget wait
    this job accumulated in earlier refusals (handed over once, on the grant). `limited` is False when no limit
    is known for the key (then nothing was counted).
    """

    granted: bool
    delay_seconds: float = 0.0
    earlier_wait_seconds: float = 0.0
    limited: bool = True


UNLIMITED = Grant(granted=True, limited=False)


@dataclass(frozen=True, slots=True)
class BudgetState:
    """One budget as operators see it: per dimension its limit per window and what it holds now."""

    key: str
    limits: Mapping[Dimension, int]
    available: Mapping[Dimension, float]
    paused_for_seconds: float = 0.0
