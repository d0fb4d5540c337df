"""One pure-ASGI middleware for every request: correlation id, body size limit, latency metrics."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
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
# An oversized body is read and thrown away before the 413 is sent: a server that answers and closes while the
# client is still sending makes the kernel reset the connection, and a blocking client then sees a reset, not the
# 413 (and retries it forever). Draining is bounded in bytes and time; past either, we answer and close anyway.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
DRAIN_TIMEOUT_SECONDS = 10.0
_MAX_CACHED_LABELS = 1024  # methods come from clients: the cache stays bounded whatever they send
# Correlation ids for requests that bring none: UUID-shaped (version 4 and variant bits set, as clients validate
# them) from 60 random bits per process and a 60-bit counter, several times cheaper than `uuid4()` per request.


class _CorrelationIds:
    def __init__(self) -> None:
        self._prefix = ""
        self._counter = itertools.count()
        self.reseed()

    def reseed(self) -> None:
        random = os.urandom(8).hex()
        self._prefix = f"{random[:8]}-{random[8:12]}-4{random[12:15]}-"
        self._counter = itertools.count(int.from_bytes(os.urandom(4)))

    def next(self) -> str:
        tail = f"{next(self._counter) & 0xFFFFFFFFFFFFFFF:015x}"
        return f"{self._prefix}8{tail[:3]}-{tail[3:]}"


_CORRELATION_IDS = _CorrelationIds()
os.register_at_fork(after_in_child=_CORRELATION_IDS.reseed)  # a forked child must not repeat its parent's ids


def new_correlation_id() -> str:
    """A unique id in the UUID version-4 text form (unique per process by the counter, across them by chance)."""
    return _CORRELATION_IDS.next()


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
        # Metric children by (endpoint, method, status): `.labels()` takes a lock and builds a key each time.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

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
        given_id, declared_length = _edge_headers(scope)
        correlation_id = given_id or new_correlation_id()
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        if self._declared_too_large(declared_length):
            too_large = PayloadTooLargeError(f"the body exceeds {self._max_body_bytes} bytes")
            if _header(scope, b"expect") != "100-continue":  # a client waiting for 100 Continue sends no body
                await _drain(receive, 0)
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
        limited_receive = _LimitedReceive(receive, self._max_body_bytes)

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

    def _declared_too_large(self, declared: str | None) -> bool:
        return declared is not None and declared.isdigit() and int(declared) > self._max_body_bytes

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        key = (_endpoint(scope), scope["method"], status)
        children = self._children.get(key)
        if children is None:
            endpoint, method, _ = key
            children = (
                self._metrics.http_requests.labels(endpoint, method, str(status)),
                self._metrics.http_latency_seconds.labels(endpoint),
            )
            if len(self._children) < _MAX_CACHED_LABELS:
                self._children[key] = children
        requests, latency = children
        requests.inc()
        latency.observe(time.perf_counter() - started)


class _LimitedReceive:
    """`receive` that refuses a body growing past the limit (chunked bodies declare no length); the rest is
    drained first so the 413 reaches the client."""

    def __init__(self, receive: Receive, max_body_bytes: int) -> None:
        self._receive = receive
        self._max_body_bytes = max_body_bytes
        self._received = 0

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._max_body_bytes:
                if message.get("more_body", False):
                    await _drain(self._receive, self._received)
                raise PayloadTooLargeError(f"the body exceeds {self._max_body_bytes} bytes")
        return message


async def _drain(receive: Receive, already_read_bytes: int) -> None:
    """Read and discard the rest of a request body, within `DRAIN_LIMIT_BYTES` and `DRAIN_TIMEOUT_SECONDS`."""
    read = already_read_bytes
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_TIMEOUT_SECONDS):
            while read <= DRAIN_LIMIT_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away
                read += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return


def _exempt_from_shedding(scope: Scope) -> bool:
    """Probes and scrapes always answer; long polls (`?wait=`) hold a slot by design and are not counted."""
    return scope["path"] in SHEDDING_EXEMPT_PATHS or b"wait=" in scope.get("query_string", b"")


def _edge_headers(scope: Scope) -> tuple[str | None, str | None]:
    """The correlation id and the declared length (each its first value), in one pass over the headers."""
    correlation_id = declared_length = None
    for key, value in scope["headers"]:
        if key == CORRELATION_HEADER:
            if correlation_id is None:
                correlation_id = value.decode("latin-1")
        elif key == b"content-length" and declared_length is None:
            declared_length = value.decode("latin-1")
    return correlation_id, declared_length


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
