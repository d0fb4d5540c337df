"""Embeddings, vendor neutral: the texts to embed and the vectors a provider answered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llm_provider_service.domain.mock_control import NO_CONTROL, MockControl
from llm_provider_service.domain.models import TokenUsage


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """Texts to embed with one model; `dimensions` asks for shorter vectors where the model can.

    `token_inputs` holds texts the caller sent as token ids (OpenAI's `input` may be token arrays, which
    LangChain sends); then `inputs` holds their JSON text. `request_key`, `attempt` and `mock` play the
    same part as in a `CompletionRequest`.
    """

    model: str
    inputs: tuple[str, ...]
    token_inputs: tuple[tuple[int, ...], ...] = ()
    dimensions: int | None = None
    user: str | None = None
    request_key: str = ""
    attempt: int = 1
    mock: MockControl = NO_CONTROL


@dataclass(frozen=True, slots=True)
class EmbeddingResponse:
    """One vector per input, in order; `usage.prompt_tokens` is what was billed (no completion tokens)."""

    vectors: tuple[tuple[float, ...], ...]
    usage: TokenUsage
    model: str
    provider_metadata: Mapping[str, Any] = field(default_factory=dict)
