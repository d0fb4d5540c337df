"""The mock LLM's behaviour profile: seed, latency model, streaming pace, fault rates and bursts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

LatencyModel = Literal["none", "fixed", "uniform", "lognormal"]
LATENCY_MODELS: tuple[LatencyModel, ...] = ("none", "fixed", "uniform", "lognormal")


class FaultKind(StrEnum):
    """Ways the mock can fail a call. The order is fixed: fault rates are stacked in this order."""

    RATE_LIMITED = "rate_limited"
    OVERLOADED = "overloaded"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    MALFORMED = "malformed"
    INVALID_OUTPUT = "invalid_output"
    UNAUTHORIZED = "unauthorized"


OK_SCENARIO = "ok"
SCENARIOS: tuple[str, ...] = (OK_SCENARIO, *(kind.value for kind in FaultKind))


@dataclass(frozen=True, slots=True)
class MockProfile:
    """How the mock behaves when a request does not say otherwise.

    Build it from explicit values (the composition root passes `Settings.mock`, which has these fields);
    the mock package never reads configuration itself. Latency fields are milliseconds:
    `latency_ms` is the fixed value or the log-normal median, `latency_min_ms`/`latency_max_ms` bound
    the uniform model and `latency_p99_ms` shapes the log-normal tail. `fault_rates` maps a `FaultKind`
    value to the probability of that fault on a call (their sum must not exceed 1). Every
    `burst_every` calls, the next `burst_length` calls fail with `burst_kind`. `rate_limit_requests` and
    `rate_limit_tokens` per `rate_limit_window_seconds` (0 = none) make the mock refuse with 429, as a vendor
    does; they hold in `performance_mode` too (they are a limit, not a fault).
    """

    seed: int = 42
    performance_mode: bool = False
    latency_model: LatencyModel = "none"
    latency_ms: float = 0.0
    latency_min_ms: float = 0.0
    latency_max_ms: float = 0.0
    latency_p99_ms: float = 0.0
    ttft_ms: float = 0.0
    inter_token_ms: float = 0.0
    fault_rates: Mapping[str, float] = field(default_factory=dict)
    burst_every: int = 0
    burst_length: int = 0
    burst_kind: str = FaultKind.OVERLOADED.value
    timeout_seconds: float = 30.0
    rate_limit_requests: int = 0
    rate_limit_tokens: int = 0
    rate_limit_window_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.latency_model not in LATENCY_MODELS:
            raise ValueError(f"unknown mock latency model {self.latency_model!r}; expected one of {LATENCY_MODELS}")
        durations = (self.latency_ms, self.latency_min_ms, self.latency_max_ms, self.latency_p99_ms)
        if min(*durations, self.ttft_ms, self.inter_token_ms) < 0:
            raise ValueError("mock latencies must not be negative")
        if self.latency_model == "uniform" and self.latency_max_ms < self.latency_min_ms:
            raise ValueError("mock latency_max_ms must be at least latency_min_ms")
        _check_rates(self.fault_rates)
        if self.burst_every < 0 or self.burst_length < 0:
            raise ValueError("mock burst_every and burst_length must not be negative")
        if self.burst_kind not in FaultKind.__members__.values():
            raise ValueError(f"unknown mock burst kind {self.burst_kind!r}")
        if self.timeout_seconds <= 0:
            raise ValueError("mock timeout_seconds must be positive")
        if self.rate_limit_requests < 0 or self.rate_limit_tokens < 0 or self.rate_limit_window_seconds <= 0:
            raise ValueError("mock rate limits must not be negative and their window must be positive")
        # Freeze the rates so a shared profile cannot be changed behind the engine's back.
        object.__setattr__(self, "fault_rates", MappingProxyType(dict(self.fault_rates)))

    @property
    def bursts_enabled(self) -> bool:
        return self.burst_every > 0 and self.burst_length > 0


def _check_rates(rates: Mapping[str, float]) -> None:
    known = set(FaultKind.__members__.values())
    for kind, rate in rates.items():
        if kind not in known:
            raise ValueError(f"unknown mock fault kind {kind!r}; expected one of {sorted(known)}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"mock fault rate for {kind!r} must be between 0 and 1")
    if sum(rates.values()) > 1.0 + 1e-9:
        raise ValueError("mock fault rates must add up to at most 1")
