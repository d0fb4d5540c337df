"""The one pooled aiohttp session every vendor adapter shares, and JSON/SSE calls over it.

`open_http_session` owns the connection pool (an async context manager, opened once by the composition
root). `VendorTransport` posts to one vendor and turns every transport failure into a `ProviderError`,
so no aiohttp exception leaves this package. Vendor SDKs are never used here: their built-in retries
would stack under ours.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.rate_limits import observing, report_rate_limits
from llm_provider_service.providers.errors import error_from_response
from llm_provider_service.providers.mock_forwarding import MockCarrier, intrinsic_ms, mock_headers
from llm_provider_service.providers.rate_limit_headers import parse_rate_limit_headers
from llm_provider_service.providers.sse import ServerSentEvent, iter_sse

# Vendors' answers are small; anything larger than this in an error body is cut before parsing.
_MAX_ERROR_BODY_BYTES = 64 * 1024


@asynccontextmanager
async def open_http_session(
    *,
    timeout_seconds: float,
    connect_timeout_seconds: float,
    max_connections: int = 512,
) -> AsyncIterator[aiohttp.ClientSession]:
    """A pooled session: `timeout_seconds` bounds one whole call, `connect_timeout_seconds` the connect.

    Streams replace the total bound by the same value as an inactivity bound (see `VendorTransport`).
    """
    connector = aiohttp.TCPConnector(limit=max_connections, ttl_dns_cache=300, enable_cleanup_closed=True)
    timeout = aiohttp.ClientTimeout(total=timeout_seconds, connect=connect_timeout_seconds)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, raise_for_status=False, auto_decompress=True
    ) as session:
        yield session


@dataclass(frozen=True, slots=True)
class VendorAnswer:
    """A 2xx JSON answer: the decoded object and, from the mock server only, its intrinsic time."""

    body: dict[str, Any]
    mock_intrinsic_ms: float | None = None


class VendorTransport:
    """JSON over HTTP to one vendor, with transport failures translated into the shared taxonomy.

    `forward_mock_identity` (set when the base URL is not the vendor's default: a proxy or the mock server) sends
    the `x-mock-*` headers: the request key and attempt, so the mock server stays deterministic per job, and the
    call's mock instructions. Without it nothing mock-related leaves the process.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        forward_mock_identity: bool = False,
    ) -> None:
        self._session = session
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.forward_mock_identity = forward_mock_identity
        self._headers = {"content-type": "application/json", "accept": "application/json", **headers}
        self._sse_headers = {**self._headers, "accept": "text/event-stream"}

    @property
    def total_timeout_seconds(self) -> float | None:
        """What aiohttp bounds every `post_json` call by as a whole (None: unbounded)."""
        return self._session.timeout.total

    def _headers_for(self, base: dict[str, str], call: MockCarrier | None) -> dict[str, str]:
        if call is None or not self.forward_mock_identity:
            return base  # a vendor's own URL: nothing to add, nothing allocated
        return {**base, **mock_headers(call, provider=self.provider)}

    def _stream_timeout(self) -> aiohttp.ClientTimeout:
        # A long answer may stream for minutes: bound the silence between chunks, not the whole stream.
        base = self._session.timeout
        return aiohttp.ClientTimeout(total=None, connect=base.connect, sock_read=base.total)

    async def post_json(
        self, path: str, payload: Mapping[str, Any], *, call: MockCarrier | None = None
    ) -> VendorAnswer:
        """POST `payload` (with `call`'s mock headers); the decoded 2xx answer, else a `ProviderError`."""
        headers = self._headers_for(self._headers, call)
        try:
            async with self._session.post(
                self.base_url + path, data=orjson.dumps(payload), headers=headers
            ) as response:
                body = await response.read()
                intrinsic = intrinsic_ms(response.headers)
                if observing():  # budgets learn the vendor's limits from every answer
                    report_rate_limits(parse_rate_limit_headers(response.status, response.headers))
                self._raise_for_status(response, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport_error(exc) from exc
        return VendorAnswer(self._decode(body), intrinsic)

    async def post_sse(
        self, path: str, payload: Mapping[str, Any], *, call: MockCarrier | None = None
    ) -> AsyncIterator[ServerSentEvent]:
        """POST `payload` and yield the server-sent events of a 2xx answer, else raise a `ProviderError`."""
        headers = self._headers_for(self._sse_headers, call)
        try:
            async with self._session.post(
                self.base_url + path, data=orjson.dumps(payload), headers=headers, timeout=self._stream_timeout()
            ) as response:
                if observing():
                    report_rate_limits(parse_rate_limit_headers(response.status, response.headers))
                if response.status >= 300:
                    body = await response.content.read(_MAX_ERROR_BODY_BYTES)
                    raise error_from_response(
                        provider=self.provider, status=response.status, headers=response.headers, body=body
                    )
                async for event in iter_sse(response.content):
                    yield event
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport_error(exc) from exc

    async def request_bytes(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        data: Any = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """Any other call (batch APIs: uploads, polls, result files): the 2xx body, else a `ProviderError`."""
        headers = {k: v for k, v in self._headers.items() if not (data is not None and k == "content-type")}
        headers.update(extra_headers or {})
        payload = orjson.dumps(json_body) if json_body is not None else data
        try:
            async with self._session.request(method, self.base_url + path, data=payload, headers=headers) as response:
                body = await response.read()
                if observing():  # the batch endpoints' own limits (`service.batching` learns them apart)
                    report_rate_limits(parse_rate_limit_headers(response.status, response.headers))
                self._raise_for_status(response, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport_error(exc) from exc
        return body

    def _raise_for_status(self, response: aiohttp.ClientResponse, body: bytes) -> None:
        """A non-2xx answer as the domain's `ProviderError` (its body cut to what error parsing needs)."""
        if response.status >= 300:
            raise error_from_response(
                provider=self.provider,
                status=response.status,
                headers=response.headers,
                body=body[:_MAX_ERROR_BODY_BYTES],
            )

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        data: Any = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        body = await self.request_bytes(method, path, json_body=json_body, data=data, extra_headers=extra_headers)
        return self._decode(body)

    def _decode(self, body: bytes) -> dict[str, Any]:
        try:
            decoded = orjson.loads(body)  # orjson: several times faster than json on the gateway's hot path
        except orjson.JSONDecodeError as exc:
            raise ProviderError(
                ProviderErrorKind.INVALID_RESPONSE,
                f"{self.provider} answered with a body that is not JSON",
                provider=self.provider,
            ) from exc
        if not isinstance(decoded, dict):
            raise ProviderError(
                ProviderErrorKind.INVALID_RESPONSE,
                f"{self.provider} answered with JSON that is not an object",
                provider=self.provider,
            )
        return decoded

    def _transport_error(self, exc: BaseException) -> ProviderError:
        if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
            kind, what = ProviderErrorKind.TIMEOUT, "timed out"
        else:
            kind, what = ProviderErrorKind.CONNECTION, f"connection failed ({type(exc).__name__})"
        return ProviderError(kind, f"{self.provider}: request {what}", provider=self.provider)
