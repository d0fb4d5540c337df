"""The hot POST endpoints dispatched by one dict lookup, past Starlette's router and exception middleware.

`POST /v1/chat/completions`, `POST /v1/embeddings` (the gateway) and `POST /api/v1/comparison` (job
submission) are the hot paths: the endpoints render every domain error themselves (OpenAI's error shape;
problem+json), so the router's regex matching, `ExceptionMiddleware` and the endpoint wrapper add nothing to
them but cost. Sitting inside `EdgeMiddleware` (correlation id, size limit,
load shedding, metrics, tracing) and `ServerErrorMiddleware` (unexpected errors, by `api/problems.py`), this
dispatch keeps what those give; every other request, and these paths under a `root_path`, go the usual way.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send


class FastPath:
    """Raw ASGI: POST to one of `routes` (plain paths only) goes straight to its endpoint; the rest to `app`."""

    def __init__(self, app: ASGIApp, *, routes: Iterable[BaseRoute]) -> None:
        self._app = app
        self._routes: dict[str, Route] = {}
        for route in routes:
            if isinstance(route, Route) and route.methods == {"POST"} and not route.param_convertors:
                self._routes[route.path] = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._routes.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if route is None or scope.get("root_path"):
            await self._app(scope, receive, send)
            return
        scope["route"] = route  # what the router would set: metrics and traces label by the template
        scope["endpoint"] = route.endpoint
        response = await route.endpoint(Request(scope, receive, send))
        await response(scope, receive, send)
