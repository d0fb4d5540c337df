"""RFC 9457 problem+json responses and the one table that maps exceptions to them."""

from __future__ import annotations

import logging
import math
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from llm_provider_service.domain.errors import RequestValidationError, ServiceError, UnavailableError

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
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}


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
    **extra: Any,
) -> Response:
    body = {
        "type": f"/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "correlation_id": correlation_id,
        **extra,
    }
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


async def service_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)  # noqa: S101 - registered for ServiceError only
    correlation_id = correlation_id_of(request)
    if isinstance(exc, UnavailableError):
        retry_after = str(max(1, math.ceil(exc.retry_after_seconds)))
        return problem(
            exc.status, exc.code, str(exc), correlation_id=correlation_id, headers={"Retry-After": retry_after}
        )
    if isinstance(exc, RequestValidationError):
        return problem(exc.status, exc.code, str(exc), correlation_id=correlation_id, errors=exc.errors)
    if exc.status >= 500:
        logger.error("request failed with %s", exc.code)
        return problem(exc.status, exc.code, "the request could not be completed", correlation_id=correlation_id)
    return problem(exc.status, exc.code, str(exc), correlation_id=correlation_id)


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
