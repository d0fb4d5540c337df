"""HDR recording: percentiles agree with exact ones within the histogram's precision; encode/merge round-trip."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest

from llm_loadtest.metrics.histograms import (
    INSUFFICIENT,
    P999_MIN_SAMPLES,
    decode,
    encode,
    merged,
    new_histogram,
    record_ns,
    summarize,
)

# 3 significant digits: any value is stored within 1/1000 of itself (plus 1 µs for the unit floor).
RELATIVE_PRECISION = 1e-3


def exact_percentile(values: list[int], percentile: float) -> int:
    """The nearest-rank percentile, the definition HdrHistogram implements."""
    ordered = sorted(values)
    # Exact arithmetic: 99.9 / 100 * 20000 in floats is 19980.000000000004 and would pick the next rank.
    rank = max(1, math.ceil(Fraction(str(percentile)) / 100 * len(ordered)))
    return ordered[rank - 1]


@pytest.mark.parametrize("percentile", [50.0, 90.0, 95.0, 99.0, 99.9])
def test_hdr_percentiles_match_exact_percentiles_within_precision(percentile: float) -> None:
    rng = random.Random(11)
    microseconds = [max(1, int(rng.lognormvariate(8.0, 1.2))) for _ in range(20_000)]
    histogram = new_histogram()
    for value in microseconds:
        record_ns(histogram, value * 1000)
    exact = exact_percentile(microseconds, percentile)
    measured = histogram.get_value_at_percentile(percentile)
    assert abs(measured - exact) <= exact * RELATIVE_PRECISION + 1


def test_summary_reports_p999_only_with_enough_samples() -> None:
    small = new_histogram()
    for value in range(1, 101):
        record_ns(small, value * 1_000_000)
    summary = summarize(small)
    assert summary.p999_ms is None
    assert summary.as_dict()["p999_ms"] == INSUFFICIENT
    assert summary.count == 100
    assert summary.p50_ms == pytest.approx(50.0, rel=RELATIVE_PRECISION)
    assert summary.max_ms == pytest.approx(100.0, rel=RELATIVE_PRECISION)
    large = new_histogram()
    for value in range(P999_MIN_SAMPLES):
        record_ns(large, (value + 1) * 1000)
    assert summarize(large).p999_ms == pytest.approx(9.99, rel=RELATIVE_PRECISION)


def test_values_outside_the_range_are_clamped_not_lost() -> None:
    histogram = new_histogram()
    record_ns(histogram, 0)
    record_ns(histogram, 10 * 3600 * 10**9)
    assert histogram.get_total_count() == 2


def test_encoded_histograms_decode_and_merge_to_the_combined_distribution() -> None:
    rng = random.Random(2)
    left, right, both = new_histogram(), new_histogram(), new_histogram()
    for index in range(5000):
        value = int(rng.expovariate(1 / 5e6))
        record_ns(left if index % 2 else right, value)
        record_ns(both, value)
    restored = merged([decode(encode(left)), decode(encode(right))])
    assert restored.get_total_count() == both.get_total_count()
    for percentile in (50.0, 99.0, 99.9):
        assert restored.get_value_at_percentile(percentile) == both.get_value_at_percentile(percentile)


def test_fast_summary_agrees_with_hdrh_reference_implementation() -> None:
    rng = random.Random(9)
    histogram = new_histogram()
    for _ in range(3000):
        record_ns(histogram, int(rng.paretovariate(1.5) * 1e6))
    summary = summarize(histogram)
    assert summary.p99_ms == round(histogram.get_value_at_percentile(99.0) / 1000, 3)
    assert summary.p50_ms == round(histogram.get_value_at_percentile(50.0) / 1000, 3)
    assert summary.mean_ms == pytest.approx(histogram.get_mean_value() / 1000, abs=0.001)
