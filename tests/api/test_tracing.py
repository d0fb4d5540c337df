"""OpenTelemetry spans: HTTP requests and job attempts land in the submitter's trace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llm_provider_service.api.app import create_app
from llm_provider_service.tracing import Tracing
from llm_provider_service.worker import Worker
from tests.api.conftest import MAX_BODY_BYTES, build_context
from tests.unit.service.harness import Harness

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def traced(spans: InMemorySpanExporter) -> AsyncIterator[tuple[Harness, httpx.AsyncClient, Tracing]]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing = Tracing(provider)
    harness = Harness()
    app = create_app(build_context(harness), max_body_bytes=MAX_BODY_BYTES, tracing=tracing)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service.test") as client:
        yield harness, client, tracing
    tracing.close()


async def test_request_and_job_spans_join_the_callers_trace(
    traced: tuple[Harness, httpx.AsyncClient, Tracing], spans: InMemorySpanExporter
) -> None:
    harness, client, tracing = traced
    headers = {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}
    response = await client.post("/api/v1/comparison", json={"user_prompt": "A vs B"}, headers=headers)
    queue_id = response.json()["queue_id"]
    worker = Worker(
        queue=harness.queue,
        store=harness.store,
        processor=harness.processor,
        clock=harness.clock,
        metrics=harness.services.metrics,
        concurrency=1,
        lease_seconds=30,
        tracing=tracing,
    )
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(worker.run(stop, grace_seconds=1))
        await harness.jobs.wait(queue_id, 5)
        stop.set()  # the drain lets the job's task finish, and with it its span
    finished = {span.name: span for span in spans.get_finished_spans()}
    assert finished["POST /api/v1/comparison"].context.trace_id == int(TRACE, 16)
    job_span = finished["job.process"]
    assert job_span.context.trace_id == int(TRACE, 16)
    assert job_span.attributes is not None
    assert job_span.attributes["llm.queue_id"] == queue_id
    assert job_span.attributes["llm.outcome"] == "completed"


async def test_without_traceparent_the_job_joins_the_request_trace(
    traced: tuple[Harness, httpx.AsyncClient, Tracing], spans: InMemorySpanExporter
) -> None:
    harness, client, _ = traced
    queue_id = (await client.post("/api/v1/comparison", json={"user_prompt": "A vs B"})).json()["queue_id"]
    [request_span] = spans.get_finished_spans()
    assert harness.store.jobs[queue_id].trace_id == f"{request_span.context.trace_id:032x}"
