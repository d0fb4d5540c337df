"""Fault injection: profile rates, per-request scenarios, fail_attempts, bursts, performance mode."""

from __future__ import annotations

from collections import Counter

import pytest

from llm_provider_service.mock import SCENARIOS, FaultKind, MockCall, MockControl, MockEngine, MockProfile


def _outcomes(engine: MockEngine, count: int, *, attempt: int = 1) -> Counter[str]:
    return Counter(engine.respond(MockCall(prompt="p", key=f"job-{i}", attempt=attempt)).outcome for i in range(count))


def test_fault_rates_are_roughly_honoured() -> None:
    rates = {"rate_limited": 0.1, "server_error": 0.2, "unauthorized": 0.05}
    engine = MockEngine(MockProfile(seed=11, fault_rates=rates))
    count = 10_000

    outcomes = _outcomes(engine, count)

    for kind, rate in rates.items():
        # Four standard deviations of a binomial: deterministic anyway, but not tuned to one seed.
        tolerance = 4 * (count * rate * (1 - rate)) ** 0.5
        assert abs(outcomes[kind] - count * rate) < tolerance, kind
    assert set(outcomes) == {"ok", *rates}


def test_a_retried_attempt_draws_afresh() -> None:
    engine = MockEngine(MockProfile(seed=5, fault_rates={"server_error": 0.5}))

    first = [engine.respond(MockCall(prompt="p", key=f"k{i}", attempt=1)).outcome for i in range(200)]
    second = [engine.respond(MockCall(prompt="p", key=f"k{i}", attempt=2)).outcome for i in range(200)]

    assert first != second


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_scenario_always_applies_without_fail_attempts(scenario: str) -> None:
    engine = MockEngine(MockProfile(fault_rates={"overloaded": 1.0}))
    control = MockControl(scenario=scenario)

    outcomes = {engine.respond(MockCall(prompt="p", key="k", attempt=n, control=control)).outcome for n in (1, 2, 9)}

    assert outcomes == {scenario}


def test_fail_attempts_fails_the_first_attempts_then_succeeds() -> None:
    engine = MockEngine(MockProfile())
    control = MockControl(scenario="rate_limited", fail_attempts=2)

    outcomes = [engine.respond(MockCall(prompt="p", key="k", attempt=n, control=control)).outcome for n in (1, 2, 3, 4)]

    assert outcomes == ["rate_limited", "rate_limited", "ok", "ok"]


def test_fail_attempts_without_scenario_fails_with_a_server_error() -> None:
    engine = MockEngine(MockProfile())
    control = MockControl(fail_attempts=1)

    outcomes = [engine.respond(MockCall(prompt="p", attempt=n, control=control)).outcome for n in (1, 2)]

    assert outcomes == ["server_error", "ok"]


def test_rate_limited_carries_a_retry_after() -> None:
    result = MockEngine(MockProfile()).respond(MockCall(prompt="p", control=MockControl(scenario="rate_limited")))

    assert result.retry_after_seconds is not None
    assert result.retry_after_seconds > 0


def test_bursts_fail_the_calls_after_every_nth() -> None:
    engine = MockEngine(MockProfile(burst_every=5, burst_length=2, burst_kind="overloaded"))

    outcomes = [engine.respond(MockCall(prompt="p", key=f"k{i}")).outcome for i in range(15)]

    ok, burst = "ok", "overloaded"
    assert outcomes == [ok] * 5 + [burst] * 2 + [ok] * 3 + [burst] * 2 + [ok] * 3


def test_performance_mode_disables_every_fault_but_keeps_latency() -> None:
    profile = MockProfile(
        performance_mode=True,
        latency_model="fixed",
        latency_ms=25.0,
        fault_rates={"server_error": 1.0},
        burst_every=1,
        burst_length=1,
    )
    engine = MockEngine(profile)

    scripted = engine.respond(MockCall(prompt="p", control=MockControl(scenario="timeout")))
    random_faults = _outcomes(engine, 50)

    assert scripted.outcome == "ok"
    assert scripted.latency_ms == 25.0
    assert random_faults == Counter({"ok": 50})


def test_fault_kinds_are_exactly_the_specified_ones() -> None:
    assert {kind.value for kind in FaultKind} == {
        "rate_limited",
        "overloaded",
        "server_error",
        "timeout",
        "malformed",
        "invalid_output",
        "unauthorized",
    }


@pytest.mark.parametrize(
    "changes",
    [
        {"fault_rates": {"nonsense": 0.1}},
        {"fault_rates": {"server_error": 0.7, "overloaded": 0.7}},
        {"fault_rates": {"server_error": -0.1}},
        {"burst_kind": "nonsense"},
        {"latency_model": "gaussian"},
        {"latency_model": "uniform", "latency_min_ms": 5, "latency_max_ms": 1},
        {"timeout_seconds": 0},
    ],
)
def test_an_inconsistent_profile_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="mock"):
        MockProfile(**changes)  # type: ignore[arg-type]
