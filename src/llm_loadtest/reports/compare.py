"""`perf compare`: per-metric differences between two results, each judged regression / improvement / noise."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from llm_loadtest.metrics.histograms import P999_MIN_SAMPLES
from llm_loadtest.metrics.outcomes import Outcome
from llm_loadtest.metrics.result import RunResult
from llm_loadtest.reports.views import LATENCY_METRICS

Z_95 = 1.959963984540054
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


@dataclass(frozen=True, slots=True)
class Difference:
    metric: str
    statistic: str
    base: float
    new: float
    base_interval: tuple[float, float]
    new_interval: tuple[float, float]
    verdict: str  # regression | improvement | noise

    @property
    def change(self) -> float:
        return (self.new - self.base) / self.base if self.base else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "change": self.change}


def percentile_interval(histogram: HdrHistogram, percentile: float) -> tuple[float, float, float]:
    """(value, low, high) in ms; the 95 % interval comes from the binomial spread of the percentile's rank."""
    n = histogram.get_total_count()
    q = percentile / 100.0
    spread = Z_95 * math.sqrt(n * q * (1 - q))
    low_q = max(0.0, (n * q - spread) / n) * 100.0
    high_q = min(1.0, (n * q + spread + 1) / n) * 100.0
    ms = [histogram.get_value_at_percentile(p) / 1000.0 for p in (percentile, low_q, high_q)]
    return ms[0], ms[1], ms[2]


def _judge(base: float, new: float, base_iv: tuple[float, float], new_iv: tuple[float, float], tolerance: float) -> str:
    """Regression only when the intervals are disjoint AND the change exceeds the relative tolerance."""
    disjoint = new_iv[0] > base_iv[1] or new_iv[1] < base_iv[0]
    big = abs(new - base) > tolerance * max(base, 1e-9)
    if not (disjoint and big):
        return "noise"
    return "regression" if new > base else "improvement"


def _latency_differences(base: RunResult, new: RunResult, tolerance: float) -> list[Difference]:
    found: list[Difference] = []
    common = base.measurements.metrics() & new.measurements.metrics()
    for metric in (m for m in LATENCY_METRICS if m in common):
        b = base.measurements.select(metric, {"outcome": "ok"})
        n = new.measurements.select(metric, {"outcome": "ok"})
        count = min(b.get_total_count(), n.get_total_count())
        for percentile in PERCENTILES:
            if count == 0 or (percentile > 99.0 and count < P999_MIN_SAMPLES):
                continue
            bv, bl, bh = percentile_interval(b, percentile)
            nv, nl, nh = percentile_interval(n, percentile)
            verdict = _judge(bv, nv, (bl, bh), (nl, nh), tolerance)
            found.append(Difference(metric, f"p{percentile:g}", bv, nv, (bl, bh), (nl, nh), verdict))
    return found


def _rate_interval(ok: int, total: int) -> tuple[float, float, float]:
    """Wilson score interval for a proportion."""
    if total == 0:
        return 0.0, 0.0, 0.0
    p = ok / total
    denominator = 1 + Z_95**2 / total
    centre = (p + Z_95**2 / (2 * total)) / denominator
    half = Z_95 * math.sqrt(p * (1 - p) / total + Z_95**2 / (4 * total * total)) / denominator
    return p, centre - half, centre + half


def _success_difference(base: RunResult, new: RunResult) -> Difference:
    b = _rate_interval(base.measurements.count(outcome=Outcome.OK.value), base.measurements.count())
    n = _rate_interval(new.measurements.count(outcome=Outcome.OK.value), new.measurements.count())
    disjoint = n[1] > b[2] or n[2] < b[1]
    # Lower success is worse, so the direction is reversed compared with latency.
    verdict = "noise" if not disjoint else ("regression" if n[0] < b[0] else "improvement")
    return Difference("success", "rate", b[0], n[0], (b[1], b[2]), (n[1], n[2]), verdict)


def compare(base: RunResult, new: RunResult, *, tolerance: float = 0.05) -> tuple[str, list[Difference]]:
    differences = [*_latency_differences(base, new, tolerance), _success_difference(base, new)]
    verdicts = {d.verdict for d in differences}
    overall = "regression" if "regression" in verdicts else "improvement" if "improvement" in verdicts else "noise"
    return overall, differences
