"""The original service's vocabulary on the callback: our error kinds as its error codes, our providers as its types.

The essay-assessment client parses every callback with its own models (`common_core`): `error_detail.error_code`
must be one of its `ErrorCode` / `LLMErrorCode` values and `provider` one of its five `LLMProviderType` values.
Our finer kind (and whether it was retryable) travels in `error_detail.details`. docs/operations.md shows the table.
"""

from __future__ import annotations

from llm_provider_service.domain.errors import ProviderErrorKind

K = ProviderErrorKind

# Provider error kind -> the original's error code (`LLMErrorCode` values carry the `LLM_` prefix).
ERROR_CODES: dict[str, str] = {
    K.RATE_LIMITED: "LLM_PROVIDER_RATE_LIMIT",
    K.OVERLOADED: "LLM_PROVIDER_UNAVAILABLE",
    K.SERVER_ERROR: "LLM_PROVIDER_API_ERROR",
    K.TIMEOUT: "LLM_PROVIDER_TIMEOUT",
    K.CONNECTION: "CONNECTION_ERROR",
    K.AUTHENTICATION: "AUTHENTICATION_ERROR",
    K.INVALID_REQUEST: "INVALID_REQUEST",
    K.CONTENT_FILTERED: "LLM_INVALID_PROMPT",
    K.MODEL_NOT_FOUND: "LLM_INVALID_CONFIG",
    K.INVALID_RESPONSE: "LLM_INVALID_RESPONSE",
    # Job outcomes that are no provider failure.
    "expired": "TIMEOUT",
    "cancelled": "PROCESSING_ERROR",
}
FALLBACK_ERROR_CODE = "LLM_INTERNAL_ERROR"

# Our provider names -> the original's `LLMProviderType`; an OpenAI-compatible server speaks OpenAI's protocol.
PROVIDER_TYPES = {
    "anthropic": "anthropic",
    "openai": "openai",
    "google": "google",
    "openrouter": "openrouter",
    "mock": "mock",
    "openai_compatible": "openai",
}


def error_code(kind: str) -> str:
    """The original's error code for one of our kinds (`ProviderErrorKind` values, `expired`, `cancelled`)."""
    return ERROR_CODES.get(kind, FALLBACK_ERROR_CODE)


def provider_type(provider: str) -> str:
    """The original's provider type for one of ours (unknown names report `openai`, the protocol they speak)."""
    return PROVIDER_TYPES.get(provider, "openai")
