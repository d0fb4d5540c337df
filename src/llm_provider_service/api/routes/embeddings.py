"""`POST /v1/embeddings` of the OpenAI-compatible gateway, for OpenAI, Gemini, OpenAI-compatible upstreams and the mock.

`encoding_format: base64` (what the `openai` SDK asks for by default) is little-endian float32, as OpenAI
sends it. Usage and cost are recorded like a chat call's (input tokens only).
"""

from __future__ import annotations

import base64
import struct
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llm_provider_service.api.openai_wire import error_response
from llm_provider_service.api.problems import correlation_id_of
from llm_provider_service.api.routes.chat import gateway_of, mock_control
from llm_provider_service.domain.embeddings import EmbeddingRequest
from llm_provider_service.domain.errors import RequestValidationError, ServiceError

_MAX_INPUTS = 2048


class EmbeddingsIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    model: str = Field(min_length=1, max_length=256)
    input: str | list[str] | list[int] | list[list[int]]
    dimensions: int | None = Field(None, gt=0, le=4096)
    encoding_format: Literal["float", "base64"] | None = None
    user: str | None = Field(None, max_length=256)

    def texts(self) -> tuple[tuple[str, ...], tuple[tuple[int, ...], ...]]:
        """(texts, token arrays): token arrays (one, or a list) also come as their JSON text."""
        raw = self.input
        if isinstance(raw, str):
            return (raw,), ()
        if not raw or len(raw) > _MAX_INPUTS:
            raise RequestValidationError(
                f"input must hold 1 to {_MAX_INPUTS} items",
                [{"loc": ["input"], "msg": "empty or too long", "type": "value_error"}],
            )
        if all(isinstance(item, str) for item in raw):
            return tuple(item for item in raw if isinstance(item, str)), ()
        arrays = [tuple(item) for item in raw if isinstance(item, list)] or [
            tuple(i for i in raw if isinstance(i, int))
        ]
        return tuple(orjson.dumps(list(tokens)).decode() for tokens in arrays), tuple(arrays)


def _parse(body: bytes) -> EmbeddingsIn:
    try:
        return EmbeddingsIn.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        listed: list[dict[str, object]] = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]} for error in errors
        ]
        raise RequestValidationError("the request body is invalid", listed) from exc


def _encoded(vector: tuple[float, ...], encoding: str | None) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return list(vector)


async def embeddings(request: Request) -> Response:
    try:
        gateway = gateway_of(request)
        wire = _parse(await request.body())
        route = gateway.route(wire.model)
        texts, token_inputs = wire.texts()
        call = EmbeddingRequest(
            model=route.info.model_id,
            inputs=texts,
            token_inputs=token_inputs,
            dimensions=wire.dimensions,
            user=wire.user,
            request_key=f"embd-{gateway.new_id()}",
            mock=mock_control(request),
        )
        answer = await gateway.embed(route, call)
    except ServiceError as exc:
        return error_response(exc, correlation_id=correlation_id_of(request))
    data: list[dict[str, Any]] = [
        {"object": "embedding", "index": index, "embedding": _encoded(vector, wire.encoding_format)}
        for index, vector in enumerate(answer.vectors)
    ]
    tokens = answer.usage.prompt_tokens
    body = {
        "object": "list",
        "data": data,
        "model": f"{route.provider_name}/{answer.model}",
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return Response(orjson.dumps(body), media_type="application/json")


routes = [Route("/v1/embeddings", embeddings, methods=["POST"])]
