"""`create_app`: the Starlette application over an `ApiContext`; resources are owned by the caller."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from llm_provider_service.api.context import ApiContext
from llm_provider_service.api.fast_path import FastPath
from llm_provider_service.api.middleware import EdgeMiddleware
from llm_provider_service.api.problems import EXCEPTION_HANDLERS
from llm_provider_service.api.responses import json_response
from llm_provider_service.api.routes import chat, comparison, embeddings, operations
from llm_provider_service.tracing import Tracing


def create_app(
    context: ApiContext,
    *,
    max_body_bytes: int,
    extra_routes: Sequence[BaseRoute] = (),
    tracing: Tracing | None = None,
    max_in_flight: int = 0,
) -> Starlette:
    handlers: Any = EXCEPTION_HANDLERS
    app = Starlette(
        routes=[
            *chat.routes,
            *embeddings.routes,
            *comparison.routes,
            *operations.routes,
            _openapi_route(context.version, context.max_wait_seconds),
            *extra_routes,
        ],
        middleware=[
            Middleware(
                EdgeMiddleware,
                metrics=context.metrics,
                max_body_bytes=max_body_bytes,
                max_in_flight=max_in_flight,
                tracing=tracing,
            ),
            # The hot paths: the gateway's, and job submission.
            Middleware(FastPath, routes=[*chat.routes, *embeddings.routes, *comparison.routes]),
        ],
        exception_handlers=handlers,
    )
    app.state.context = context
    return app


def _openapi_route(version: str, max_wait_seconds: float) -> Route:
    """`GET /openapi.json`, its document built on the first request and kept: importing its answer models and
    generating their JSON Schemas at every start cost ~30 ms of start-up for a document few processes are asked for."""
    document: dict[str, Any] | None = None

    async def serve_document(_request: Request) -> Response:
        nonlocal document
        if document is None:
            from llm_provider_service.api.openapi import build_document

            document = build_document(version=version, max_wait_seconds=max_wait_seconds)
        return json_response(document)

    return Route("/openapi.json", serve_document, methods=["GET"])
