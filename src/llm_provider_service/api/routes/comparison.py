"""`POST /api/v1/comparison` and `/api/v1/requests/{queue_id}`: submit, poll, wait and cancel jobs."""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llm_provider_service.api.context import ApiContext
from llm_provider_service.api.problems import service_error_handler
from llm_provider_service.api.responses import json_response
from llm_provider_service.api.schemas import job_view, parse_comparison_request
from llm_provider_service.api.tracecontext import trace_id_of
from llm_provider_service.domain.errors import RequestValidationError, ServiceError
from llm_provider_service.domain.models import Job
from llm_provider_service.mock.control import control_of_metadata

IDEMPOTENCY_HEADER = "idempotency-key"
MAX_IDEMPOTENCY_KEY_CHARS = 255
# Keys derived from correlation ids live in their own namespace, apart from keys clients send.
CORRELATION_KEY_PREFIX = "correlation_id:"
WAIT_MINUTE_SECONDS = 60
REQUESTS_PATH = "/api/v1/requests"


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


def _wait_seconds(request: Request, context: ApiContext) -> float | None:
    if not request.scope.get("query_string"):
        return None  # the common case, without parsing an empty query string into a multi-dict
    raw = request.query_params.get("wait")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= context.max_wait_seconds:
        raise RequestValidationError(
            f"wait must be a number of seconds between 0 and {context.max_wait_seconds:g}",
            [{"loc": ["query", "wait"], "msg": "out of range", "type": "value_error"}],
        )
    return seconds


def _accepted(job: Job, request: Request, *, estimated_wait_seconds: float, replayed: bool) -> Response:
    # The `get_request` route's path, built directly: `url_for` cost ~7 % of an accept's CPU.
    status_url = f"{request.scope.get('root_path', '')}{REQUESTS_PATH}/{job.id}"
    body = {
        "queue_id": job.id,
        "status": job.status.value,
        "message": "duplicate of an earlier submission with the same Idempotency-Key"
        if replayed
        else "comparison job accepted",
        "estimated_wait_seconds": estimated_wait_seconds,
        # The original client logs this one: whole minutes, to the nearest.
        "estimated_wait_minutes": round(estimated_wait_seconds / WAIT_MINUTE_SECONDS),
        "status_url": status_url,
    }
    headers = {"Location": status_url}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(body, 202, headers)


async def submit_comparison(request: Request) -> Response:
    """Renders its own errors (problem+json), so the application's fast path may call it past the router."""
    try:
        return await _submit_comparison(request)
    except ServiceError as exc:
        return await service_error_handler(request, exc)


async def _submit_comparison(request: Request) -> Response:
    context = _context(request)
    context.keys.require_submitter(request)
    wait_seconds = _wait_seconds(request, context)
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY_CHARS:
        raise RequestValidationError(
            f"Idempotency-Key must have 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters",
            [{"loc": ["header", "Idempotency-Key"], "msg": "bad length", "type": "value_error"}],
        )
    comparison, sent_correlation_id = parse_comparison_request(await request.body())
    control_of_metadata(comparison.metadata)  # validated now: a typo is a 400, not a job that fails later
    if key is None and context.idempotency_from == "correlation_id" and sent_correlation_id is not None:
        key = CORRELATION_KEY_PREFIX + sent_correlation_id
    trace_id = trace_id_of(request.headers.get("traceparent")) or request.scope["state"].get("trace_id")
    submission = await context.jobs.submit(comparison, idempotency_key=key, trace_id=trace_id)
    if submission.created:
        context.metrics.jobs_submitted.labels(submission.job.provider).inc()
    job = submission.job
    structlog.contextvars.bind_contextvars(queue_id=job.id)
    if wait_seconds:
        job = await context.jobs.wait(job.id, wait_seconds)
        if job.status.is_terminal:
            return json_response(job_view(job), 200)
    return _accepted(
        job, request, estimated_wait_seconds=submission.estimated_wait_seconds, replayed=not submission.created
    )


async def get_request(request: Request) -> Response:
    context = _context(request)
    context.keys.require_client(request)
    queue_id = request.path_params["queue_id"]
    structlog.contextvars.bind_contextvars(queue_id=queue_id)
    wait_seconds = _wait_seconds(request, context)
    if wait_seconds:
        job = await context.jobs.wait(queue_id, wait_seconds)
    else:
        job = await context.jobs.get(queue_id)
    return json_response(job_view(job))


async def cancel_request(request: Request) -> Response:
    context = _context(request)
    context.keys.require_client(request)
    job = await context.jobs.cancel(request.path_params["queue_id"])
    return json_response(job_view(job))


async def request_resource(request: Request) -> Response:
    # One route per path, so that a 405 there lists every method the path has in `Allow` (fuzzing found it did not).
    if request.method == "DELETE":
        return await cancel_request(request)
    return await get_request(request)


routes = [
    Route("/api/v1/comparison", submit_comparison, methods=["POST"]),
    Route(REQUESTS_PATH + "/{queue_id}", request_resource, methods=["GET", "DELETE"], name="get_request"),
]
