"""RetryPolicy: full-jitter bounds, the cap, Retry-After as a floor, and which errors are retried."""

from __future__ import annotations

import pytest

from llm_provider_service.domain.errors import RETRYABLE_KINDS, ProviderError, ProviderErrorKind
from llm_provider_service.resilience.retry import RetryPolicy

POLICY = RetryPolicy(max_attempts=5, base_delay_seconds=0.5, max_delay_seconds=60.0)


def error(kind: ProviderErrorKind, retry_after_seconds: float | None = None) -> ProviderError:
    return ProviderError(kind, "boom", provider="test", retry_after_seconds=retry_after_seconds)


def test_defaults_match_the_spec() -> None:
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.base_delay_seconds, policy.max_delay_seconds) == (5, 0.5, 60.0)


@pytest.mark.parametrize(("attempt", "cap"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 60.0), (10_000, 60.0)])
def test_backoff_window_doubles_up_to_the_cap(attempt: int, cap: float) -> None:
    assert POLICY.delay_seconds(attempt, random=lambda: 1.0) == pytest.approx(cap)
    assert POLICY.delay_seconds(attempt, random=lambda: 0.0) == 0.0


def test_full_jitter_is_uniform_over_the_window() -> None:
    assert POLICY.delay_seconds(3, random=lambda: 0.25) == pytest.approx(0.5)
    assert POLICY.delay_seconds(3, random=lambda: 0.75) == pytest.approx(1.5)


def test_out_of_range_random_values_stay_inside_the_window() -> None:
    assert POLICY.delay_seconds(2, random=lambda: 7.0) == pytest.approx(1.0)
    assert POLICY.delay_seconds(2, random=lambda: -3.0) == 0.0


def test_attempt_below_one_is_treated_as_the_first() -> None:
    assert POLICY.delay_seconds(0, random=lambda: 1.0) == pytest.approx(0.5)


def test_retry_after_is_a_floor_over_the_jitter() -> None:
    assert POLICY.delay_seconds(1, retry_after_seconds=7.0, random=lambda: 1.0) == pytest.approx(7.0)


def test_jitter_above_retry_after_wins() -> None:
    assert POLICY.delay_seconds(8, retry_after_seconds=2.0, random=lambda: 0.5) == pytest.approx(30.0)


def test_retry_after_beyond_the_cap_is_honoured_exactly() -> None:
    assert POLICY.delay_seconds(8, retry_after_seconds=120.0, random=lambda: 1.0) == pytest.approx(120.0)


def test_negative_retry_after_is_ignored() -> None:
    assert POLICY.delay_seconds(1, retry_after_seconds=-5.0, random=lambda: 0.5) == pytest.approx(0.25)


@pytest.mark.parametrize("kind", sorted(RETRYABLE_KINDS))
def test_retryable_kinds_are_retried_until_max_attempts(kind: ProviderErrorKind) -> None:
    assert all(POLICY.should_retry(error(kind), attempt) for attempt in range(1, 5))
    assert not POLICY.should_retry(error(kind), 5)


@pytest.mark.parametrize("kind", sorted(set(ProviderErrorKind) - RETRYABLE_KINDS))
def test_terminal_kinds_are_never_retried(kind: ProviderErrorKind) -> None:
    assert not POLICY.should_retry(error(kind), 1)


def test_single_attempt_policy_never_retries() -> None:
    assert not RetryPolicy(max_attempts=1).should_retry(error(ProviderErrorKind.SERVER_ERROR), 1)


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"base_delay_seconds": 0.0}, {"max_delay_seconds": -1.0}])
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
