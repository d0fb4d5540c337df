"""Theil-Sen leak detection: a planted leak is found, a flat noisy series and a single outlier are not."""

from __future__ import annotations

import random

import pytest

from llm_loadtest.load.resources import metric_value
from llm_loadtest.metrics.leak import judge, theil_sen


def test_planted_leak_is_found_with_its_slope_inside_the_interval() -> None:
    rng = random.Random(4)
    seconds = [float(s) for s in range(0, 600, 5)]
    rss = [120 + 2.0 * s / 60 + rng.gauss(0, 1.5) for s in seconds]  # 2 MiB/min
    verdict = judge("rss_mib", "MiB", seconds, rss, allowed_per_minute=1.0)
    assert verdict.leaking
    assert verdict.slope is not None
    assert verdict.slope.low <= 2.0 <= verdict.slope.high


def test_flat_noisy_series_is_not_a_leak() -> None:
    rng = random.Random(5)
    seconds = [float(s) for s in range(0, 600, 5)]
    rss = [120 + rng.gauss(0, 3.0) for _ in seconds]
    verdict = judge("rss_mib", "MiB", seconds, rss, allowed_per_minute=1.0)
    assert not verdict.leaking
    assert verdict.slope is not None
    assert verdict.slope.low <= 0.0 <= verdict.slope.high


def test_one_huge_outlier_does_not_fake_a_leak() -> None:
    seconds = [float(s) for s in range(100)]
    values = [100.0] * 100
    values[-1] = 10_000.0  # a single spike at the very end would dominate least squares
    slope = theil_sen(seconds, values)
    assert slope is not None
    assert slope.slope == pytest.approx(0.0)


def test_too_few_points_give_no_estimate() -> None:
    assert theil_sen([0.0, 1.0], [1.0, 2.0]) is None


def test_short_series_is_never_called_a_leak() -> None:
    seconds = [float(s) for s in range(30)]
    verdict = judge("rss_mib", "MiB", seconds, [100 + s for s in seconds], allowed_per_minute=1.0)
    assert not verdict.leaking
    assert "insufficient samples" in verdict.note


def test_backlog_is_read_from_a_prometheus_exposition() -> None:
    exposition = (
        "# HELP llm_provider_outbox_backlog Unpublished outbox events.\n"
        "# TYPE llm_provider_outbox_backlog gauge\n"
        "llm_provider_outbox_backlog 7.0\n"
        "llm_provider_outbox_backlog_total_other 99\n"
        'llm_provider_queue_depth{state="ready"} 3\n'
    )
    assert metric_value(exposition, "llm_provider_outbox_backlog") == 7.0
    assert metric_value(exposition, "llm_provider_queue_depth") == 3.0
    assert metric_value(exposition, "absent") is None
