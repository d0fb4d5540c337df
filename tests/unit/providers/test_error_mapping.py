"""Vendor error bodies and statuses (as the vendors document and send them) -> the shared taxonomy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from llm_provider_service.domain.errors import ProviderErrorKind
from llm_provider_service.providers.errors import error_from_response, parse_retry_after, stream_error

K = ProviderErrorKind


def openai(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def anthropic(type_: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type_, "message": message, **extra}, "request_id": "req_011C"}


def google(code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, "details": details or []}}


CASES: list[tuple[str, int, dict[str, Any], ProviderErrorKind]] = [
    ("openai", 429, openai("Rate limit reached for gpt-4o-mini on requests per min (RPM)", "requests",
                           "rate_limit_exceeded"), K.RATE_LIMITED),
    ("openai", 429, openai("You exceeded your current quota, please check your plan and billing details.",
                           "insufficient_quota", "insufficient_quota"), K.AUTHENTICATION),
    ("openai", 401, openai("Incorrect API key provided: sk-abc.", "invalid_request_error", "invalid_api_key"),
     K.AUTHENTICATION),
    ("openai", 404, openai("The model `gpt-9` does not exist or you do not have access to it.",
                           "invalid_request_error", "model_not_found"), K.MODEL_NOT_FOUND),
    ("openai", 400, openai("Invalid schema for response_format 'comparison_result'.", "invalid_request_error",
                           None), K.INVALID_REQUEST),
    ("openai", 400, openai("The response was filtered due to the prompt triggering content management policy.",
                           "invalid_request_error", "content_filter"), K.CONTENT_FILTERED),
    ("openai", 500, openai("The server had an error while processing your request. Sorry about that!",
                           "server_error", None), K.SERVER_ERROR),
    ("openai", 503, openai("The engine is currently overloaded, please try again later.", "server_error", None),
     K.OVERLOADED),
    ("anthropic", 529, anthropic("overloaded_error", "Overloaded"), K.OVERLOADED),
    ("anthropic", 500, anthropic("overloaded_error", "Overloaded"), K.OVERLOADED),
    ("anthropic", 500, anthropic("api_error", "Internal server error"), K.SERVER_ERROR),
    ("anthropic", 429, anthropic("rate_limit_error", "This request would exceed the rate limit for your "
                                 "organization of 50,000 input tokens per minute."), K.RATE_LIMITED),
    ("anthropic", 429, anthropic("rate_limit_error", "You have reached your specified API usage limits.",
                                 details={"error_code": "enforced_spend_limit_reached"}), K.AUTHENTICATION),
    ("anthropic", 401, anthropic("authentication_error", "invalid x-api-key"), K.AUTHENTICATION),
    ("anthropic", 403, anthropic("permission_error", "Your API key does not have permission"), K.AUTHENTICATION),
    ("anthropic", 400, anthropic("invalid_request_error", "max_tokens: Field required"), K.INVALID_REQUEST),
    ("anthropic", 404, anthropic("not_found_error", "model: claude-9"), K.MODEL_NOT_FOUND),
    ("anthropic", 413, anthropic("request_too_large", "Request exceeds the maximum allowed number of bytes."),
     K.INVALID_REQUEST),
    ("google", 429, google(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota."), K.RATE_LIMITED),
    ("google", 400, google(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                           [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                             "domain": "googleapis.com"}]), K.AUTHENTICATION),
    ("google", 400, google(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name \"foo\"."),
     K.INVALID_REQUEST),
    ("google", 403, google(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers."),
     K.AUTHENTICATION),
    ("google", 404, google(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta."),
     K.MODEL_NOT_FOUND),
    ("google", 500, google(500, "INTERNAL", "An internal error has occurred."), K.SERVER_ERROR),
    ("google", 503, google(503, "UNAVAILABLE", "The model is overloaded. Please try again later."), K.OVERLOADED),
    ("google", 504, google(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
     K.TIMEOUT),
    ("openrouter", 402, {"error": {"code": 402, "message": "Insufficient credits."}}, K.AUTHENTICATION),
    ("openrouter", 403, {"error": {"code": 403, "message": "Input was flagged by moderation",
                                   "metadata": {"reasons": ["violence"], "flagged_input": "..."}}},
     K.CONTENT_FILTERED),
    ("openrouter", 408, {"error": {"code": 408, "message": "Request timed out"}}, K.TIMEOUT),
    ("openrouter", 502, {"error": {"code": 502, "message": "Provider returned error"}}, K.SERVER_ERROR),
]  # fmt: skip


@pytest.mark.parametrize(("provider", "status", "body", "kind"), CASES)
def test_vendor_error_bodies_map_to_the_shared_taxonomy(
    provider: str, status: int, body: dict[str, Any], kind: ProviderErrorKind
) -> None:
    error = error_from_response(provider=provider, status=status, headers={}, body=json.dumps(body).encode())
    assert error.kind is kind
    assert error.http_status == status
    assert error.provider == provider
    assert error.retryable is kind.retryable


def test_non_json_bodies_map_by_status() -> None:
    error = error_from_response(provider="openai", status=502, headers={}, body=b"<html>502 Bad Gateway</html>")
    assert error.kind is K.SERVER_ERROR
    assert "502 Bad Gateway" in str(error)


@pytest.mark.parametrize(("status", "kind"), [(418, K.INVALID_REQUEST), (599, K.SERVER_ERROR)])
def test_unlisted_statuses_fall_back_by_class(status: int, kind: ProviderErrorKind) -> None:
    assert error_from_response(provider="x", status=status, headers={}, body=b"").kind is kind


def test_rate_limit_carries_the_vendors_retry_after() -> None:
    body = json.dumps(anthropic("rate_limit_error", "slow down")).encode()
    error = error_from_response(provider="anthropic", status=429, headers={"retry-after": "13"}, body=body)
    assert error.retry_after_seconds == 13.0


def test_gemini_retry_info_is_used_when_no_header_is_sent() -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]
    body = json.dumps(google(429, "RESOURCE_EXHAUSTED", "quota", details)).encode()
    error = error_from_response(provider="google", status=429, headers={}, body=body)
    assert error.retry_after_seconds == 37.0


def test_terminal_errors_drop_retry_after() -> None:
    body = json.dumps(openai("quota", "insufficient_quota", "insufficient_quota")).encode()
    error = error_from_response(provider="openai", status=429, headers={"retry-after": "5"}, body=body)
    assert error.retry_after_seconds is None


def test_long_messages_are_cut() -> None:
    body = json.dumps(openai("x" * 5000, "server_error", None)).encode()
    assert len(str(error_from_response(provider="openai", status=500, headers={}, body=body))) < 400


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "20"}, 20.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "junk", "retry-after": "9"}, 9.0),
        ({"retry-after": "Wed, 21 Oct 2037 07:28:30 GMT"}, 30.0),
        ({"retry-after": "Wed, 21 Oct 2037 07:27:00 GMT"}, 0.0),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "nan"}, None),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers: dict[str, str], seconds: float | None) -> None:
    now = datetime(2037, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(headers, now=now) == seconds


def test_errors_inside_a_stream_are_classified() -> None:
    error = stream_error("anthropic", anthropic("overloaded_error", "Overloaded"))
    assert error.kind is K.OVERLOADED
    assert stream_error("openai", openai("boom", "server_error", None)).kind is K.SERVER_ERROR
