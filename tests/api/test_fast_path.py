"""The gateway's POST endpoints skip Starlette's router: what the edge and the error table give must stay."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llm_provider_service.api.fast_path import FastPath
from llm_provider_service.api.middleware import new_correlation_id
from llm_provider_service.api.problems import EXCEPTION_HANDLERS
from tests.api.chat_support import ChatApi, build_chat_api


@pytest.fixture
async def chat_api() -> AsyncIterator[ChatApi]:
    api = build_chat_api()
    yield api
    await api.client.aclose()


def _served(chat_api: ChatApi, endpoint: str, status: str) -> float:
    value = chat_api.metrics.registry.get_sample_value(
        "llm_provider_http_requests_total", {"endpoint": endpoint, "method": "POST", "status": status}
    )
    return value or 0.0


async def test_a_chat_call_is_labelled_by_its_route_and_gets_a_uuid_correlation_id(chat_api: ChatApi) -> None:
    before = _served(chat_api, "/v1/chat/completions", "200")
    response = await chat_api.chat()
    assert response.status_code == 200
    assert _served(chat_api, "/v1/chat/completions", "200") == before + 1
    correlation_id = response.headers["x-correlation-id"]
    assert uuid.UUID(correlation_id).version == 4
    assert str(uuid.UUID(correlation_id)) == correlation_id


async def test_a_caller_correlation_id_is_echoed(chat_api: ChatApi) -> None:
    response = await chat_api.chat(headers={"x-correlation-id": "caller-chosen"})
    assert response.headers["x-correlation-id"] == "caller-chosen"


async def test_other_methods_and_paths_still_go_through_the_router(chat_api: ChatApi) -> None:
    wrong_method = await chat_api.client.get("/v1/chat/completions")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"
    assert "x-correlation-id" in wrong_method.headers
    models = await chat_api.client.get("/v1/models")
    assert models.status_code == 200


async def test_a_caller_mistake_keeps_the_openai_error_shape(chat_api: ChatApi) -> None:
    response = await chat_api.client.post("/v1/chat/completions", content=b"{not json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["error"]["type"] == "invalid_request_error"
    assert _served(chat_api, "/v1/chat/completions", "400") >= 1


async def test_an_unexpected_error_on_the_fast_path_is_a_problem_500() -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("a bug")

    routes = [Route("/v1/broken", broken, methods=["POST"])]
    handlers: Any = EXCEPTION_HANDLERS
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.add_middleware(FastPath, routes=routes)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
        response = await client.post("/v1/broken", content=b"{}")
    assert response.status_code == 500
    assert orjson.loads(response.content)["code"] == "internal_error"


def test_generated_correlation_ids_are_unique_uuid4_text() -> None:
    ids = [new_correlation_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value for value in ids)
