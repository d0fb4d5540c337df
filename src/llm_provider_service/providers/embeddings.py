"""Embeddings on the vendors' wires: OpenAI `POST /embeddings` (and compatibles) and Gemini `batchEmbedContents`.

Gemini reports no token usage for embeddings; its count is estimated from text length (about four
characters a token) and marked `usage_estimated` in the metadata, so cost is an estimate there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from llm_provider_service.domain.embeddings import EmbeddingRequest, EmbeddingResponse
from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.domain.models import TokenUsage
from llm_provider_service.providers.structured import as_dict, as_int, invalid_response


def openai_embedding_payload(request: EmbeddingRequest) -> dict[str, Any]:
    texts: list[Any] = [list(tokens) for tokens in request.token_inputs] or list(request.inputs)
    payload: dict[str, Any] = {"model": request.model, "input": texts, "encoding_format": "float"}
    if request.dimensions is not None:
        payload["dimensions"] = request.dimensions
    if request.user:
        payload["user"] = request.user
    return payload


def parse_openai_embeddings(provider: str, request: EmbeddingRequest, body: Mapping[str, Any]) -> EmbeddingResponse:
    data = body.get("data")
    if not isinstance(data, list) or len(data) != len(request.inputs):
        raise invalid_response(provider, "embeddings answer has not one vector per input")
    ordered = sorted((item for item in data if isinstance(item, dict)), key=lambda item: as_int(item.get("index")))
    vectors = tuple(_vector(provider, item.get("embedding")) for item in ordered)
    usage = as_dict(body.get("usage"))
    return EmbeddingResponse(
        vectors, TokenUsage(as_int(usage.get("prompt_tokens")), 0), str(body.get("model") or request.model)
    )


def gemini_embedding_payload(request: EmbeddingRequest, provider: str) -> dict[str, Any]:
    if request.token_inputs:
        raise ProviderError(
            ProviderErrorKind.INVALID_REQUEST, f"{provider}: input as token ids is not supported", provider=provider
        )
    name = f"models/{request.model.removeprefix('models/')}"
    requests = []
    for text in request.inputs:
        item: dict[str, Any] = {"model": name, "content": {"parts": [{"text": text}]}}
        if request.dimensions is not None:
            item["outputDimensionality"] = request.dimensions
        requests.append(item)
    return {"requests": requests}


def parse_gemini_embeddings(provider: str, request: EmbeddingRequest, body: Mapping[str, Any]) -> EmbeddingResponse:
    embeddings = body.get("embeddings")
    if not isinstance(embeddings, list) or len(embeddings) != len(request.inputs):
        raise invalid_response(provider, "embeddings answer has not one vector per input")
    vectors = tuple(_vector(provider, as_dict(item).get("values")) for item in embeddings)
    tokens = sum(max(math.ceil(len(text) / 4), 1) for text in request.inputs)
    return EmbeddingResponse(vectors, TokenUsage(tokens, 0), request.model, {"usage_estimated": True})


def _vector(provider: str, values: Any) -> tuple[float, ...]:
    if not isinstance(values, list) or not all(isinstance(value, int | float) for value in values):
        raise invalid_response(provider, "an embedding is not a list of numbers")
    return tuple(float(value) for value in values)
