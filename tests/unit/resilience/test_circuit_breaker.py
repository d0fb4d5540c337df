"""CircuitBreaker: every transition, caller errors never opening it, probe accounting, on a fake clock."""

from __future__ import annotations

import logging

import pytest

from llm_provider_service.domain.errors import RETRYABLE_KINDS, ProviderError, ProviderErrorKind
from llm_provider_service.resilience.circuit_breaker import CircuitBreaker, CircuitBreakerRegistry, CircuitState

CLOSED, OPEN, HALF_OPEN = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN
CALLER_ERRORS = sorted(set(ProviderErrorKind) - RETRYABLE_KINDS)


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingListener:
    def __init__(self) -> None:
        self.changes: list[tuple[str, CircuitState, CircuitState]] = []

    def __call__(self, name: str, old: CircuitState, new: CircuitState) -> None:
        self.changes.append((name, old, new))


def failure(kind: ProviderErrorKind = ProviderErrorKind.SERVER_ERROR) -> ProviderError:
    return ProviderError(kind, str(kind), provider="vendor")


def make(
    clock: FakeClock, listener: RecordingListener | None = None, *, threshold: int = 3, probes: int = 1
) -> CircuitBreaker:
    return CircuitBreaker(
        "vendor",
        failure_threshold=threshold,
        reset_seconds=30.0,
        half_open_probes=probes,
        clock=clock,
        on_state_change=listener,
    )


def open_breaker(breaker: CircuitBreaker, threshold: int = 3) -> None:
    for _ in range(threshold):
        breaker.record_failure(failure())


def test_starts_closed_and_allows_calls() -> None:
    breaker = make(FakeClock())
    assert breaker.state is CLOSED
    assert breaker.allow()
    assert breaker.retry_after_seconds() == 0.0


@pytest.mark.parametrize("kind", sorted(RETRYABLE_KINDS))
def test_consecutive_provider_failures_open_it(kind: ProviderErrorKind) -> None:
    clock, listener = FakeClock(), RecordingListener()
    breaker = make(clock, listener)
    breaker.record_failure(failure(kind))
    breaker.record_failure(failure(kind))
    assert breaker.state is CLOSED
    breaker.record_failure(failure(kind))
    assert breaker.state is OPEN
    assert not breaker.allow()
    assert listener.changes == [("vendor", CLOSED, OPEN)]


def test_success_resets_the_consecutive_count() -> None:
    breaker = make(FakeClock())
    open_breaker(breaker, 2)
    breaker.record_success()
    assert breaker.consecutive_failures == 0
    open_breaker(breaker, 2)
    assert breaker.state is CLOSED


@pytest.mark.parametrize("kind", CALLER_ERRORS)
def test_caller_errors_never_open_it(kind: ProviderErrorKind) -> None:
    breaker = make(FakeClock(), threshold=1)
    for _ in range(10):
        breaker.record_failure(failure(kind))
    assert breaker.state is CLOSED
    assert breaker.consecutive_failures == 0


def test_caller_errors_neither_count_nor_reset_the_streak() -> None:
    breaker = make(FakeClock())
    open_breaker(breaker, 2)
    breaker.record_failure(failure(ProviderErrorKind.INVALID_REQUEST))
    assert breaker.consecutive_failures == 2
    breaker.record_failure(failure())
    assert breaker.state is OPEN


def test_open_reports_time_until_half_open() -> None:
    clock = FakeClock()
    breaker = make(clock)
    open_breaker(breaker)
    assert breaker.retry_after_seconds() == pytest.approx(30.0)
    clock.advance(12.5)
    assert breaker.retry_after_seconds() == pytest.approx(17.5)
    assert breaker.state is OPEN


def test_turns_half_open_when_reset_time_has_passed_observed_on_read() -> None:
    clock, listener = FakeClock(), RecordingListener()
    breaker = make(clock, listener)
    open_breaker(breaker)
    clock.advance(30.0)
    assert breaker.state is HALF_OPEN
    assert breaker.retry_after_seconds() == 0.0
    assert listener.changes == [("vendor", CLOSED, OPEN), ("vendor", OPEN, HALF_OPEN)]


def test_half_open_lets_one_probe_through_and_success_closes() -> None:
    clock, listener = FakeClock(), RecordingListener()
    breaker = make(clock, listener)
    open_breaker(breaker)
    clock.advance(30.0)
    assert breaker.allow()
    assert not breaker.allow()
    breaker.record_success()
    assert breaker.state is CLOSED
    assert breaker.consecutive_failures == 0
    assert breaker.allow()
    assert listener.changes[-1] == ("vendor", HALF_OPEN, CLOSED)


def test_failed_probe_reopens_for_a_full_reset_period() -> None:
    clock, listener = FakeClock(), RecordingListener()
    breaker = make(clock, listener)
    open_breaker(breaker)
    clock.advance(45.0)
    assert breaker.allow()
    breaker.record_failure(failure(ProviderErrorKind.TIMEOUT))
    assert breaker.state is OPEN
    assert breaker.retry_after_seconds() == pytest.approx(30.0)
    clock.advance(29.0)
    assert not breaker.allow()
    clock.advance(1.0)
    assert breaker.state is HALF_OPEN
    assert listener.changes[-2:] == [("vendor", HALF_OPEN, OPEN), ("vendor", OPEN, HALF_OPEN)]


def test_several_probes_are_bounded_concurrently() -> None:
    clock = FakeClock()
    breaker = make(clock, probes=2)
    open_breaker(breaker)
    clock.advance(30.0)
    assert [breaker.allow() for _ in range(3)] == [True, True, False]
    assert breaker.probes_in_flight == 2


def test_cancelled_probe_frees_its_slot() -> None:
    clock = FakeClock()
    breaker = make(clock)
    open_breaker(breaker)
    clock.advance(30.0)
    assert breaker.allow()
    breaker.record_cancelled()
    assert breaker.state is HALF_OPEN
    assert breaker.allow()


def test_probe_answered_with_a_caller_error_frees_its_slot_without_a_verdict() -> None:
    clock = FakeClock()
    breaker = make(clock)
    open_breaker(breaker)
    clock.advance(30.0)
    assert breaker.allow()
    breaker.record_failure(failure(ProviderErrorKind.CONTENT_FILTERED))
    assert breaker.state is HALF_OPEN
    assert breaker.allow()


def test_cancelled_outside_half_open_changes_nothing() -> None:
    breaker = make(FakeClock())
    breaker.record_cancelled()
    assert breaker.state is CLOSED
    open_breaker(breaker)
    breaker.record_cancelled()
    assert breaker.state is OPEN


def test_straggler_outcomes_while_open_keep_the_schedule() -> None:
    clock = FakeClock()
    breaker = make(clock)
    open_breaker(breaker)
    clock.advance(10.0)
    breaker.record_success()
    breaker.record_failure(failure())
    assert breaker.state is OPEN
    assert breaker.retry_after_seconds() == pytest.approx(20.0)


def test_transitions_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    breaker = make(clock)
    with caplog.at_level(logging.INFO, logger="llm_provider_service.resilience.circuit_breaker"):
        open_breaker(breaker)
        clock.advance(30.0)
        assert breaker.allow()
        breaker.record_success()
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "circuit vendor: closed -> open (consecutive failures 3)",
        "circuit vendor: open -> half_open (consecutive failures 3)",
        "circuit vendor: half_open -> closed (consecutive failures 0)",
    ]


@pytest.mark.parametrize(
    "kwargs",
    [{"failure_threshold": 0, "reset_seconds": 1.0}, {"failure_threshold": 1, "reset_seconds": 0.0}],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        CircuitBreaker("x", clock=FakeClock(), **kwargs)  # type: ignore[arg-type]


def test_registry_creates_one_breaker_per_name_and_snapshots_states() -> None:
    clock, listener = FakeClock(), RecordingListener()
    registry = CircuitBreakerRegistry(
        failure_threshold=1, reset_seconds=5.0, half_open_probes=1, clock=clock, on_state_change=listener
    )
    assert registry.snapshot() == {}
    openai = registry.get("openai")
    assert registry.get("openai") is openai
    registry.get("anthropic")
    openai.record_failure(failure())
    assert registry.snapshot() == {"openai": OPEN, "anthropic": CLOSED}
    clock.advance(5.0)
    assert registry.snapshot() == {"openai": HALF_OPEN, "anthropic": CLOSED}
    assert listener.changes == [("openai", CLOSED, OPEN), ("openai", OPEN, HALF_OPEN)]
