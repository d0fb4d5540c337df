"""Leak detection: Theil-Sen slope with Sen's confidence interval over resource samples."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

# Pairwise slopes grow as n²; beyond this many points we thin the series evenly (the estimator is robust to it).
MAX_POINTS = 1_500
Z_95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Slope:
    """Units of y per unit of x, with a two-sided 95 % confidence interval."""

    slope: float
    low: float
    high: float
    intercept: float
    points: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _thin(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    if len(xs) <= MAX_POINTS:
        return list(xs), list(ys)
    step = len(xs) / MAX_POINTS
    picks = [int(i * step) for i in range(MAX_POINTS)]
    return [xs[i] for i in picks], [ys[i] for i in picks]


def theil_sen(xs: Sequence[float], ys: Sequence[float], *, z: float = Z_95) -> Slope | None:
    """Median of pairwise slopes; the CI uses Kendall's-tau variance (Sen 1968). None below 3 points."""
    if len(xs) != len(ys):
        raise ValueError("x and y differ in length")
    x, y = _thin(xs, ys)
    n = len(x)
    if n < 3:
        return None
    slopes = sorted((y[j] - y[i]) / (x[j] - x[i]) for i in range(n) for j in range(i + 1, n) if x[j] != x[i])
    if not slopes:
        return None
    count = len(slopes)
    spread = z * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    lower_rank = max(0, min(count - 1, math.floor((count - spread) / 2.0)))
    upper_rank = max(0, min(count - 1, math.ceil((count + spread) / 2.0)))
    slope = statistics.median(slopes)
    intercept = statistics.median(yi - slope * xi for xi, yi in zip(x, y, strict=True))
    return Slope(slope, slopes[lower_rank], slopes[upper_rank], intercept, n)


@dataclass(frozen=True, slots=True)
class LeakVerdict:
    """`leaking` only when the whole CI is above zero AND the slope exceeds the allowed growth."""

    series: str
    unit_per_minute: str
    slope: Slope | None
    allowed_per_minute: float
    leaking: bool
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "series": self.series,
            "unit_per_minute": self.unit_per_minute,
            "slope": None if self.slope is None else self.slope.as_dict(),
            "allowed_per_minute": self.allowed_per_minute,
            "leaking": self.leaking,
            "note": self.note,
        }


def judge(
    series: str,
    unit: str,
    seconds: Sequence[float],
    values: Sequence[float],
    *,
    allowed_per_minute: float,
    min_minutes: float = 2.0,
    min_points: int = 10,
) -> LeakVerdict:
    """Too short a series is never called a leak: start-up growth (caches, pools) dominates the first minutes."""
    minutes = [s / 60.0 for s in seconds]
    slope = theil_sen(minutes, values)
    span = (minutes[-1] - minutes[0]) if minutes else 0.0
    if slope is None or span < min_minutes or len(minutes) < min_points:
        note = f"insufficient samples: {len(minutes)} points over {span:.1f} min (need {min_points} over {min_minutes})"
        return LeakVerdict(series, unit, slope, allowed_per_minute, leaking=False, note=note)
    leaking = slope.low > 0 and slope.slope > allowed_per_minute
    return LeakVerdict(series, unit, slope, allowed_per_minute, leaking)
