"""`create_app`: the Starlette application over an `ApiContext`; resources are owned by the caller."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from llm_provider_service.api.context import ApiContext
from llm_provider_service.api.fast_path import FastPath
from llm_provider_service.api.middleware import EdgeMiddleware
from llm_provider_service.api.openapi import build_document, openapi_route
from llm_provider_service.api.problems import EXCEPTION_HANDLERS
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
    document = build_document(version=context.version, max_wait_seconds=context.max_wait_seconds)
    app = Starlette(
        routes=[
            *chat.routes,
            *embeddings.routes,
            *comparison.routes,
            *operations.routes,
            openapi_route(document),
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
