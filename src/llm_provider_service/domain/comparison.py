"""The comparison task: the prompt sent to a provider, the schema it must answer in, and strict validation."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import (
    ChatMessage,
    Comparison,
    ComparisonRequest,
    CompletionRequest,
    CompletionResponse,
    OutputSchema,
    TextBlock,
)

MAX_JUSTIFICATION_CHARS = 500
MIN_CONFIDENCE = 1.0
MAX_CONFIDENCE = 5.0
WINNERS = ("Essay A", "Essay B")

DEFAULT_SYSTEM_PROMPT = (
    "You are an impartial expert assessor comparing two student essays. Decide which essay is better "
    "overall, give a concise justification (at most 500 characters), and rate your confidence from 1 "
    "(a guess) to 5 (certain). Answer only through the requested structured output."
)

COMPARISON_SCHEMA = OutputSchema(
    name="comparison_result",
    description="The verdict of a pairwise essay comparison.",
    json_schema={
        "type": "object",
        "properties": {
            "winner": {"type": "string", "enum": list(WINNERS), "description": "The better essay."},
            "justification": {
                "type": "string",
                "description": "Why the winner is better, at most 500 characters.",
            },
            "confidence": {
                "type": "number",
                "description": "Confidence in the verdict, from 1 (a guess) to 5 (certain).",
            },
        },
        "required": ["winner", "justification", "confidence"],
        "additionalProperties": False,
    },
)

REPAIR_INSTRUCTION = (
    "Your previous answer did not match the required structure. Answer again with exactly the fields "
    "winner ('Essay A' or 'Essay B'), justification (at most 500 characters) and confidence (1 to 5)."
)


def system_blocks(request: ComparisonRequest) -> tuple[TextBlock, ...]:
    """The system prompt: the override or the default, followed by caller blocks aimed at the system prompt."""
    base = request.overrides.system_prompt or DEFAULT_SYSTEM_PROMPT
    blocks = [TextBlock(base)]
    blocks.extend(
        TextBlock(block.content, cacheable=block.cacheable, ttl=block.ttl)
        for block in request.prompt_blocks
        if block.target == "system"
    )
    return tuple(blocks)


def user_message(request: ComparisonRequest) -> ChatMessage:
    """The user message: the caller's user_content blocks in order, with their cache markers, when there are any.

    `user_prompt` is then the client's legacy copy of the same text and is not sent as well; without blocks it
    is the message.
    """
    parts = tuple(
        TextBlock(block.content, cacheable=block.cacheable, ttl=block.ttl)
        for block in request.prompt_blocks
        if block.target == "user_content"
    )
    if not parts:
        return ChatMessage("user", request.user_prompt)
    return ChatMessage("user", "\n\n".join(part.text for part in parts), parts=parts)


def build_completion_request(
    request: ComparisonRequest,
    *,
    job_id: str,
    model: str,
    attempt: int,
    repair: bool = False,
) -> CompletionRequest:
    """Translate a comparison job into one vendor-neutral provider call."""
    messages = [user_message(request)]
    if repair:
        messages.append(ChatMessage("user", REPAIR_INSTRUCTION))
    overrides = request.overrides
    return CompletionRequest(
        model=model,
        messages=tuple(messages),
        system=system_blocks(request),
        temperature=overrides.temperature,
        max_tokens=overrides.max_tokens,
        reasoning_effort=overrides.reasoning_effort,
        output_verbosity=overrides.output_verbosity,
        output_schema=COMPARISON_SCHEMA,
        request_key=job_id,
        attempt=attempt,
        mock=request.mock_control,
    )


def prompt_sha256(call: CompletionRequest) -> str:
    """SHA-256 of the exact text sent: system blocks, then each message, separated unambiguously."""
    digest = hashlib.sha256()
    for block in call.system:
        digest.update(b"system\x00" + block.text.encode() + b"\x00")
    for message in call.messages:
        digest.update(message.role.encode() + b"\x00" + message.content.encode() + b"\x00")
    return digest.hexdigest()


def _invalid(message: str, provider: str) -> ProviderError:
    return ProviderError(ProviderErrorKind.INVALID_RESPONSE, message, provider=provider)


def _structured_payload(response: CompletionResponse, provider: str) -> Mapping[str, Any]:
    if response.structured is not None:
        return response.structured
    try:
        parsed = json.loads(response.text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise _invalid("provider answer is not valid JSON", provider) from exc
    if not isinstance(parsed, Mapping):
        raise _invalid("provider answer is not a JSON object", provider)
    return parsed


def parse_comparison(response: CompletionResponse, *, provider: str) -> Comparison:
    """Validate a provider answer strictly. Missing or invalid fields raise; nothing is ever invented."""
    payload = _structured_payload(response, provider)
    winner = payload.get("winner")
    if winner not in WINNERS:
        raise _invalid("winner must be 'Essay A' or 'Essay B'", provider)
    justification = payload.get("justification")
    if not isinstance(justification, str) or not justification.strip():
        raise _invalid("justification must be a non-empty string", provider)
    if len(justification) > MAX_JUSTIFICATION_CHARS:
        raise _invalid(f"justification exceeds {MAX_JUSTIFICATION_CHARS} characters", provider)
    confidence = payload.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise _invalid("confidence must be a number", provider)
    if not math.isfinite(confidence) or not MIN_CONFIDENCE <= confidence <= MAX_CONFIDENCE:
        raise _invalid("confidence must be between 1 and 5", provider)
    return Comparison(winner=winner, justification=justification.strip(), confidence=float(confidence))
