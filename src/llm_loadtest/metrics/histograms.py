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


def _nonzero(histogram: HdrHistogram) -> list[tuple[int, int]]:
    """(index, count) of every non-empty bucket; one C-speed copy instead of hdrh's Python iterators."""
    counts = list(histogram.counts)[: histogram.counts_len]
    return [(index, count) for index, count in enumerate(counts) if count]


def values_at(histogram: HdrHistogram, percentiles: list[float]) -> list[int]:
    """Values (µs) at several percentiles in one pass, with hdrh's own semantics (highest equivalent value)."""
    total = int(histogram.get_total_count())
    if total == 0:
        return [0 for _ in percentiles]
    buckets = _nonzero(histogram)
    found: list[int] = []
    for percentile in percentiles:
        # Same rank rule as HdrHistogram.get_value_at_percentile.
        target = max(int(min(percentile, 100.0) * total / 100 + 0.5), 1)
        running = 0
        for index, count in buckets:
            running += count
            if running >= target:
                found.append(histogram.get_highest_equivalent_value(histogram.get_value_from_index(index)))
                break
        else:
            found.append(histogram.get_max_value())
    return found


def percentile_ms(histogram: HdrHistogram, percentile: float) -> float:
    return _ms(values_at(histogram, [percentile])[0])


def mean_microseconds(histogram: HdrHistogram) -> float:
    total = int(histogram.get_total_count())
    if not total:
        return 0.0
    weighted: int = sum(
        count * histogram._hdr_median_equiv_value(histogram.get_value_from_index(index))
        for index, count in _nonzero(histogram)
    )
    return float(weighted) / total


def summarize(histogram: HdrHistogram) -> Summary:
    count = int(histogram.get_total_count())
    if count == 0:
        return Summary(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, None, 0.0)
    p50, p90, p95, p99, p999 = values_at(histogram, [50.0, 90.0, 95.0, 99.0, 99.9])
    return Summary(
        count=count,
        min_ms=_ms(histogram.get_min_value()),
        mean_ms=_ms(mean_microseconds(histogram)),
        p50_ms=_ms(p50),
        p90_ms=_ms(p90),
        p95_ms=_ms(p95),
        p99_ms=_ms(p99),
        p999_ms=_ms(p999) if count >= P999_MIN_SAMPLES else None,
        max_ms=_ms(histogram.get_max_value()),
    )


def spectrum_ms(histogram: HdrHistogram, points: int = 60) -> list[tuple[float, float]]:
    """(percentile, latency ms) pairs on a log-spaced 'nines' axis, for the percentile-spectrum chart."""
    if histogram.get_total_count() == 0:
        return []
    # 0 .. 99.999 spaced evenly in -log10(1 - p), the usual HDR presentation.
    percentiles = [100.0 * (1.0 - 10.0 ** -(5.0 * index / points)) for index in range(points + 1)]
    values = values_at(histogram, percentiles)
    return [(round(p, 4), _ms(v)) for p, v in zip(percentiles, values, strict=True)]
