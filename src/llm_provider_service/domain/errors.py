"""The service's exception tree, shared by every layer.

    ServiceError                      root; `code` is the stable machine-readable code
    ├── RequestRejectedError          the caller's fault, never retried, never trips a breaker
    │   ├── RequestValidationError    validation_error
    │   ├── UnknownProviderError      unknown_provider
    │   ├── UnknownModelError         unknown_model
    │   ├── UnsupportedParameterError unsupported_parameter
    │   ├── PayloadTooLargeError      payload_too_large
    │   ├── UnauthorizedError         unauthorized
    │   ├── ForbiddenError            forbidden
    │   ├── NotFoundError             not_found
    │   │   └── ModelNotFoundError    model_not_found (the gateway has no such model or alias)
    │   └── ConflictError             conflict (e.g. cancelling a job already running)
    ├── UnavailableError              try again after `retry_after_seconds`
    │   ├── QueueFullError            queue_full
    │   ├── StoreUnavailableError     store_unavailable (an INSERT may have committed: retry idempotently)
    │   ├── QueueUnavailableError     queue_unavailable (the caller may fall back to the store)
    │   ├── OverloadedError           overloaded (the API is at its in-flight request limit)
    │   ├── ProviderUnavailableError  provider_unavailable (circuit open)
    │   ├── BudgetExhaustedError      budget_exhausted: our own rate budget has no room (not a provider error)
    │   └── BudgetUnavailableError    budget_unavailable (the shared budget backend is down; callers run on)
    ├── ProviderError                 a provider call failed; `kind` says how, `retryable` what to do
    └── PublishError                  an event could not be delivered (the outbox keeps it)

Errors carry meaning, never transport: the HTTP status and problem+json body of each code live in one
table, `api/problems.py`. Adapters translate library and vendor exceptions into these at their boundary
(`raise ... from exc`). Outside the tree, on purpose, are errors that never cross the service's boundary: the
development tooling's (`infra/`: binaries, launcher, local servers) and the mock server's own request parsing.
"""

from __future__ import annotations

from enum import StrEnum


class ServiceError(Exception):
    """Root of every error this service raises on purpose."""

    code = "internal_error"
    # The request field at fault, when one is (OpenAI's `error.param`), e.g. "temperature".
    param: str | None = None


class RequestRejectedError(ServiceError):
    code = "bad_request"


class RequestValidationError(RequestRejectedError):
    code = "validation_error"

    def __init__(self, message: str, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class UnknownProviderError(RequestRejectedError):
    code = "unknown_provider"


class UnknownModelError(RequestRejectedError):
    code = "unknown_model"


class UnsupportedParameterError(RequestRejectedError):
    code = "unsupported_parameter"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class PayloadTooLargeError(RequestRejectedError):
    code = "payload_too_large"


class UnauthorizedError(RequestRejectedError):
    code = "unauthorized"


class ForbiddenError(RequestRejectedError):
    code = "forbidden"


class NotFoundError(RequestRejectedError):
    code = "not_found"


class ModelNotFoundError(NotFoundError):
    """The gateway has no such model: unknown name or alias, or its provider is not configured."""

    code = "model_not_found"


class ConflictError(RequestRejectedError):
    code = "conflict"


class UnavailableError(ServiceError):
    """Temporarily unable to take the request. Retry after `retry_after_seconds` (with the same Idempotency-Key)."""

    code = "service_unavailable"

    def __init__(self, message: str, retry_after_seconds: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class QueueFullError(UnavailableError):
    code = "queue_full"


class StoreUnavailableError(UnavailableError):
    code = "store_unavailable"


class QueueUnavailableError(UnavailableError):
    code = "queue_unavailable"


class OverloadedError(UnavailableError):
    code = "overloaded"


class ProviderUnavailableError(UnavailableError):
    code = "provider_unavailable"


class BudgetExhaustedError(UnavailableError):
    """A sync call found no room in the provider's rate budget within its bounded wait: 429 + Retry-After."""

    code = "budget_exhausted"


class BudgetUnavailableError(UnavailableError):
    code = "budget_unavailable"


class ProviderErrorKind(StrEnum):
    """How a provider call failed. The first five are worth retrying; the rest are final."""

    RATE_LIMITED = "rate_limited"
    OVERLOADED = "overloaded"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    AUTHENTICATION = "authentication"
    INVALID_REQUEST = "invalid_request"
    CONTENT_FILTERED = "content_filtered"
    MODEL_NOT_FOUND = "model_not_found"
    INVALID_RESPONSE = "invalid_response"

    @property
    def retryable(self) -> bool:
        return self in RETRYABLE_KINDS

    @property
    def counts_against_provider(self) -> bool:
        """Whether the failure says the provider is unhealthy (trips the breaker); caller errors never do."""
        return self in RETRYABLE_KINDS


RETRYABLE_KINDS = frozenset(
    {
        ProviderErrorKind.RATE_LIMITED,
        ProviderErrorKind.OVERLOADED,
        ProviderErrorKind.SERVER_ERROR,
        ProviderErrorKind.TIMEOUT,
        ProviderErrorKind.CONNECTION,
    }
)


class ProviderError(ServiceError):
    """A provider call failed, raised complete: `kind`, the `provider` that failed, the vendor's status and
    Retry-After when it sent them."""

    code = "provider_error"

    def __init__(
        self,
        kind: ProviderErrorKind,
        message: str,
        *,
        provider: str,
        retry_after_seconds: float | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.provider = provider
        self.retry_after_seconds = retry_after_seconds
        self.http_status = http_status

    @property
    def retryable(self) -> bool:
        return self.kind.retryable


class PublishError(ServiceError):
    code = "publish_failed"
