"""Latency models and their per-request override."""

from __future__ import annotations

import statistics

import pytest

from llm_provider_service.mock import MockCall, MockControl, MockEngine, MockProfile


def _samples(profile: MockProfile, count: int) -> list[float]:
    engine = MockEngine(profile)
    return [engine.sample_latency_ms(f"job-{i}", 1) for i in range(count)]


def test_none_means_no_latency() -> None:
    assert set(_samples(MockProfile(latency_model="none", latency_ms=50), 20)) == {0.0}


def test_fixed_is_always_the_configured_value() -> None:
    assert set(_samples(MockProfile(latency_model="fixed", latency_ms=12.5), 20)) == {12.5}


def test_uniform_stays_within_its_bounds_and_spreads() -> None:
    samples = _samples(MockProfile(latency_model="uniform", latency_min_ms=10, latency_max_ms=30), 5_000)

    assert min(samples) >= 10
    assert max(samples) <= 30
    assert statistics.mean(samples) == pytest.approx(20, rel=0.03)


def test_lognormal_has_the_configured_median_and_p99() -> None:
    samples = _samples(MockProfile(latency_model="lognormal", latency_ms=100, latency_p99_ms=400), 20_000)

    percentiles = statistics.quantiles(samples, n=100)
    assert percentiles[49] == pytest.approx(100, rel=0.05)
    assert percentiles[98] == pytest.approx(400, rel=0.10)


def test_lognormal_without_a_wider_p99_is_the_median() -> None:
    assert set(_samples(MockProfile(latency_model="lognormal", latency_ms=40), 10)) == {40.0}


def test_a_per_request_latency_overrides_the_model() -> None:
    engine = MockEngine(MockProfile(latency_model="fixed", latency_ms=500))

    result = engine.respond(MockCall(prompt="p", control=MockControl(latency_ms=7)))

    assert result.latency_ms == 7


def test_a_timeout_hangs_for_timeout_seconds_or_a_smaller_requested_latency() -> None:
    engine = MockEngine(MockProfile(timeout_seconds=3))

    hang = engine.respond(MockCall(prompt="p", control=MockControl(scenario="timeout")))
    short = engine.respond(MockCall(prompt="p", control=MockControl(scenario="timeout", latency_ms=20)))

    assert hang.latency_ms == 3000
    assert short.latency_ms == 20


def test_intrinsic_time_includes_the_streaming_pace() -> None:
    profile = MockProfile(latency_model="fixed", latency_ms=10, ttft_ms=5, inter_token_ms=2)

    result = MockEngine(profile).respond(MockCall(prompt="p"))

    assert len(result.chunks) > 1
    assert result.intrinsic_ms == 10 + 5 + 2 * (len(result.chunks) - 1)
