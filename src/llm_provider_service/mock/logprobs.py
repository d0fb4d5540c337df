"""Deterministic token log probabilities for the mock server's answers, in OpenAI's and Gemini's shapes.

Tokens are the answer's words with their leading space (a stand-in for a tokenizer); each token's log
probability, and its alternatives', derive from SHA-256 of the token, so answers reproduce across runs.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

_TOKEN = re.compile(r"\s*\S+|\s+")
_ALTERNATIVES = ("the", " a", " and", ".", ",", " of", " to", " is", " it", " that", " in", " B", " A", "!",
                 " on", " as", " was", " for", " be", " by")  # fmt: skip


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _logprob(token: str, rank: int) -> float:
    """A log probability below 0 that falls with `rank` (0 = the chosen token)."""
    digest = hashlib.sha256(f"{rank}:{token}".encode()).digest()
    return round(-(rank + digest[0] / 255.0) * 0.75, 6)


def _alternatives(token: str, count: int) -> list[tuple[str, float]]:
    """The chosen token and `count - 1` others, most likely first."""
    others = [candidate for candidate in _ALTERNATIVES if candidate != token][: max(0, count - 1)]
    return [(token, _logprob(token, 0))] + [(other, _logprob(other, rank)) for rank, other in enumerate(others, 1)]


def _openai_entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode())}


def openai_logprobs(text: str, top: int) -> dict[str, Any]:
    """A choice's `logprobs` object: `content` with one entry per token, each with `top` alternatives."""
    content = []
    for token in tokens(text):
        ranked = _alternatives(token, max(1, top))
        entry = _openai_entry(*ranked[0])
        entry["top_logprobs"] = [_openai_entry(*pair) for pair in ranked[:top]]
        content.append(entry)
    return {"content": content, "refusal": None}


def gemini_logprobs(text: str, top: int) -> tuple[dict[str, Any], float]:
    """A candidate's `logprobsResult` and `avgLogprobs`: chosen tokens and each step's top candidates."""
    chosen: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    total = 0.0
    for token in tokens(text):
        ranked = _alternatives(token, max(1, top))
        total += ranked[0][1]
        chosen.append({"token": token, "logProbability": ranked[0][1]})
        steps.append({"candidates": [{"token": name, "logProbability": value} for name, value in ranked[:top]]})
    result: dict[str, Any] = {"chosenCandidates": chosen}
    if top > 0:
        result["topCandidates"] = steps
    return result, round(total / len(chosen), 6) if chosen else 0.0
