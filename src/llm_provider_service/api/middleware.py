"""One pure-ASGI middleware for every request: correlation id, body size limit, latency metrics."""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_provider_service.api.problems import problem_response
from llm_provider_service.api.tracecontext import trace_id_of
from llm_provider_service.domain.errors import OverloadedError, PayloadTooLargeError
from llm_provider_service.observability import Metrics
from llm_provider_service.tracing import Tracing

CORRELATION_HEADER = b"x-correlation-id"
SHEDDING_EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class EdgeMiddleware:
    """Kept as raw ASGI (not BaseHTTPMiddleware) because it sits on every request's hot path."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        max_body_bytes: int,
        max_in_flight: int = 0,
        tracing: Tracing | None = None,
    ) -> None:
        self._app = app
        self._metrics = metrics
        self._max_body_bytes = max_body_bytes
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if self._tracing is None:
            await self._handle(scope, receive, send)
            return
        with self._tracing.request_span(scope["method"], trace_id_of(_header(scope, b"traceparent"))) as span:
            # Jobs accepted in this request join its trace (routes read the trace id from the state).
            scope.setdefault("state", {})["trace_id"] = self._tracing.trace_id_of(span)
            await self._handle(scope, receive, send)
            span.update_name(f"{scope['method']} {_endpoint(scope)}")

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        correlation_id = _header(scope, CORRELATION_HEADER) or str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_body_bytes:
            too_large = PayloadTooLargeError(f"the body exceeds {self._max_body_bytes} bytes")
            await problem_response(too_large, correlation_id=correlation_id)(scope, receive, send)
            self._observe(scope, 413, started)
            return
        counted = self._max_in_flight > 0 and not _exempt_from_shedding(scope)
        if counted and self._in_flight >= self._max_in_flight:
            # Shed load early: a quick 503 the client can retry beats seconds of queueing for everyone.
            overloaded = OverloadedError("the service is at its in-flight request limit; retry shortly", 1.0)
            await problem_response(overloaded, correlation_id=correlation_id)(scope, receive, send)
            self._observe(scope, 503, started)
            return
        status = 500
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_body_bytes:
                    raise PayloadTooLargeError(f"the body exceeds {self._max_body_bytes} bytes")
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((CORRELATION_HEADER, correlation_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        if counted:
            self._in_flight += 1
        try:
            await self._app(scope, limited_receive, send_with_headers)
        finally:
            if counted:
                self._in_flight -= 1
            self._observe(scope, status, started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        endpoint = _endpoint(scope)
        self._metrics.http_requests.labels(endpoint, scope["method"], str(status)).inc()
        self._metrics.http_latency_seconds.labels(endpoint).observe(time.perf_counter() - started)


def _exempt_from_shedding(scope: Scope) -> bool:
    """Probes and scrapes always answer; long polls (`?wait=`) hold a slot by design and are not counted."""
    return scope["path"] in SHEDDING_EXEMPT_PATHS or b"wait=" in scope.get("query_string", b"")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def _endpoint(scope: Scope) -> str:
    """The route template, never the raw path (ids in paths would make labels unbounded)."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
