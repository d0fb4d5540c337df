"""Generator health: event-loop lag, dispatch delay and CPU; over limits makes a run inconclusive."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Any

import psutil
from hdrh.histogram import HdrHistogram

from llm_loadtest.metrics.histograms import new_histogram, percentile_ms, record_ns
from llm_loadtest.metrics.measurements import DISPATCH_DELAY, Measurements

LOOP_LAG = "loop_lag"


@dataclass(frozen=True, slots=True)
class HealthLimits:
    """Limits beyond which the generator, not the service, may be what was measured."""

    loop_lag_p99_ms: float = 20.0
    dispatch_delay_p99_ms: float = 20.0
    cpu_percent: float = 90.0
    late_drop_fraction: float = 0.001


@dataclass(frozen=True, slots=True)
class HealthReport:
    loop_lag_p99_ms: float
    loop_lag_max_ms: float
    dispatch_delay_p99_ms: float
    cpu_percent: float
    # All drops are reported; only drops because the generator was late are a health problem
    # (drops at max_in_flight mean the service was too slow, which is a real result).
    dropped_fraction: float
    late_drop_fraction: float
    limits: HealthLimits
    problems: tuple[str, ...]

    @property
    def healthy(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["problems"] = list(self.problems)
        values["healthy"] = self.healthy
        return values

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HealthReport:
        return cls(
            loop_lag_p99_ms=float(data["loop_lag_p99_ms"]),
            loop_lag_max_ms=float(data["loop_lag_max_ms"]),
            dispatch_delay_p99_ms=float(data["dispatch_delay_p99_ms"]),
            cpu_percent=float(data["cpu_percent"]),
            dropped_fraction=float(data["dropped_fraction"]),
            late_drop_fraction=float(data["late_drop_fraction"]),
            limits=HealthLimits(**data["limits"]),
            problems=tuple(data["problems"]),
        )


class LoopLagMonitor:
    """Samples how late a short sleep wakes up: a busy or blocked event loop shows here first."""

    def __init__(self, measurements: Measurements, *, interval_seconds: float = 0.01, window_seconds: float) -> None:
        self._measurements = measurements
        self._interval_seconds = interval_seconds
        self._window_seconds = window_seconds
        self.histogram: HdrHistogram = new_histogram()
        self._stop = asyncio.Event()
        self._cpu_start = 0.0
        self._wall_start = 0.0
        self.cpu_percent = 0.0

    def stop(self) -> None:
        self._stop.set()

    async def run(self, *, max_seconds: float) -> None:
        """Sample until stop() or `max_seconds`, whichever comes first."""
        process = psutil.Process()
        cpu = process.cpu_times()
        self._cpu_start, self._wall_start = cpu.user + cpu.system, time.monotonic()
        deadline = self._wall_start + max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            before = time.monotonic_ns()
            await asyncio.sleep(self._interval_seconds)
            lag_ns = time.monotonic_ns() - before - round(self._interval_seconds * 1e9)
            lag_ns = max(lag_ns, 0)
            record_ns(self.histogram, lag_ns)
            self._measurements.record(LOOP_LAG, lag_ns)
            window = int((time.monotonic() - self._wall_start) // self._window_seconds)
            lags = self._measurements.loop_lag_max_ms
            lags[window] = max(lags.get(window, 0.0), lag_ns / 1e6)
        cpu = process.cpu_times()
        elapsed = max(time.monotonic() - self._wall_start, 1e-9)
        self.cpu_percent = 100.0 * (cpu.user + cpu.system - self._cpu_start) / elapsed


def assess(measurements: Measurements, monitor: LoopLagMonitor, limits: HealthLimits) -> HealthReport:
    """Compare the generator's own numbers to the limits; every breach is named in `problems`."""
    dispatch = measurements.select(DISPATCH_DELAY, {}, include_ungated=True)
    scheduled = measurements.count(phase=None)
    dropped = measurements.count(outcome="dropped")
    report = HealthReport(
        loop_lag_p99_ms=percentile_ms(monitor.histogram, 99.0),
        loop_lag_max_ms=round(monitor.histogram.get_max_value() / 1000.0, 3),
        dispatch_delay_p99_ms=percentile_ms(dispatch, 99.0),
        cpu_percent=round(monitor.cpu_percent, 1),
        dropped_fraction=dropped / scheduled if scheduled else 0.0,
        late_drop_fraction=measurements.notes["dropped_late"] / scheduled if scheduled else 0.0,
        limits=limits,
        problems=(),
    )
    checks = (
        ("event-loop lag p99", report.loop_lag_p99_ms, limits.loop_lag_p99_ms),
        ("dispatch delay p99", report.dispatch_delay_p99_ms, limits.dispatch_delay_p99_ms),
        ("generator CPU %", report.cpu_percent, limits.cpu_percent),
        ("late-dropped fraction", report.late_drop_fraction, limits.late_drop_fraction),
    )
    problems = tuple(f"{name} {value:g} > limit {limit:g}" for name, value, limit in checks if value > limit)
    return HealthReport(**{**asdict(report), "limits": limits, "problems": problems})
