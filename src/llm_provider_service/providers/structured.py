"""Shared checks on a vendor's answer: decode the structured JSON object, never invent one."""

from __future__ import annotations

import json
from typing import Any

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind


def invalid_response(provider: str, message: str) -> ProviderError:
    return ProviderError(ProviderErrorKind.INVALID_RESPONSE, f"{provider}: {message}", provider=provider)


def content_filtered(provider: str, message: str) -> ProviderError:
    return ProviderError(ProviderErrorKind.CONTENT_FILTERED, f"{provider}: {message}", provider=provider)


def parse_json_object(provider: str, text: str, *, truncated: bool = False) -> dict[str, Any]:
    """The JSON object in `text`; `INVALID_RESPONSE` when it is absent, broken or not an object.

    `truncated` (the vendor stopped at its token limit) only sharpens the message: a cut-off answer is
    unusable, and the core's single repair retry decides what happens next.
    """
    reason = " (the answer was cut off at the token limit)" if truncated else ""
    if not text.strip():
        raise invalid_response(provider, f"empty answer where a JSON object was required{reason}")
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise invalid_response(provider, f"answer is not valid JSON{reason}") from exc
    if not isinstance(decoded, dict):
        raise invalid_response(provider, "answer is JSON but not an object")
    return decoded


def as_int(value: Any) -> int:
    """A token count from a vendor's usage block; absent or malformed counts are 0, not an error."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def as_dict(value: Any) -> dict[str, Any]:
    """A vendor sub-object, or an empty one when it is absent or not an object."""
    return value if isinstance(value, dict) else {}
