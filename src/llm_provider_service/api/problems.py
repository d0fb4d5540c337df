"""RFC 9457 problem+json responses and the one table that maps error codes to HTTP statuses.

Domain errors carry only a stable `code`; this module alone decides what each code means on the wire:
its status, whether a client may retry it, and a caller-safe detail. Every body also carries the
original essay-assessment client's members, `error` (the message) and `is_retryable`; the OpenAI gateway
replaces `error` with OpenAI's `error` object (see `api/openai_wire.py`) and reuses `describe`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from llm_provider_service.domain.errors import (
    ProviderError,
    ProviderErrorKind,
    RequestValidationError,
    ServiceError,
    UnavailableError,
)

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

# The one table: error code -> HTTP status. Bad input is 400, as the original service, OpenAI and Anthropic answer.
STATUSES: dict[str, int] = {
    "bad_request": 400,
    "validation_error": 400,
    "unknown_provider": 400,
    "unknown_model": 400,
    "unsupported_parameter": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "model_not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "payload_too_large": 413,
    "budget_exhausted": 429,
    "internal_error": 500,
    "publish_failed": 500,
    "service_unavailable": 503,
    "queue_full": 503,
    "store_unavailable": 503,
    "queue_unavailable": 503,
    "overloaded": 503,
    "provider_unavailable": 503,
    "budget_unavailable": 503,
}

K = ProviderErrorKind
# A provider failure answered synchronously (the gateway): (status, code). Authentication is OUR vendor key
# failing, a 502, not a 401.
PROVIDER_STATUSES: dict[ProviderErrorKind, tuple[int, str]] = {
    K.RATE_LIMITED: (429, "rate_limited"),
    K.OVERLOADED: (503, "provider_overloaded"),
    K.SERVER_ERROR: (502, "provider_error"),
    K.CONNECTION: (502, "provider_unreachable"),
    K.TIMEOUT: (504, "provider_timeout"),
    K.AUTHENTICATION: (502, "provider_authentication_failed"),
    K.INVALID_REQUEST: (400, "invalid_request"),
    K.CONTENT_FILTERED: (400, "content_filtered"),
    K.MODEL_NOT_FOUND: (404, "model_not_found"),
    K.INVALID_RESPONSE: (502, "invalid_provider_response"),
}
# Kinds whose vendor message helps the caller fix the request; the others are summarised.
_CALLER_KINDS = frozenset({K.INVALID_REQUEST, K.CONTENT_FILTERED, K.MODEL_NOT_FOUND})
HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


@dataclass(frozen=True, slots=True)
class Problem:
    """What an error means on the wire: status, code, caller-safe detail, retry advice, extra members."""

    status: int
    code: str
    detail: str
    retryable: bool
    retry_after_seconds: float | None = None
    members: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str] | None:
        if self.retry_after_seconds is None:
            return None
        return {"Retry-After": str(max(1, math.ceil(self.retry_after_seconds)))}


def status_of(code: str) -> int:
    return STATUSES.get(code, 500)


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def describe(exc: ServiceError) -> Problem:
    """The wire meaning of a domain error; 5xx details never leak internals."""
    if isinstance(exc, ProviderError):
        status, code = PROVIDER_STATUSES[exc.kind]
        detail = str(exc) if exc.kind in _CALLER_KINDS else f"provider {exc.provider} failed: {exc.kind.value}"
        return Problem(status, code, detail, exc.retryable, exc.retry_after_seconds)
    status = status_of(exc.code)
    if isinstance(exc, UnavailableError):
        return Problem(status, exc.code, str(exc), True, exc.retry_after_seconds)
    if isinstance(exc, RequestValidationError):
        return Problem(status, exc.code, str(exc), False, members={"errors": exc.errors})
    if status >= 500:
        return Problem(status, exc.code, "the request could not be completed", True)
    return Problem(status, exc.code, str(exc), _retryable(status))


def correlation_id_of(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("correlation_id")
    return value if isinstance(value, str) else None


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    correlation_id: str | None,
    headers: dict[str, str] | None = None,
    retryable: bool | None = None,
    **extra: Any,
) -> Response:
    body = {
        "type": f"/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "correlation_id": correlation_id,
        # The original client reads `error` (a message) and `is_retryable`; `extra` may replace `error`.
        "error": detail,
        "is_retryable": _retryable(status) if retryable is None else retryable,
        **extra,
    }
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def problem_response(exc: ServiceError, *, correlation_id: str | None, **extra: Any) -> Response:
    """The problem+json response of a domain error, by the table above."""
    described = describe(exc)
    return problem(
        described.status,
        described.code,
        described.detail,
        correlation_id=correlation_id,
        headers=described.headers,
        retryable=described.retryable,
        **{**described.members, **extra},
    )


async def service_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)  # noqa: S101 - registered for ServiceError only
    if status_of(exc.code) >= 500 and not isinstance(exc, UnavailableError | ProviderError):
        logger.error("request failed with %s", exc.code)
    return problem_response(exc, correlation_id=correlation_id_of(request))


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return problem(
        exc.status_code,
        code,
        str(exc.detail),
        correlation_id=correlation_id_of(request),
        headers=dict(exc.headers or {}),
    )


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    # Never leak internals: the log has the traceback, the caller a correlation id to quote.
    logger.error("unhandled error", exc_info=exc)
    return problem(500, "internal_error", "an unexpected error occurred", correlation_id=correlation_id_of(request))


EXCEPTION_HANDLERS = {
    ServiceError: service_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
