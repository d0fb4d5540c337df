"""`api/problems.py` is the one table from error codes to HTTP: every error in the tree has its row."""

from __future__ import annotations

import pytest

from llm_provider_service.api.problems import PROVIDER_STATUSES, STATUSES, describe
from llm_provider_service.domain import errors
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind, ServiceError


def _tree(root: type[ServiceError]) -> list[type[ServiceError]]:
    found = []
    for child in root.__subclasses__():
        found.append(child)
        found.extend(_tree(child))
    return found


def test_every_error_code_has_a_status() -> None:
    codes = {cls.code for cls in _tree(ServiceError) if cls is not ProviderError}
    assert codes - set(STATUSES) == set()
    assert set(PROVIDER_STATUSES) == set(ProviderErrorKind)


def test_every_error_class_is_in_the_documented_tree() -> None:
    documented = errors.__doc__ or ""
    assert [cls.__name__ for cls in _tree(ServiceError) if cls.__name__ not in documented] == []


@pytest.mark.parametrize(
    ("error", "status", "retryable"),
    [
        (errors.RequestValidationError("bad"), 400, False),
        (errors.UnknownProviderError("skynet"), 400, False),
        (errors.UnsupportedParameterError("temperature"), 400, False),
        (errors.UnauthorizedError("key"), 401, False),
        (errors.PayloadTooLargeError("big"), 413, False),
        (errors.QueueFullError("full", 2.0), 503, True),
        (errors.StoreUnavailableError("down", 1.0), 503, True),
        (ProviderError(ProviderErrorKind.RATE_LIMITED, "slow", provider="openai", retry_after_seconds=3), 429, True),
        (ProviderError(ProviderErrorKind.AUTHENTICATION, "key", provider="openai"), 502, False),
    ],
)
def test_status_and_retry_advice(error: ServiceError, status: int, retryable: bool) -> None:
    described = describe(error)
    assert (described.status, described.retryable) == (status, retryable)
