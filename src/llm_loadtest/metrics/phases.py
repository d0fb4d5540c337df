"""Per-interval statistics and spike recovery time, computed from a run's windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from llm_loadtest.metrics.histograms import merged, percentile_ms
from llm_loadtest.metrics.measurements import Measurements, Window
from llm_loadtest.metrics.outcomes import Outcome

# Within 10 % of the pre-spike baseline, but never tighter than this: sub-millisecond p99s jitter by more.
MIN_RECOVERY_TOLERANCE_MS = 1.0


@dataclass(frozen=True, slots=True)
class IntervalStats:
    start_seconds: float
    mid_seconds: float
    phase: str
    scheduled: int
    ok: int
    errors: int
    throughput_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def interval_stats(measurements: Measurements) -> list[IntervalStats]:
    width = measurements.window_seconds
    rows: list[IntervalStats] = []
    for window in sorted(measurements.windows.values(), key=lambda w: w.index):
        ok = window.counts.get(Outcome.OK.value, 0)
        has_latency = window.latency.get_total_count() > 0
        rows.append(
            IntervalStats(
                start_seconds=round(window.index * width, 3),
                mid_seconds=round((window.index + 0.5) * width, 3),
                phase=window.phase,
                scheduled=window.scheduled,
                ok=ok,
                errors=window.scheduled - ok,
                throughput_per_second=round(ok / width, 2),
                p50_ms=percentile_ms(window.latency, 50.0) if has_latency else 0.0,
                p99_ms=percentile_ms(window.latency, 99.0) if has_latency else 0.0,
                max_ms=round(window.latency.get_max_value() / 1000.0, 3) if has_latency else 0.0,
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class Recovery:
    baseline_p99_ms: float
    spike_p99_ms: float
    recovery_seconds: float | None  # None: never back within tolerance before the run ended

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _p99(windows: Sequence[Window]) -> float:
    histogram = merged(window.latency for window in windows)
    return percentile_ms(histogram, 99.0) if histogram.get_total_count() else 0.0


def recovery_time(measurements: Measurements, *, rolling_windows: int = 3) -> Recovery | None:
    """Seconds from the spike's end until the rolling p99 (over `rolling_windows`) is within 10 % of baseline.

    Baseline: p99 of the steady windows before the spike. None when the run has no spike phase.
    """
    ordered = sorted(measurements.windows.values(), key=lambda w: w.index)
    spike = [w for w in ordered if w.phase == "spike"]
    if not spike:
        return None
    before = [w for w in ordered if w.phase == "steady" and w.index < spike[0].index]
    after = [w for w in ordered if w.index > spike[-1].index and w.phase == "recovery"]
    baseline = _p99(before)
    tolerance = max(0.1 * baseline, MIN_RECOVERY_TOLERANCE_MS)
    width = measurements.window_seconds
    spike_end_seconds = (spike[-1].index + 1) * width
    recovered: float | None = None
    for last in range(rolling_windows - 1, len(after)):
        group = after[last - rolling_windows + 1 : last + 1]
        if _p99(group) <= baseline + tolerance:
            recovered = max(0.0, group[0].index * width - spike_end_seconds)
            break
    return Recovery(baseline, _p99(spike), recovered)


def late_early_ratio(measurements: Measurements) -> float | None:
    """p99 of the last fifth of the (non-warm-up) windows over p99 of the first fifth: degradation over time."""
    windows = sorted((w for w in measurements.windows.values() if w.phase != "warmup"), key=lambda w: w.index)
    if len(windows) < 5:
        return None
    fifth = max(1, len(windows) // 5)
    early, late = _p99(windows[:fifth]), _p99(windows[-fifth:])
    return None if early <= 0 else round(late / early, 3)
