"""A strict validator for the §8.1 envelope and the §8.2 `LLMComparisonResultV1` payload.

Hand-written checks of our own contract, then the original client's own parse (`tests/compat/original_models.py`):
every pipeline callback must be one the essay-assessment client accepts.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from tests.compat.original_models import parse_callback

CALLBACK_EVENT_TYPE = "LLMComparisonResultV1"
ENVELOPE_KEYS = frozenset(
    {
        "event_id",
        "event_type",
        "event_timestamp",
        "source_service",
        "schema_version",
        "correlation_id",
        "data_schema_uri",
        "data",
        "metadata",
    }
)
PAYLOAD_KEYS = frozenset(
    {
        "request_id",
        "correlation_id",
        "winner",
        "justification",
        "confidence",
        "error_detail",
        "provider",
        "model",
        "response_time_ms",
        "queue_wait_ms",
        "attempts",
        "token_usage",
        "cost_estimate",
        "requested_at",
        "completed_at",
        "trace_id",
        "request_metadata",
    }
)
SUCCESS_KEYS = ("winner", "justification", "confidence")
ERROR_DETAIL_KEYS = frozenset(
    {"error_code", "message", "correlation_id", "timestamp", "service", "operation", "details", "retryable"}
)
TOKEN_USAGE_KEYS = frozenset({"prompt_tokens", "completion_tokens", "total_tokens"})
REQUIRED_HEADERS = ("event_type", "correlation_id", "traceparent")
TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_JUSTIFICATION_CHARS = 500


class _Checker:
    """Collects every violation instead of stopping at the first, so one failure explains itself fully."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def check(self, condition: bool, message: str) -> bool:
        if not condition:
            self.errors.append(message)
        return condition

    def keys(self, value: Any, expected: frozenset[str], where: str) -> bool:
        if not self.check(isinstance(value, dict), f"{where}: not an object"):
            return False
        return self.check(set(value) == expected, f"{where}: keys {sorted(set(value) ^ expected)} differ")

    def uuid(self, value: Any, where: str) -> None:
        try:
            uuid.UUID(str(value))
            ok = isinstance(value, str)
        except ValueError:
            ok = False
        self.check(ok, f"{where}: {value!r} is not a UUID string")

    def utc_timestamp(self, value: Any, where: str) -> None:
        ok = isinstance(value, str) and value.endswith("Z")
        if ok:
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                ok = False
        self.check(ok, f"{where}: {value!r} is not a UTC ISO timestamp ending in Z")

    def integer(self, value: Any, where: str, *, minimum: int = 0, nullable: bool = False) -> None:
        if nullable and value is None:
            return
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
        self.check(ok, f"{where}: {value!r} is not an integer >= {minimum}")


def validate_callback(envelope: Mapping[str, Any], *, key: str | None, headers: Mapping[str, str]) -> list[str]:
    """Every way `envelope` (with its Kafka key and headers) breaks §8.1/§8.2; empty when valid."""
    c = _Checker()
    if not c.keys(envelope, ENVELOPE_KEYS, "envelope"):
        return c.errors
    c.uuid(envelope["event_id"], "event_id")
    c.check(envelope["event_type"] == CALLBACK_EVENT_TYPE, f"event_type {envelope['event_type']!r}")
    c.utc_timestamp(envelope["event_timestamp"], "event_timestamp")
    c.check(isinstance(envelope["source_service"], str) and bool(envelope["source_service"]), "source_service")
    c.check(envelope["schema_version"] == 1 and envelope["schema_version"] is not True, "schema_version must be 1")
    c.uuid(envelope["correlation_id"], "correlation_id")
    c.check(envelope["data_schema_uri"] is None, "data_schema_uri must be null")
    _check_trace_metadata(c, envelope["metadata"])
    for name in REQUIRED_HEADERS:
        c.check(bool(headers.get(name)), f"header {name!r} missing")
    c.check(headers.get("event_type") == CALLBACK_EVENT_TYPE, "header event_type")
    c.check(headers.get("correlation_id") == envelope["correlation_id"], "header correlation_id")
    c.check(bool(TRACEPARENT.match(headers.get("traceparent", ""))), "header traceparent is not W3C")
    try:
        parse_callback(json.dumps(dict(envelope)))
    except ValidationError as exc:
        c.check(False, f"the original client's models refuse it: {exc.errors(include_url=False)}")
    data = envelope["data"]
    if c.keys(data, PAYLOAD_KEYS, "data"):
        _check_payload(c, data, envelope_correlation_id=envelope["correlation_id"])
        c.check(key == data["request_id"], f"message key {key!r} is not request_id {data['request_id']!r}")
    return c.errors


def _check_trace_metadata(c: _Checker, metadata: Any) -> None:
    if not c.check(isinstance(metadata, dict), "metadata: not an object"):
        return
    c.check(bool(TRACEPARENT.match(str(metadata.get("traceparent", "")))), "metadata.traceparent is not W3C")


def _check_payload(c: _Checker, data: dict[str, Any], *, envelope_correlation_id: str) -> None:
    c.uuid(data["request_id"], "data.request_id")
    c.check(data["correlation_id"] == envelope_correlation_id, "data.correlation_id differs from the envelope's")
    c.check(isinstance(data["provider"], str) and bool(data["provider"]), "data.provider")
    c.check(isinstance(data["model"], str) and bool(data["model"]), "data.model")
    c.integer(data["queue_wait_ms"], "data.queue_wait_ms", nullable=True)
    c.integer(data["attempts"], "data.attempts")
    c.utc_timestamp(data["requested_at"], "data.requested_at")
    c.utc_timestamp(data["completed_at"], "data.completed_at")
    c.check(data["trace_id"] is None or bool(TRACE_ID.match(str(data["trace_id"]))), "data.trace_id")
    c.check(isinstance(data["request_metadata"], dict), "data.request_metadata: not an object")
    if isinstance(data["request_metadata"], dict):
        c.check(isinstance(data["request_metadata"].get("prompt_sha256"), str), "request_metadata.prompt_sha256")
    c.integer(data["response_time_ms"], "data.response_time_ms")
    cost = data["cost_estimate"]
    c.check(isinstance(cost, int | float) and not isinstance(cost, bool) and cost >= 0, "data.cost_estimate")
    usage = data["token_usage"]
    if c.keys(usage, TOKEN_USAGE_KEYS, "data.token_usage"):
        for name in TOKEN_USAGE_KEYS:
            c.integer(usage[name], f"data.token_usage.{name}")
        c.check(
            usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"],
            "token_usage.total_tokens is not the sum",
        )
    succeeded = data["error_detail"] is None
    if succeeded:
        _check_success(c, data)
    else:
        c.check(all(data[name] is None for name in SUCCESS_KEYS), "an error payload carries success fields")
        _check_error_detail(c, data["error_detail"])


def _check_success(c: _Checker, data: dict[str, Any]) -> None:
    c.check(data["winner"] in ("Essay A", "Essay B"), f"data.winner {data['winner']!r}")
    justification = data["justification"]
    c.check(
        isinstance(justification, str) and 0 < len(justification) <= MAX_JUSTIFICATION_CHARS,
        "data.justification must be 1-500 characters",
    )
    confidence = data["confidence"]
    c.check(
        isinstance(confidence, int | float) and not isinstance(confidence, bool) and 1 <= confidence <= 5,
        f"data.confidence {confidence!r} not in 1-5",
    )
    c.integer(data["attempts"], "data.attempts", minimum=1)


def _check_error_detail(c: _Checker, detail: Any) -> None:
    if not c.keys(detail, ERROR_DETAIL_KEYS, "data.error_detail"):
        return
    c.check(isinstance(detail["error_code"], str) and bool(detail["error_code"]), "error_detail.error_code")
    c.check(isinstance(detail["message"], str) and bool(detail["message"]), "error_detail.message")
    c.uuid(detail["correlation_id"], "error_detail.correlation_id")
    c.utc_timestamp(detail["timestamp"], "error_detail.timestamp")
    c.check(isinstance(detail["service"], str) and bool(detail["service"]), "error_detail.service")
    c.check(isinstance(detail["operation"], str) and bool(detail["operation"]), "error_detail.operation")
    c.check(isinstance(detail["details"], dict), "error_detail.details: not an object")
    c.check(isinstance(detail["retryable"], bool), "error_detail.retryable: not a boolean")
