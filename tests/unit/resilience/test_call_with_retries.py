"""call_with_retries: attempts numbered from 1, terminal errors at once, the last error when exhausted."""

from __future__ import annotations

import pytest

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.resilience.retry import RetryPolicy, call_with_retries

POLICY = RetryPolicy(max_attempts=3, base_delay_seconds=1.0, max_delay_seconds=10.0)


class RecordingSleep:
    """Records requested waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class ScriptedCall:
    """Raises the scripted errors in order, then returns the attempt number."""

    def __init__(self, *errors: Exception) -> None:
        self._errors = list(errors)
        self.attempts: list[int] = []

    async def __call__(self, attempt: int) -> str:
        self.attempts.append(attempt)
        if self._errors:
            raise self._errors.pop(0)
        return f"ok on {attempt}"


def failure(kind: ProviderErrorKind, retry_after_seconds: float | None = None) -> ProviderError:
    return ProviderError(kind, str(kind), provider="test", retry_after_seconds=retry_after_seconds)


async def test_first_success_returns_without_waiting() -> None:
    call, sleep = ScriptedCall(), RecordingSleep()
    assert await call_with_retries(call, POLICY, sleep=sleep, random=lambda: 0.5) == "ok on 1"
    assert call.attempts == [1]
    assert sleep.waits == []


async def test_retryable_failures_are_retried_with_backoff_and_retry_after() -> None:
    call = ScriptedCall(failure(ProviderErrorKind.OVERLOADED), failure(ProviderErrorKind.RATE_LIMITED, 4.0))
    sleep = RecordingSleep()
    retries: list[tuple[int, ProviderErrorKind, float]] = []

    result = await call_with_retries(
        call,
        POLICY,
        sleep=sleep,
        random=lambda: 0.5,
        on_retry=lambda attempt, error, delay: retries.append((attempt, error.kind, delay)),
    )

    assert result == "ok on 3"
    assert call.attempts == [1, 2, 3]
    assert sleep.waits == [0.5, 4.0]
    assert retries == [(1, ProviderErrorKind.OVERLOADED, 0.5), (2, ProviderErrorKind.RATE_LIMITED, 4.0)]


@pytest.mark.parametrize(
    "kind",
    [ProviderErrorKind.INVALID_REQUEST, ProviderErrorKind.AUTHENTICATION, ProviderErrorKind.INVALID_RESPONSE],
)
async def test_terminal_errors_are_reraised_at_once(kind: ProviderErrorKind) -> None:
    terminal = failure(kind)
    call, sleep = ScriptedCall(terminal), RecordingSleep()
    with pytest.raises(ProviderError) as raised:
        await call_with_retries(call, POLICY, sleep=sleep, random=lambda: 0.5)
    assert raised.value is terminal
    assert call.attempts == [1]
    assert sleep.waits == []


async def test_last_error_is_reraised_when_attempts_run_out() -> None:
    errors = [failure(ProviderErrorKind.SERVER_ERROR) for _ in range(3)]
    call, sleep = ScriptedCall(*errors), RecordingSleep()
    with pytest.raises(ProviderError) as raised:
        await call_with_retries(call, POLICY, sleep=sleep, random=lambda: 1.0)
    assert raised.value is errors[-1]
    assert call.attempts == [1, 2, 3]
    assert sleep.waits == [1.0, 2.0]


async def test_non_provider_errors_propagate_unretried() -> None:
    call, sleep = ScriptedCall(RuntimeError("bug")), RecordingSleep()
    with pytest.raises(RuntimeError, match="bug"):
        await call_with_retries(call, POLICY, sleep=sleep, random=lambda: 0.5)
    assert call.attempts == [1]
