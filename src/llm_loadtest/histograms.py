"""HDR histograms with the toolkit's fixed range (1 µs to 1 h, 3 significant digits) and their summaries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_MICROSECONDS = 1
HIGHEST_MICROSECONDS = 3_600_000_000
SIGNIFICANT_DIGITS = 3
# Below this many samples p99.9 is one or two observations wide and says nothing.
P999_MIN_SAMPLES = 10_000
INSUFFICIENT = "insufficient samples"
PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0))


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_MICROSECONDS, HIGHEST_MICROSECONDS, SIGNIFICANT_DIGITS)


def record_ns(histogram: HdrHistogram, nanoseconds: int) -> None:
    """Record a duration; values outside the range are clamped so that nothing is silently lost."""
    microseconds = min(max(nanoseconds // 1000, LOWEST_MICROSECONDS), HIGHEST_MICROSECONDS)
    histogram.record_value(microseconds)


def encode(histogram: HdrHistogram) -> str:
    encoded = histogram.encode()
    return encoded.decode("ascii") if isinstance(encoded, bytes) else str(encoded)


def decode(encoded: str) -> HdrHistogram:
    histogram = new_histogram()
    histogram.add(HdrHistogram.decode(encoded.encode("ascii")))
    return histogram


def merged(histograms: Iterable[HdrHistogram]) -> HdrHistogram:
    total = new_histogram()
    for histogram in histograms:
        total.add(histogram)
    return total


@dataclass(frozen=True, slots=True)
class Summary:
    """The standard latency line, in milliseconds; p99.9 is None below P999_MIN_SAMPLES."""

    count: int
    min_ms: float
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float | None
    max_ms: float

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        if self.p999_ms is None:
            values["p999_ms"] = INSUFFICIENT
        return values

    def value(self, aggregate: str) -> float | None:
        """An aggregate by its threshold name (min, mean, p50, p90, p95, p99, p99.9, max, count); None if unknown."""
        if aggregate == "count":
            return float(self.count)
        name = _AGGREGATE_FIELDS.get(aggregate)
        found = None if name is None else getattr(self, name)
        return None if found is None else float(found)


_AGGREGATE_FIELDS = {
    "min": "min_ms",
    "mean": "mean_ms",
    "avg": "mean_ms",
    "p50": "p50_ms",
    "med": "p50_ms",
    "p90": "p90_ms",
    "p95": "p95_ms",
    "p99": "p99_ms",
    "p99.9": "p999_ms",
    "p999": "p999_ms",
    "max": "max_ms",
}


def _ms(microseconds: float) -> float:
    return round(microseconds / 1000.0, 3)


def percentile_ms(histogram: HdrHistogram, percentile: float) -> float:
    return _ms(histogram.get_value_at_percentile(percentile))


def summarize(histogram: HdrHistogram) -> Summary:
    count = int(histogram.get_total_count())
    if count == 0:
        return Summary(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, None, 0.0)
    values = {name: percentile_ms(histogram, pct) for name, pct in PERCENTILES}
    return Summary(
        count=count,
        min_ms=_ms(histogram.get_min_value()),
        mean_ms=_ms(histogram.get_mean_value()),
        p50_ms=values["p50"],
        p90_ms=values["p90"],
        p95_ms=values["p95"],
        p99_ms=values["p99"],
        p999_ms=percentile_ms(histogram, 99.9) if count >= P999_MIN_SAMPLES else None,
        max_ms=_ms(histogram.get_max_value()),
    )


def spectrum_ms(histogram: HdrHistogram, points: int = 60) -> list[tuple[float, float]]:
    """(percentile, latency ms) pairs on a log-spaced 'nines' axis, for the percentile-spectrum chart."""
    if histogram.get_total_count() == 0:
        return []
    pairs: list[tuple[float, float]] = []
    for index in range(points + 1):
        # 0 .. 99.999 spaced evenly in -log10(1 - p), the usual HDR presentation.
        nines = 5.0 * index / points
        percentile = 100.0 * (1.0 - 10.0**-nines)
        pairs.append((round(percentile, 4), percentile_ms(histogram, percentile)))
    return pairs
