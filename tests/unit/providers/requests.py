"""Provider-neutral requests shared by the adapter tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from llm_provider_service.domain.comparison import COMPARISON_SCHEMA
from llm_provider_service.domain.models import ChatMessage, CompletionRequest, TextBlock

VERDICT = {"winner": "Essay A", "justification": "Clearer argument.", "confidence": 4}


def comparison_request(model: str, **changes: Any) -> CompletionRequest:
    request = CompletionRequest(
        model=model,
        messages=(ChatMessage("user", "Essay A: ... Essay B: ..."),),
        system=(TextBlock("You are an assessor."), TextBlock("Rubric ...", cacheable=True, ttl="1h")),
        output_schema=COMPARISON_SCHEMA,
    )
    return replace(request, **changes)


def chat_request(model: str, **changes: Any) -> CompletionRequest:
    return replace(CompletionRequest(model=model, messages=(ChatMessage("user", "Hello"),)), **changes)
