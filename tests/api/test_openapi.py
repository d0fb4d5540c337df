"""The OpenAPI document covers exactly the app's routes, `docs/openapi.json` is current, and real answers conform."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
from starlette.routing import Route

from llm_provider_service import __version__
from llm_provider_service.api.openapi import build_document
from tests.api.chat_support import MOCK_MODEL, build_chat_api
from tests.api.conftest import Api, ApiFactory

DOCS_COPY = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
_CONVERTER = re.compile(r"\{(\w+):\w+\}")


def _answer_schema(document: dict[str, Any], path: str, method: str, status: int, media_type: str) -> Any:
    responses = document["paths"][path][method]["responses"]
    entry = responses.get(str(status), responses["default"])
    schema = entry["content"][media_type]["schema"]
    # A root that holds the components, so `#/components/schemas/...` resolves.
    return jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]})


def _conforms(document: dict[str, Any], path: str, method: str, response: httpx.Response) -> None:
    media_type = response.headers["content-type"].split(";")[0]
    validator = _answer_schema(document, path, method, response.status_code, media_type)
    errors = [error.message for error in validator.iter_errors(response.json())]
    assert not errors, f"{method.upper()} {path} {response.status_code}: {errors[:3]}"


async def test_the_document_names_every_route_and_nothing_else(api: Api) -> None:
    app = api.client._transport.app  # type: ignore[attr-defined]  # httpx.ASGITransport keeps the app
    routes = {
        (method.lower(), _CONVERTER.sub(r"{\1}", route.path))
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    document = (await api.client.get("/openapi.json")).json()
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert documented == routes
    assert document["openapi"] == "3.1.0"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert "default" in operation["responses"], f"{method} {path} documents no problem+json answer"


def test_the_copy_in_docs_is_current() -> None:
    # Regenerate with: .venv/bin/llm-provider openapi --out docs/openapi.json
    assert json.loads(DOCS_COPY.read_text(encoding="utf-8")) == build_document(version=__version__)


async def test_the_served_document_is_built_on_first_request_with_the_configured_wait_bound(
    make_api: ApiFactory,
) -> None:
    api = await make_api(max_wait_seconds=12.5)

    first = await api.client.get("/openapi.json")
    again = await api.client.get("/openapi.json")

    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert first.json() == build_document(version=__version__, max_wait_seconds=12.5)
    assert first.json() != build_document(version=__version__)


async def test_job_answers_conform(make_api: ApiFactory) -> None:
    api = await make_api(api_keys=["client-key"], admin_key="admin-key")
    client = {"authorization": "Bearer client-key"}
    admin = {"authorization": "Bearer admin-key"}
    document = (await api.client.get("/openapi.json")).json()

    accepted = await api.client.post("/api/v1/comparison", json={"user_prompt": "A or B?"}, headers=client)
    assert accepted.status_code == 202
    _conforms(document, "/api/v1/comparison", "post", accepted)
    queue_id = accepted.json()["queue_id"]
    for method in ("get", "delete"):
        answer = await api.client.request(method.upper(), f"/api/v1/requests/{queue_id}", headers=client)
        assert answer.status_code == 200
        _conforms(document, "/api/v1/requests/{queue_id}", method, answer)

    problems = [
        ("/api/v1/comparison", "post", await api.client.post("/api/v1/comparison", content=b"{", headers=client)),
        ("/api/v1/comparison", "post", await api.client.post("/api/v1/comparison", json={"user_prompt": "x"})),
        ("/api/v1/requests/{queue_id}", "get", await api.client.get("/api/v1/requests/nope", headers=client)),
        ("/api/v1/usage", "get", await api.client.get("/api/v1/usage", headers=client)),
        ("/api/v1/usage", "get", await api.client.get("/api/v1/usage?group_by=week", headers=admin)),
    ]
    assert [response.status_code for *_, response in problems] == [400, 401, 404, 403, 400]
    for path, method, response in problems:
        assert response.headers["content-type"].startswith("application/problem+json")
        _conforms(document, path, method, response)

    for path, headers in [("/api/v1/providers", admin), ("/api/v1/models", client), ("/api/v1/usage", admin),
                          ("/healthz", {}), ("/readyz", {})]:  # fmt: skip
        answer = await api.client.get(path, headers=headers)
        assert answer.status_code in (200, 503), path
        _conforms(document, path, "get", answer)


async def test_gateway_answers_conform() -> None:
    api = build_chat_api()
    try:
        document = (await api.client.get("/openapi.json")).json()
        body = {"model": MOCK_MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": False}
        completion = await api.client.post("/v1/chat/completions", json=body)
        listed = await api.client.get("/v1/models")
        one = await api.client.get(f"/v1/models/{MOCK_MODEL}")
        missing = await api.client.get("/v1/models/mock/nope")
        embedded = await api.client.post("/v1/embeddings", json={"model": MOCK_MODEL, "input": ["a", "b"]})
    finally:
        await api.client.aclose()
    assert [completion.status_code, listed.status_code, one.status_code, missing.status_code] == [200, 200, 200, 404]
    _conforms(document, "/v1/chat/completions", "post", completion)
    _conforms(document, "/v1/models", "get", listed)
    _conforms(document, "/v1/models/{model_id}", "get", one)
    _conforms(document, "/v1/models/{model_id}", "get", missing)
    assert embedded.status_code == 200, embedded.text
    _conforms(document, "/v1/embeddings", "post", embedded)


async def test_metadata_the_store_cannot_hold_is_a_400_and_stores_nothing(api: Api) -> None:
    # Found by schemathesis: an integer beyond 64 bits in metadata reached the store and answered 500.
    body = {"user_prompt": "A or B?", "metadata": {"n": 860105043975066982809600}}
    answer = await api.client.post("/api/v1/comparison", json=body)
    assert answer.status_code == 400
    assert answer.json()["code"] == "validation_error"
    assert api.harness.store.jobs == {}


async def test_a_405_lists_every_method_of_the_path(api: Api) -> None:
    answer = await api.client.put("/api/v1/requests/some-id")
    assert answer.status_code == 405
    assert set(answer.headers["allow"].replace(" ", "").split(",")) >= {"GET", "DELETE"}
