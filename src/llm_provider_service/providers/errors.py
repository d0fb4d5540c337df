"""Vendor HTTP errors -> the shared `ProviderError` taxonomy, and Retry-After parsing.

One table for every vendor, because they agree on status codes and differ only in details the body
carries: OpenAI `{"error": {"type", "code", "message"}}`, Anthropic `{"type": "error", "error": {"type",
"message"}}`, Gemini `{"error": {"code", "status", "message", "details": [ErrorInfo, RetryInfo]}}`,
OpenRouter `{"error": {"code", "message", "metadata"}}`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind

K = ProviderErrorKind

_STATUS_KINDS: dict[int, ProviderErrorKind] = {
    400: K.INVALID_REQUEST,
    401: K.AUTHENTICATION,
    402: K.AUTHENTICATION,  # OpenRouter: out of credits; no retry helps until someone pays
    403: K.AUTHENTICATION,
    404: K.MODEL_NOT_FOUND,
    408: K.TIMEOUT,
    409: K.SERVER_ERROR,
    413: K.INVALID_REQUEST,
    422: K.INVALID_REQUEST,
    429: K.RATE_LIMITED,
    500: K.SERVER_ERROR,
    502: K.SERVER_ERROR,
    503: K.OVERLOADED,
    504: K.TIMEOUT,
    529: K.OVERLOADED,
}

# Markers in the body that override the status: error `type`/`code`/`status`/`reason` values.
_MARKER_KINDS: dict[str, ProviderErrorKind] = {
    "overloaded_error": K.OVERLOADED,  # Anthropic, sometimes on 500 as well as 529
    "insufficient_quota": K.AUTHENTICATION,  # OpenAI 429 that no wait cures: the account is out of quota
    "enforced_spend_limit_reached": K.AUTHENTICATION,  # Anthropic's equivalent
    "model_not_found": K.MODEL_NOT_FOUND,
    "api_key_invalid": K.AUTHENTICATION,  # Gemini answers a bad key with 400 INVALID_ARGUMENT
    "invalid_api_key": K.AUTHENTICATION,
    "content_filter": K.CONTENT_FILTERED,  # Azure OpenAI rejects flagged prompts with 400
    "content_policy_violation": K.CONTENT_FILTERED,
    "moderation_flagged": K.CONTENT_FILTERED,
}

_MAX_MESSAGE_CHARS = 300
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


@dataclass(frozen=True, slots=True)
class VendorErrorBody:
    """What we read from an error body: its message and the lower-cased markers that classify it."""

    message: str
    markers: frozenset[str]
    retry_delay_seconds: float | None = None


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` (OpenAI, Anthropic) or `Retry-After` (seconds or HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        seconds = _finite(millis)
        if seconds is not None:
            return max(seconds / 1000.0, 0.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _finite(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def read_error_body(body: bytes) -> VendorErrorBody:
    """Pull the message, classifying markers and any Gemini `RetryInfo` delay out of an error body."""
    try:
        decoded: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return VendorErrorBody(body.decode("utf-8", "replace").strip(), frozenset())
    if isinstance(decoded, list) and decoded:  # Gemini streams wrap errors in a one-element array
        decoded = decoded[0]
    error = decoded.get("error") if isinstance(decoded, dict) else None
    if not isinstance(error, dict):
        return VendorErrorBody(str(decoded) if decoded else "", frozenset())
    markers: set[str] = set()
    for key in ("type", "code", "status"):
        value = error.get(key)
        if isinstance(value, str):
            markers.add(value.lower())
    markers.update(_detail_markers(error))
    delay = _retry_delay(error.get("details"))
    message = str(error.get("message") or "")
    return VendorErrorBody(message, frozenset(markers), delay)


def _detail_markers(error: Mapping[str, Any]) -> set[str]:
    markers: set[str] = set()
    details = error.get("details")
    if isinstance(details, dict):  # Anthropic: {"details": {"error_code": ...}}
        details = [details]
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict):
            markers.update(str(detail[key]).lower() for key in ("reason", "error_code") if key in detail)
    metadata = error.get("metadata")
    if isinstance(metadata, dict) and metadata.get("flagged_input"):
        markers.add("moderation_flagged")  # OpenRouter 403 when a moderated model's input was flagged
    return markers


def _retry_delay(details: Any) -> float | None:
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def classify(status: int, markers: frozenset[str]) -> ProviderErrorKind:
    for marker in sorted(markers):
        kind = _MARKER_KINDS.get(marker)
        if kind is not None:
            return kind
    if status in _STATUS_KINDS:
        return _STATUS_KINDS[status]
    return K.SERVER_ERROR if status >= 500 else K.INVALID_REQUEST


def error_from_response(
    *, provider: str, status: int, headers: Mapping[str, str], body: bytes, now: datetime | None = None
) -> ProviderError:
    """The `ProviderError` for a non-2xx vendor answer, with the vendor's Retry-After when it sent one."""
    parsed = read_error_body(body)
    kind = classify(status, parsed.markers)
    retry_after = parse_retry_after(headers, now=now)
    if retry_after is None:
        retry_after = parsed.retry_delay_seconds
    message = " ".join(parsed.message.split())[:_MAX_MESSAGE_CHARS] or "no error message"
    return ProviderError(
        kind,
        f"{provider} HTTP {status}: {message}",
        provider=provider,
        retry_after_seconds=retry_after if kind.retryable else None,
        http_status=status,
    )


def stream_error(provider: str, payload: Mapping[str, Any]) -> ProviderError:
    """An error reported inside a 200 stream (Anthropic `event: error`, OpenAI/OpenRouter `{"error": ...}`)."""
    parsed = read_error_body(json.dumps(payload).encode())
    kind = classify(500, parsed.markers)
    return ProviderError(kind, f"{provider} stream error: {parsed.message[:_MAX_MESSAGE_CHARS]}", provider=provider)
