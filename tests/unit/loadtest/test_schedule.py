"""Arrival schedules: deterministic per seed, the planned rate, phases, and mix weights."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from llm_loadtest.load.schedule import (
    NS_PER_SECOND,
    build,
    constant,
    phase_bounds,
    planned_rate,
    poisson,
    ramp,
    spike,
    step,
    with_warmup,
)

MIX = {"quick": 6.0, "detailed": 2.0, "batch": 2.0}


def test_same_seed_gives_the_same_schedule_and_another_seed_does_not() -> None:
    segments = with_warmup(poisson(200, 5), 1)
    first = build(segments, seed=7, mix=MIX)
    assert first == build(segments, seed=7, mix=MIX)
    assert first != build(segments, seed=8, mix=MIX)


def test_constant_rate_places_arrivals_evenly() -> None:
    arrivals = build(constant(100, 2), seed=1, mix={"get": 1})
    assert len(arrivals) == 200
    gaps = {b.offset_ns - a.offset_ns for a, b in itertools.pairwise(arrivals)}
    assert gaps == {NS_PER_SECOND // 100}


def test_poisson_count_is_close_to_rate_times_duration() -> None:
    arrivals = build(poisson(1000, 10), seed=3, mix={"get": 1})
    # 10,000 expected, standard deviation 100: 5 sigma.
    assert 9500 < len(arrivals) < 10500
    assert all(a.offset_ns <= b.offset_ns for a, b in itertools.pairwise(arrivals))


def test_ramp_from_zero_has_the_triangle_count_and_more_arrivals_late() -> None:
    arrivals = build(ramp(0, 200, 10), seed=1, mix={"get": 1})
    assert abs(len(arrivals) - 1000) <= 1
    first_half = sum(1 for a in arrivals if a.offset_ns < 5 * NS_PER_SECOND)
    assert first_half == pytest.approx(250, abs=2)


def test_spike_has_steady_spike_recovery_phases_with_their_rates() -> None:
    segments = with_warmup(spike(50, 250, before_seconds=4, spike_seconds=2, after_seconds=4), 1)
    counts = Counter(a.phase for a in build(segments, seed=1, mix={"get": 1}))
    assert counts == {"warmup": 50, "steady": 200, "spike": 500, "recovery": 200}
    assert [name for name, _, _ in phase_bounds(segments)] == ["warmup", "steady", "spike", "recovery"]
    assert planned_rate(segments) == pytest.approx((200 + 500 + 200) / 10)


def test_step_names_each_step_as_its_own_phase() -> None:
    counts = Counter(a.phase for a in build(step([10, 20], 1), seed=1, mix={"get": 1}))
    assert counts == {"step-0": 10, "step-1": 20}


def test_mix_weights_are_respected_for_a_fixed_seed() -> None:
    counts = Counter(a.workload for a in build(constant(1000, 10), seed=5, mix=MIX))
    assert counts["quick"] / 10_000 == pytest.approx(0.6, abs=0.03)
    assert counts["batch"] / 10_000 == pytest.approx(0.2, abs=0.03)


def test_an_empty_or_negative_mix_is_refused() -> None:
    with pytest.raises(ValueError, match="mix"):
        build(constant(1, 1), seed=1, mix={})
    with pytest.raises(ValueError, match="weights"):
        build(constant(1, 1), seed=1, mix={"a": -1.0})
