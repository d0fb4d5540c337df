"""Circuit breakers per provider: closed -> open after consecutive failures -> half-open probes -> closed.

Only failures that say the provider is unhealthy count (`ProviderErrorKind.counts_against_provider`);
caller errors such as invalid_request or authentication never open a breaker. Time comes from an
injected monotonic clock, so tests drive every transition without sleeping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum

from llm_provider_service.domain.errors import ProviderError

logger = logging.getLogger(__name__)

StateListener = Callable[[str, "CircuitState", "CircuitState"], None]


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """One provider's breaker. Ask `allow()` before a call, then record exactly one outcome for it."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int,
        reset_seconds: float,
        half_open_probes: int = 1,
        clock: Callable[[], float],
        on_state_change: StateListener | None = None,
    ) -> None:
        if failure_threshold < 1 or half_open_probes < 1:
            raise ValueError("failure_threshold and half_open_probes must be at least 1")
        if reset_seconds <= 0:
            raise ValueError("reset_seconds must be positive")
        self.name = name
        self._failure_threshold = failure_threshold
        self._reset_seconds = reset_seconds
        self._half_open_probes = half_open_probes
        self._clock = clock
        self._on_state_change = on_state_change
        self._state = CircuitState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._probes_in_flight = 0

    @property
    def state(self) -> CircuitState:
        """The current state; an open breaker whose reset time has passed is seen as half-open."""
        if self._state is CircuitState.OPEN and self._clock() - self._opened_at >= self._reset_seconds:
            self._transition(CircuitState.HALF_OPEN)
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive_failures

    @property
    def probes_in_flight(self) -> int:
        return self._probes_in_flight

    def allow(self) -> bool:
        """Whether a call may go out now. In half-open, each True takes a probe slot until its outcome."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.OPEN:
            return False
        if self._probes_in_flight < self._half_open_probes:
            self._probes_in_flight += 1
            return True
        return False

    def would_allow(self) -> bool:
        """Whether `allow()` would say yes now, without taking a probe slot (to choose between breakers)."""
        state = self.state
        return state is CircuitState.CLOSED or (
            state is CircuitState.HALF_OPEN and self._probes_in_flight < self._half_open_probes
        )

    def retry_after_seconds(self) -> float:
        """Seconds until the breaker lets a probe through; 0 unless open."""
        if self.state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._reset_seconds - self._clock())

    def record_success(self) -> None:
        state = self.state
        if state is CircuitState.HALF_OPEN:
            self._transition(CircuitState.CLOSED)
        elif state is CircuitState.CLOSED:
            self._consecutive_failures = 0
        # A success that lands while open came from a call started before the breaker opened: the
        # breaker keeps its reset schedule rather than trusting one straggler.

    def record_failure(self, error: ProviderError) -> None:
        state = self.state
        if not error.kind.counts_against_provider:
            # The provider answered; the request was at fault. A probe that got such an answer has
            # finished without a verdict on health, so it frees its slot and the state stays.
            if state is CircuitState.HALF_OPEN:
                self._release_probe()
            return
        if state is CircuitState.HALF_OPEN:
            self._consecutive_failures += 1
            self._open()
        elif state is CircuitState.CLOSED:
            self._consecutive_failures += 1
            if self._consecutive_failures >= self._failure_threshold:
                self._open()

    def record_cancelled(self) -> None:
        """A call allowed by `allow()` never completed (cancelled, shut down): free its probe slot."""
        if self.state is CircuitState.HALF_OPEN:
            self._release_probe()

    def _release_probe(self) -> None:
        self._probes_in_flight = max(0, self._probes_in_flight - 1)

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._transition(CircuitState.OPEN)

    def _transition(self, new: CircuitState) -> None:
        old = self._state
        self._state = new
        self._probes_in_flight = 0
        if new is CircuitState.CLOSED:
            self._consecutive_failures = 0
        if old is new:
            return
        log = logger.warning if new is CircuitState.OPEN else logger.info
        log(
            "circuit %s: %s -> %s (consecutive failures %d)",
            self.name,
            old,
            new,
            self._consecutive_failures,
        )
        if self._on_state_change is not None:
            self._on_state_change(self.name, old, new)


class CircuitBreakerRegistry:
    """One breaker per provider name, created on first use with shared settings."""

    def __init__(
        self,
        *,
        failure_threshold: int,
        reset_seconds: float,
        half_open_probes: int,
        clock: Callable[[], float],
        on_state_change: StateListener | None = None,
    ) -> None:
        self._failure_threshold = failure_threshold
        self._reset_seconds = reset_seconds
        self._half_open_probes = half_open_probes
        self._clock = clock
        self._on_state_change = on_state_change
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, name: str) -> CircuitBreaker:
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = CircuitBreaker(
                name,
                failure_threshold=self._failure_threshold,
                reset_seconds=self._reset_seconds,
                half_open_probes=self._half_open_probes,
                clock=self._clock,
                on_state_change=self._on_state_change,
            )
            self._breakers[name] = breaker
        return breaker

    def snapshot(self) -> dict[str, CircuitState]:
        return {name: breaker.state for name, breaker in self._breakers.items()}
