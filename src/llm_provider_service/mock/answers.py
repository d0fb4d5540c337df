"""Canned mock answers: comparison verdicts, plain text, and deliberately invalid output."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llm_provider_service.domain.comparison import WINNERS

Draw = Callable[[str], float]

_JUSTIFICATIONS = (
    "{winner} states its thesis clearly and supports each claim with concrete evidence, while the other essay "
    "relies on general statements.",
    "{winner} is better organised: its paragraphs build on one another and the conclusion follows from the argument.",
    "{winner} engages with counterarguments and answers them, which makes its position more convincing.",
    "{winner} uses precise vocabulary and varied sentences; the other essay is repetitive and harder to follow.",
    "{winner} answers the question that was asked, whereas the other essay drifts into loosely related topics.",
    "{winner} has fewer errors of grammar and spelling, and its examples are more relevant to the prompt.",
)
_SENTENCES = (
    "This is a deterministic answer from the mock LLM.",
    "The mock returns the same text for the same prompt and seed.",
    "No vendor was called to produce this answer.",
    "Latency, faults and token usage are simulated from the mock profile.",
    "Use the x-mock-scenario header or metadata.mock to script other outcomes.",
)
# Half steps from 1 to 5: the same 1-5 confidence scale the domain validates.
_CONFIDENCES = tuple(1.0 + step / 2 for step in range(9))


def _pick(draw: Draw, purpose: str, size: int) -> int:
    return min(int(draw(purpose) * size), size - 1)


def comparison_answer(draw: Draw) -> dict[str, Any]:
    """A valid verdict: winner, a canned justification (at most 500 characters), confidence 1-5."""
    winner = WINNERS[_pick(draw, "winner", len(WINNERS))]
    justification = _JUSTIFICATIONS[_pick(draw, "justification", len(_JUSTIFICATIONS))].format(winner=winner)
    confidence = _CONFIDENCES[_pick(draw, "confidence", len(_CONFIDENCES))]
    return {"winner": winner, "justification": justification, "confidence": confidence}


def plain_text(draw: Draw) -> str:
    """A deterministic free-text answer of three canned sentences."""
    first = _pick(draw, "text", len(_SENTENCES))
    return " ".join(_SENTENCES[(first + step) % len(_SENTENCES)] for step in range(3))


def is_comparison_schema(schema: Mapping[str, Any]) -> bool:
    """Whether a schema asks for the comparison verdict (however a vendor adapter reshaped it)."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping) or not {"winner", "justification", "confidence"} <= properties.keys():
        return False
    winner = properties["winner"]
    enum = winner.get("enum") if isinstance(winner, Mapping) else None
    return isinstance(enum, list | tuple) and set(WINNERS) <= set(enum)


def invalid_instance(schema: Mapping[str, Any] | None, draw: Draw) -> Any:
    """Output that parses as JSON but violates the requested schema (the comparison rules by default)."""
    if schema is None or is_comparison_schema(schema):
        answer = comparison_answer(draw)
        return {**answer, "winner": "Essay C", "confidence": 9}
    kind = schema.get("type")
    # A value of the wrong JSON type violates any typed schema.
    if isinstance(kind, str) and kind.lower() == "object":
        return ["invalid_output"]
    return {"invalid_output": True}
