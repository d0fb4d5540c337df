"""Request bodies built the way the original client's `generate_comparison` builds them (its code paths as facts).

- overrides: the client always fills provider, model and temperature from its settings defaults (`openai`,
  `gpt-5.1`, 0.1) unless the caller overrides them, takes `reasoning_effort` / `output_verbosity` from the request
  metadata, and drops every None (`model_dump(exclude_none=True)`);
- `metadata` is `CJLLMComparisonMetadata.to_request_metadata()`: `essay_a_id`, `essay_b_id`, optional
  `bos_batch_id`, `cj_batch_id`, `cj_source`, `cj_request_type`, batching hints, None values left out;
- `prompt_blocks` are `PromptBlockList.to_api_dict_list()`: target, content, cacheable, ttl and `content_hash`
  (SHA-256 of the content), sent only when there are blocks; `user_prompt` is the same text rendered as one string;
- `correlation_id` is the per-comparison tracking id; `callback_topic` always set.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

DEFAULT_PROVIDER = "openai"
DEFAULT_MODEL = "gpt-5.1"
DEFAULT_TEMPERATURE = 0.1
CALLBACK_TOPIC = "huleedu.llm_provider.comparison_result.v1"
RESPONSE_INSTRUCTIONS = "Respond with JSON: winner ('Essay A' or 'Essay B'), justification, confidence 1-5."


def prompt_block(target: str, content: str, *, cacheable: bool = False, ttl: str = "5m") -> dict[str, Any]:
    return {
        "target": target,
        "content": content,
        "cacheable": cacheable,
        "ttl": ttl,
        "content_hash": hashlib.sha256(content.encode("utf-8")).hexdigest(),
    }


def assembled_blocks(essay_a: str, essay_b: str, *, extended_ttl: bool = False) -> list[dict[str, Any]]:
    """The client's `assemble_full_prompt`: cacheable context, the two essays, cacheable instructions."""
    ttl = "1h" if extended_ttl else "5m"
    return [
        prompt_block(
            "user_content", "**Student Assignment:**\nArgue for or against homework.", cacheable=True, ttl=ttl
        ),
        prompt_block("user_content", f"**Essay A (ID: a-1):**\n{essay_a}"),
        prompt_block("user_content", f"**Essay B (ID: b-1):**\n{essay_b}"),
        prompt_block("user_content", RESPONSE_INSTRUCTIONS, cacheable=True, ttl=ttl),
    ]


def request_metadata(**extra: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "essay_a_id": "a-1",
        "essay_b_id": "b-1",
        "bos_batch_id": str(uuid.uuid4()),
        "cj_batch_id": "42",
        "cj_source": "els",
        "cj_request_type": "cj_comparison",
        "cj_llm_batching_mode": "serial_bundle",
        "comparison_iteration": 0,
    }
    metadata.update(extra)
    return {key: value for key, value in metadata.items() if value is not None}


def overrides_payload(
    *,
    provider: str | None = None,
    model: str | None = None,
    temperature: float | None = None,
    system_prompt: str | None = None,
    max_tokens: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """`_build_llm_config_override_payload` as `generate_comparison` calls it (defaults filled in, Nones dropped)."""
    payload = {
        "provider_override": (provider or DEFAULT_PROVIDER).strip().lower(),
        "model_override": model or DEFAULT_MODEL,
        # `temperature_override or DEFAULT`: the client cannot send 0.0, it becomes the default.
        "temperature_override": temperature or DEFAULT_TEMPERATURE,
        "system_prompt_override": system_prompt,
        "max_tokens_override": max_tokens,
        "reasoning_effort": (metadata or {}).get("reasoning_effort"),
        "output_verbosity": (metadata or {}).get("output_verbosity"),
    }
    dumped = {key: value for key, value in payload.items() if value is not None}
    return dumped or None


def client_request(
    *,
    blocks: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    callback_topic: str = CALLBACK_TOPIC,
    correlation_id: uuid.UUID | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The JSON body `generate_comparison` posts to `{LLM_PROVIDER_SERVICE_URL}/comparison`."""
    blocks = assembled_blocks("Homework builds habits.", "Homework steals play.") if blocks is None else blocks
    metadata = request_metadata() if metadata is None else metadata
    body: dict[str, Any] = {
        "user_prompt": "\n\n".join(block["content"] for block in blocks) or "Compare the essays.",
        "metadata": metadata,
        "correlation_id": str(correlation_id or uuid.uuid4()),
        "callback_topic": callback_topic,
    }
    if blocks:
        body["prompt_blocks"] = blocks
    payload = overrides_payload(metadata=metadata, **overrides)
    if payload:
        body["llm_config_overrides"] = payload
    return body
