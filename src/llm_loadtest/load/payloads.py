"""Synthetic request bodies: comparison jobs (two essays, `metadata.mock` controls) and chat completions."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_VOCABULARY = (
    "argument evidence claim reader structure paragraph thesis example context history policy school student "
    "teacher language climate energy science society community economy culture technology future reason analysis "
    "therefore however moreover although because clearly perhaps consequently ultimately significant important"
)
_WORDS = tuple(_VOCABULARY.split(" "))


@dataclass(frozen=True, slots=True)
class WorkloadShape:
    """How one workload's jobs look: essay length, priority, output budget and mock behaviour."""

    essay_words: int
    priority: int
    max_tokens: int
    mock: Mapping[str, Any] = field(default_factory=dict)


# The seed strategy's endurance mix: many quick jobs, some detailed ones, low-priority batch work.
SHAPES: dict[str, WorkloadShape] = {
    "comparison": WorkloadShape(essay_words=200, priority=5, max_tokens=300),
    "quick": WorkloadShape(essay_words=120, priority=7, max_tokens=200),
    "detailed": WorkloadShape(essay_words=800, priority=5, max_tokens=1000),
    "batch": WorkloadShape(essay_words=300, priority=2, max_tokens=300),
}
ENDPOINT_OF_WORKLOAD = {"chat": "/v1/chat/completions", "get": "/healthz"}
COMPARISON_PATH = "/api/v1/comparison"


def endpoint_of(workload: str) -> str:
    return ENDPOINT_OF_WORKLOAD.get(workload, COMPARISON_PATH)


def essay(rng: random.Random, words: int) -> str:
    sentences: list[str] = []
    remaining = words
    while remaining > 0:
        length = min(remaining, rng.randint(8, 20))
        sentence = " ".join(rng.choice(_WORDS) for _ in range(length))
        sentences.append(sentence.capitalize() + ".")
        remaining -= length
    return " ".join(sentences)


class PayloadFactory:
    """Pre-generates a small pool of essay pairs per workload (seeded) and stamps each request uniquely."""

    def __init__(self, *, seed: int, mock: Mapping[str, Any] | None = None, pool_size: int = 16, run_id: str) -> None:
        rng = random.Random(seed)  # noqa: S311 - synthetic text, not cryptography
        self._mock = dict(mock or {})
        self._run_id = run_id
        self._pool: dict[str, list[str]] = {
            name: [
                f"Compare the two essays.\n\nEssay A:\n{essay(rng, shape.essay_words)}\n\n"
                f"Essay B:\n{essay(rng, shape.essay_words)}"
                for _ in range(pool_size)
            ]
            for name, shape in SHAPES.items()
        }
        self._sequence = 0

    def comparison(self, workload: str, *, callback_topic: str | None) -> dict[str, Any]:
        shape = SHAPES.get(workload, SHAPES["comparison"])
        pool = self._pool.get(workload, self._pool["comparison"])
        self._sequence += 1
        mock = {**shape.mock, **self._mock}
        body: dict[str, Any] = {
            "user_prompt": pool[self._sequence % len(pool)],
            "priority": shape.priority,
            "llm_config_overrides": {"provider_override": "mock", "max_tokens_override": shape.max_tokens},
            "metadata": {"loadtest_run": self._run_id, "loadtest_seq": self._sequence, "workload": workload},
        }
        if mock:
            body["metadata"]["mock"] = mock
        if callback_topic:
            body["callback_topic"] = callback_topic
        return body

    def chat(self, *, model: str) -> dict[str, Any]:
        self._sequence += 1
        pool = self._pool["quick"]
        return {
            "model": model,
            "messages": [{"role": "user", "content": pool[self._sequence % len(pool)][:600]}],
            "max_tokens": 64,
        }
