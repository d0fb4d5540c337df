"""The OpenAI-compatible gateway: `POST /v1/chat/completions` (sync and SSE) and `GET /v1/models`.

The hot path: key check (digest compare) -> strict parse -> route (dict lookup) -> provider call ->
orjson. Accounting happens in the gateway's `UsageRecorder`, off this path. Errors are rendered here,
with the OpenAI `error` object the SDK reads, instead of by the app-wide problem table.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from llm_provider_service.api.context import ApiContext
from llm_provider_service.api.openai_request import parse_chat_request, to_completion_request
from llm_provider_service.api.openai_wire import DONE, ChunkWriter, completion_body, error_response
from llm_provider_service.api.problems import correlation_id_of
from llm_provider_service.api.responses import json_response
from llm_provider_service.domain.errors import ModelNotFoundError, NotFoundError, RequestValidationError, ServiceError
from llm_provider_service.domain.models import MOCK_INTRINSIC_MS_KEY, CompletionChunk, CompletionRequest, TokenUsage
from llm_provider_service.mock.control import (
    FAIL_ATTEMPTS_HEADER,
    INTRINSIC_HEADER,
    LATENCY_HEADER,
    NO_CONTROL,
    SCENARIO_HEADER,
    TOOL_CALL_HEADER,
    MockControl,
    parse_control,
)
from llm_provider_service.service.gateway import ChatGateway
from llm_provider_service.service.gateway import Route as GatewayRoute
from llm_provider_service.service.routing import first_available

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
# Parameters the vendor cannot honour, left out under LLM_PROVIDER_UNSUPPORTED_PARAMS=drop.
DROPPED_HEADER = "x-llm-provider-dropped-params"
# The target that served the call (`provider/model-id`), also when a route fell back.
ROUTE_HEADER = "x-llm-provider-route"


def gateway_of(request: Request) -> ChatGateway:
    context: ApiContext = request.app.state.context
    context.keys.require_client(request)
    if context.gateway is None:
        raise NotFoundError("the OpenAI-compatible gateway is not enabled in this process")
    return context.gateway


_CONTROL_FIELDS: dict[bytes, tuple[str, Callable[[str], Any]]] = {
    SCENARIO_HEADER.encode(): ("scenario", lambda raw: raw.strip().lower()),
    LATENCY_HEADER.encode(): ("latency_ms", float),
    FAIL_ATTEMPTS_HEADER.encode(): ("fail_attempts", int),
    TOOL_CALL_HEADER.encode(): ("tool_call", lambda raw: raw.strip()),
}


def mock_control(request: Request) -> MockControl:
    """Per-request mock instructions from `x-mock-*` headers (forwarded to the mock server by the adapters).

    One pass over the raw header list: most requests carry none, and this runs on every request.
    """
    control: dict[str, Any] = {}
    for key, value in request.scope["headers"]:
        field = _CONTROL_FIELDS.get(key)
        if field is None:
            continue
        name, convert = field
        header = key.decode("latin-1")
        try:
            control[name] = convert(value.decode("latin-1"))
        except ValueError as exc:
            raise RequestValidationError(
                f"{header} must be a number", [{"loc": ["header", header], "msg": "not a number", "type": "type_error"}]
            ) from exc
    # Parsed and validated once, here at the edge: a bad instruction is a 400 before any call.
    return parse_control(control) if control else NO_CONTROL


async def chat_completions(request: Request) -> Response:
    try:
        gateway = gateway_of(request)
        chat, raw = parse_chat_request(await request.body())
        routes = gateway.plan(chat.model)
        completion_id = f"chatcmpl-{gateway.new_id()}"
        control = mock_control(request)
        created = int(time.time())
        dropped: tuple[str, ...] = ()

        def call_for(route: GatewayRoute) -> CompletionRequest:
            nonlocal dropped
            call = to_completion_request(
                chat,
                raw if route.speaks_openai else None,
                model_id=route.info.model_id,
                request_key=completion_id,
                mock=control,
            )
            call, dropped = gateway.admit(route, call, chat.present(), stream=chat.stream)
            return call

        if chat.stream:
            route, (chunks, choices) = await first_available(routes, lambda r: _open(gateway, r, call_for(r)))
            writer = ChunkWriter(completion_id, created, route.name, include_usage=chat.include_usage)
            headers = {**_route_headers(route, dropped), **_SSE_HEADERS}
            return StreamingResponse(_sse(writer, chunks, choices), media_type="text/event-stream", headers=headers)
        if len(routes) == 1:  # the common case, without the fallback loop's extra coroutine
            route = routes[0]
            response = await gateway.complete(route, call_for(route))
        else:
            route, response = await first_available(routes, lambda r: gateway.complete(r, call_for(r)))
    except ServiceError as exc:
        return error_response(exc, correlation_id=correlation_id_of(request))
    headers = _route_headers(route, dropped)
    intrinsic_ms = response.provider_metadata.get(MOCK_INTRINSIC_MS_KEY)
    if isinstance(intrinsic_ms, int | float):
        headers[INTRINSIC_HEADER] = f"{intrinsic_ms:.3f}"
    body = completion_body(completion_id, created, f"{route.provider_name}/{response.model}", response)
    return Response(body, media_type="application/json", headers=headers)


async def _open(
    gateway: ChatGateway, route: GatewayRoute, call: CompletionRequest
) -> tuple[AsyncGenerator[CompletionChunk, None], int]:
    return await gateway.open_stream(route, call), call.options.n


def _route_headers(route: GatewayRoute, dropped: tuple[str, ...]) -> dict[str, str]:
    """Which target served (`provider/model-id`), and the parameters it could not honour."""
    headers = {ROUTE_HEADER: f"{route.provider_name}/{route.info.model_id}"}
    if dropped:
        headers[DROPPED_HEADER] = ", ".join(dropped)
    return headers


async def _sse(
    writer: ChunkWriter, chunks: AsyncGenerator[CompletionChunk, None], choices: int
) -> AsyncIterator[bytes]:
    usage: TokenUsage | None = None
    finish: dict[int, str | None] = dict.fromkeys(range(choices))
    try:
        for index in range(choices):
            yield writer.first(index)
        async for chunk in chunks:
            if chunk.delta or chunk.logprobs:
                yield writer.content(chunk.delta, chunk.index, chunk.logprobs)
            if chunk.tool_calls:
                yield writer.tool_calls(chunk.tool_calls, chunk.index)
            usage = chunk.usage or usage
            if chunk.finish_reason:
                finish[chunk.index] = chunk.finish_reason
    except ServiceError as exc:
        # The 200 is already sent: report the failure in the stream, as OpenAI does.
        yield writer.error(exc)
        return
    finally:
        await chunks.aclose()
    for index, reason in finish.items():
        yield writer.finish(reason, index)
    tail = writer.usage(usage or TokenUsage())
    if tail is not None:
        yield tail
    yield DONE


def _model_view(model_id: str, owned_by: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": owned_by}


async def list_models(request: Request) -> Response:
    try:
        gateway = gateway_of(request)
    except ServiceError as exc:
        return error_response(exc, correlation_id=correlation_id_of(request))
    data = [_model_view(model.id, model.owned_by) for model in gateway.models()]
    return json_response({"object": "list", "data": data})


async def retrieve_model(request: Request) -> Response:
    try:
        gateway = gateway_of(request)
        model_id = str(request.path_params["model_id"])
        listed = {model.id: model for model in gateway.models()}
        if model_id not in listed:
            raise ModelNotFoundError(f"model {model_id!r} does not exist")
    except ServiceError as exc:
        return error_response(exc, correlation_id=correlation_id_of(request))
    return json_response(_model_view(model_id, listed[model_id].owned_by))


routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{model_id:path}", retrieve_model, methods=["GET"]),
]
