"""Interval stats, spike recovery time and late/early degradation from per-window histograms."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from llm_loadtest.metrics.histograms import record_ns
from llm_loadtest.metrics.measurements import Measurements
from llm_loadtest.metrics.phases import interval_stats, late_early_ratio, recovery_time

MS = 1_000_000


def measurements_with(p_latency_ms: Sequence[tuple[str, float]]) -> Measurements:
    """One window per entry, each with 100 samples at the given latency."""
    store = Measurements(scenario="spike", window_seconds=1.0)
    for index, (phase, latency_ms) in enumerate(p_latency_ms):
        window = store.window(index, phase)
        for _ in range(100):
            record_ns(window.latency, int(latency_ms * MS))
        window.counts["ok"] += 100
    return store


def test_recovery_time_counts_from_spike_end_until_rolling_p99_is_back_within_ten_percent() -> None:
    phases = [("steady", 20)] * 5 + [("spike", 400)] * 2 + [("recovery", 300), ("recovery", 150)]
    phases += [("recovery", 21)] * 6
    recovery = recovery_time(measurements_with(phases), rolling_windows=3)
    assert recovery is not None
    assert recovery.baseline_p99_ms == pytest.approx(20, rel=0.01)
    assert recovery.recovery_seconds == pytest.approx(2.0)  # windows 7 and 8 were still slow


def test_never_recovering_is_reported_as_none_and_no_spike_as_no_recovery() -> None:
    slow = measurements_with([("steady", 20)] * 3 + [("spike", 400)] + [("recovery", 100)] * 5)
    recovery = recovery_time(slow)
    assert recovery is not None
    assert recovery.recovery_seconds is None
    assert recovery_time(measurements_with([("steady", 20)] * 5)) is None


def test_interval_stats_and_degradation_ratio() -> None:
    store = measurements_with([("warmup", 50)] + [("steady", 10)] * 5 + [("steady", 20)] * 5)
    rows = interval_stats(store)
    assert [row.phase for row in rows][:2] == ["warmup", "steady"]
    assert rows[1].throughput_per_second == 100
    assert late_early_ratio(store) == pytest.approx(2.0, rel=0.01)
