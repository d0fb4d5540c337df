"""Embeddings on the mock server: OpenAI `POST /v1/embeddings` and Gemini `:embedContent` / `:batchEmbedContents`.

Vectors come from `mock/embeddings.py` (deterministic per seed and text); faults and latency from the engine
as for a completion. OpenAI's `encoding_format: base64` (the `openai` SDK's default) is little-endian float32.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from llm_provider_service.mock import gemini_wire, openai_wire
from llm_provider_service.mock.embeddings import mock_embedding
from llm_provider_service.mock.engine import MockResult, token_count
from llm_provider_service.mock.wire import INVALID_REQUEST, WireRequestError, decide, json_response, read_json, state_of


def _openai_inputs(body: Mapping[str, Any]) -> list[str]:
    raw = body.get("input")
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(item, int) for item in raw):
        return [str(raw)]  # one text as token ids: embedded by its ids
    if isinstance(raw, list) and raw and all(isinstance(item, str | list) for item in raw):
        return [item if isinstance(item, str) else str(item) for item in raw]
    raise WireRequestError("'input' must be a string, an array of strings or an array of token arrays")


def _encode(vector: tuple[float, ...], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return list(vector)


async def openai_embeddings(request: web.Request) -> web.Response:
    try:
        body = await read_json(request)
        inputs = _openai_inputs(body)
    except WireRequestError as exc:
        return openai_wire.render_error(INVALID_REQUEST, str(exc), None)
    outcome = await decide(request, "\n".join(inputs), None, openai_wire.render_error)
    if not isinstance(outcome, MockResult):
        return outcome
    seed = state_of(request).engine.profile.seed
    dimensions = body.get("dimensions") if isinstance(body.get("dimensions"), int) else None
    encoding = str(body.get("encoding_format") or "float")
    data = [
        {"object": "embedding", "index": index, "embedding": _encode(mock_embedding(seed, text, dimensions), encoding)}
        for index, text in enumerate(inputs)
    ]
    tokens = sum(max(token_count(text), 1) for text in inputs)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return json_response({"object": "list", "data": data, "model": str(body.get("model") or "mock"), "usage": usage})


def _gemini_text(content: Any) -> str:
    parts = content.get("parts") if isinstance(content, dict) else None
    return "".join(str(part.get("text", "")) for part in parts or () if isinstance(part, dict))


async def gemini_embed(request: web.Request, method: str) -> web.Response:
    """`embedContent` (one text) or `batchEmbedContents` (`requests[]`), as the Gemini API answers them."""
    try:
        body = await read_json(request)
    except WireRequestError as exc:
        return gemini_wire.render_error(INVALID_REQUEST, str(exc), None)
    items = body.get("requests") if method == "batchEmbedContents" else [body]
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        return gemini_wire.render_error(INVALID_REQUEST, "* BatchEmbedContentsRequest.requests: is empty", None)
    texts = [_gemini_text(item.get("content")) for item in items]
    outcome = await decide(request, "\n".join(texts), None, gemini_wire.render_error)
    if not isinstance(outcome, MockResult):
        return outcome
    seed = state_of(request).engine.profile.seed
    vectors = [
        {"values": list(mock_embedding(seed, text, item.get("outputDimensionality")))}
        for text, item in zip(texts, items, strict=True)
    ]
    return json_response({"embeddings": vectors} if method == "batchEmbedContents" else {"embedding": vectors[0]})
