"""Operations routes: providers, models, usage, health, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llm_provider_service.api.context import ApiContext
from llm_provider_service.api.responses import json_response
from llm_provider_service.domain.errors import QueueUnavailableError, RequestValidationError, ServiceError
from llm_provider_service.domain.models import ProviderName

READINESS_TIMEOUT_SECONDS = 2.0


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


async def _budget_states(context: ApiContext) -> dict[str, list[dict[str, Any]]] | None:
    """Each provider's rate budgets (limit per window, what is available now, pause); None if unreadable."""
    if context.budgets is None:
        return {}
    try:
        states = await context.budgets.budget.states(now=time.time())
    except ServiceError:
        return None
    window = context.budgets.policy.window_seconds
    by_provider: dict[str, list[dict[str, Any]]] = {}
    for state in states:
        provider, _, model = state.key.partition("/")
        by_provider.setdefault(provider, []).append(
            {
                "model": model,
                "window_seconds": window,
                "limits": {dimension.value: limit for dimension, limit in state.limits.items()},
                "available": {dimension.value: round(value, 3) for dimension, value in state.available.items()},
                "paused_for_seconds": round(state.paused_for_seconds, 3),
            }
        )
    return by_provider


OPEN_BATCHES_SHOWN = 100


async def _open_batches(context: ApiContext) -> dict[str, list[dict[str, Any]]] | None:
    """Each provider's open vendor batches (batch mode), oldest first; None if the store cannot be read."""
    if context.batches is None:
        return {}
    try:
        batches = await context.batches.open_batches(limit=OPEN_BATCHES_SHOWN)
    except ServiceError:
        return None
    by_provider: dict[str, list[dict[str, Any]]] = {}
    for batch in batches:
        by_provider.setdefault(batch.provider, []).append(
            {
                "id": batch.id,
                "vendor_batch_id": batch.vendor_batch_id,
                "model": batch.model,
                "phase": batch.phase.value,
                "jobs": len(batch.job_ids),
                "created_at": batch.created_at.isoformat(),
                "submitted_at": batch.submitted_at.isoformat() if batch.submitted_at else None,
            }
        )
    return by_provider


async def list_providers(request: Request) -> Response:
    context = _context(request)
    context.keys.require_admin(request)
    budgets = await _budget_states(context)
    open_batches = await _open_batches(context)
    providers = []
    for name in ProviderName:
        enabled = name.value in context.providers
        default_model = None
        if name.value in context.catalog.providers():
            default_model = context.catalog.resolve(name.value, None).model_id
        providers.append(
            {
                "name": name.value,
                "enabled": enabled,
                "configured": name.value in context.configured_providers,
                "circuit_state": context.breakers.get(name.value).state.value if enabled else None,
                "in_flight": context.limits.in_flight(name.value),
                "concurrency_limit": context.limits.limit(name.value),
                "default_model": default_model,
                "rate_budgets": budgets.get(name.value, []) if budgets is not None else None,
                "open_batches": open_batches.get(name.value, []) if open_batches is not None else None,
            }
        )
    routes = []
    job_routes = context.jobs.route_names()
    for group in context.gateway.route_groups() if context.gateway is not None else ():
        targets = [
            {
                "model": f"{route.provider_name}/{route.info.model_id}",
                "circuit_state": context.breakers.get(route.provider_name).state.value,
                "in_flight": context.limits.in_flight(route.provider_name),
            }
            for route in group.targets
        ]
        routes.append(
            {"name": group.name, "strategy": group.strategy, "targets": targets, "jobs": group.name in job_routes}
        )
    return json_response({"providers": providers, "routes": routes})


async def list_models(request: Request) -> Response:
    context = _context(request)
    context.keys.require_client(request)
    models = [
        {
            "provider": model.provider,
            "model": model.model_id,
            "id": f"{model.provider}/{model.model_id}",
            "default": context.catalog.resolve(model.provider, None).model_id == model.model_id,
            "context_window": model.context_window,
            "max_output_tokens": model.max_output_tokens,
            "input_usd_per_million_tokens": model.input_usd_per_mtok,
            "output_usd_per_million_tokens": model.output_usd_per_mtok,
            "capabilities": {
                "temperature": model.supports_temperature,
                "reasoning_effort": model.supports_reasoning_effort,
                "output_verbosity": model.supports_output_verbosity,
                "structured_output": model.supports_structured_output,
                "streaming": model.supports_streaming,
            },
            "available": model.provider in context.providers,
        }
        for model in context.catalog
    ]
    return json_response({"models": models})


def _moment(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise RequestValidationError(
            f"{name} must be an ISO 8601 timestamp",
            [{"loc": ["query", name], "msg": "invalid timestamp", "type": "value_error"}],
        ) from None
    if moment.tzinfo is None:
        raise RequestValidationError(
            f"{name} needs a timezone", [{"loc": ["query", name], "msg": "naive timestamp", "type": "value_error"}]
        )
    return moment


async def usage(request: Request) -> Response:
    context = _context(request)
    context.keys.require_admin(request)
    group_by = request.query_params.get("group_by", "provider")
    if group_by not in ("provider", "model", "day"):
        raise RequestValidationError(
            "group_by must be provider, model or day",
            [{"loc": ["query", "group_by"], "msg": "unknown grouping", "type": "value_error"}],
        )
    start, end = _moment(request, "from"), _moment(request, "to")
    rows = await context.usage.usage_summary(start=start, end=end, group_by=group_by)  # type: ignore[arg-type]
    return json_response(
        {
            "group_by": group_by,
            "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None,
            "groups": [
                {
                    "group": row.group,
                    "calls": row.calls,
                    "prompt_tokens": row.prompt_tokens,
                    "completion_tokens": row.completion_tokens,
                    "total_tokens": row.prompt_tokens + row.completion_tokens,
                    "cost_usd": round(row.cost_usd, 8),
                }
                for row in rows
            ],
        }
    )


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok", "version": _context(request).version})


async def _check(check: Any) -> str:
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            await check()
    except TimeoutError:
        return "timeout"
    except ServiceError as error:
        return error.code
    return "ok"


async def readyz(request: Request) -> Response:
    context = _context(request)
    names = list(context.readiness_checks)
    results = await asyncio.gather(*(_check(context.readiness_checks[name]) for name in names))
    checks = dict(zip(names, results, strict=True))
    ready = all(result == "ok" for result in results)
    return json_response({"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503)


async def metrics(request: Request) -> Response:
    context = _context(request)
    try:
        stats = await context.queue.stats()
    except QueueUnavailableError:
        stats = None
    if stats is not None:
        context.metrics.queue_depth.labels("ready").set(stats.ready)
        context.metrics.queue_depth.labels("delayed").set(stats.delayed)
        context.metrics.queue_depth.labels("leased").set(stats.leased)
    with contextlib.suppress(ServiceError):  # the gauge keeps its last value; /readyz reports the store
        context.metrics.outbox_backlog.set(await context.outbox.outbox_backlog())
    return Response(generate_latest(context.metrics.registry), media_type=CONTENT_TYPE_LATEST)


routes = [
    Route("/api/v1/providers", list_providers, methods=["GET"]),
    Route("/api/v1/models", list_models, methods=["GET"]),
    Route("/api/v1/usage", usage, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
