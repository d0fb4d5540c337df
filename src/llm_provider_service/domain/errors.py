"""The service's exception tree, shared by every layer.

    ServiceError                      root; `code` is the stable problem+json code
    ├── RequestRejectedError          the caller's fault (4xx), never retried, never trips a breaker
    │   ├── RequestValidationError    422 validation_error
    │   ├── UnknownProviderError      422 unknown_provider
    │   ├── UnknownModelError         422 unknown_model
    │   ├── UnsupportedParameterError 422 unsupported_parameter
    │   ├── PayloadTooLargeError      413 payload_too_large
    │   ├── UnauthorizedError         401 unauthorized
    │   ├── ForbiddenError            403 forbidden
    │   ├── NotFoundError             404 not_found
    │   └── ConflictError             409 conflict (e.g. cancelling a job already running)
    ├── UnavailableError              503 with Retry-After: try again later, nothing was recorded
    │   ├── QueueFullError            queue_full
    │   ├── StoreUnavailableError     store_unavailable
    │   ├── QueueUnavailableError     queue_unavailable (the caller may fall back to the store)
    │   └── ProviderUnavailableError  provider_unavailable (circuit open)
    ├── ProviderError                 a provider call failed; `kind` says how, `retryable` what to do
    └── PublishError                  an event could not be delivered (the outbox keeps it)

Adapters translate library and vendor exceptions into these at their boundary (`raise ... from exc`).
"""

from __future__ import annotations

from enum import StrEnum


class ServiceError(Exception):
    """Root of every error this service raises on purpose."""

    code = "internal_error"
    status = 500
    # The request field at fault, when one is (OpenAI's `error.param`), e.g. "temperature".
    param: str | None = None


class RequestRejectedError(ServiceError):
    code = "bad_request"
    status = 400


class RequestValidationError(RequestRejectedError):
    code = "validation_error"
    status = 422

    def __init__(self, message: str, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class UnknownProviderError(RequestRejectedError):
    code = "unknown_provider"
    status = 422


class UnknownModelError(RequestRejectedError):
    code = "unknown_model"
    status = 422


class UnsupportedParameterError(RequestRejectedError):
    code = "unsupported_parameter"
    status = 422

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class PayloadTooLargeError(RequestRejectedError):
    code = "payload_too_large"
    status = 413


class UnauthorizedError(RequestRejectedError):
    code = "unauthorized"
    status = 401


class ForbiddenError(RequestRejectedError):
    code = "forbidden"
    status = 403


class NotFoundError(RequestRejectedError):
    code = "not_found"
    status = 404


class ConflictError(RequestRejectedError):
    code = "conflict"
    status = 409


class UnavailableError(ServiceError):
    """Temporarily unable to take the request; nothing was recorded. Retry after `retry_after_seconds`."""

    code = "service_unavailable"
    status = 503

    def __init__(self, message: str, retry_after_seconds: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class QueueFullError(UnavailableError):
    code = "queue_full"


class StoreUnavailableError(UnavailableError):
    code = "store_unavailable"


class QueueUnavailableError(UnavailableError):
    code = "queue_unavailable"


class ProviderUnavailableError(UnavailableError):
    code = "provider_unavailable"


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
    """A provider call failed. `retry_after_seconds` carries the vendor's Retry-After when it sent one."""

    code = "provider_error"
    status = 502

    def __init__(
        self,
        kind: ProviderErrorKind,
        message: str,
        *,
        provider: str = "",
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
