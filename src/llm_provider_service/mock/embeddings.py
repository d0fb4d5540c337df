"""Deterministic mock embeddings: a unit vector per text from SHA-256 of (seed, text), the same in every process."""

from __future__ import annotations

import hashlib
import math

# As OpenAI's text-embedding-3-small; `dimensions` asks for fewer.
DEFAULT_DIMENSIONS = 1536
_MAX_DIMENSIONS = 4096
_SCALE = float(1 << 32)


def mock_embedding(seed: int, text: str, dimensions: int | None = None) -> tuple[float, ...]:
    """A unit-length vector; equal texts get equal vectors, different texts (almost surely) different ones."""
    size = min(dimensions or DEFAULT_DIMENSIONS, _MAX_DIMENSIONS)
    values: list[float] = []
    block = 0
    while len(values) < size:
        digest = hashlib.sha256(f"{seed}\x00embedding\x00{text}\x00{block}".encode()).digest()
        values.extend(int.from_bytes(digest[i : i + 4], "big") / _SCALE * 2.0 - 1.0 for i in range(0, 32, 4))
        block += 1
    del values[size:]
    norm = math.sqrt(sum(value * value for value in values)) or 1.0
    return tuple(value / norm for value in values)
