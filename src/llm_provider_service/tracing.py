"""OpenTelemetry traces, only when an OTLP endpoint is configured: one span per HTTP request and per job attempt.

A job's spans join the trace its submitter started (the `traceparent` header becomes the job's `trace_id`), and
the same trace id travels through the queue into the callback. With no endpoint nothing is imported or created,
so the hot path pays nothing.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import Any


class Tracing:
    """Creates spans on a tracer provider owned by this object (shut down, flushing, on `close`)."""

    def __init__(self, provider: Any) -> None:
        from opentelemetry import trace

        self._trace = trace
        self._provider = provider
        self._tracer = provider.get_tracer("llm_provider_service")

    @classmethod
    def to_otlp(cls, endpoint: str, *, service_name: str) -> Tracing:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        return cls(provider)

    def _parent(self, trace_id: str | None) -> Any:
        """A remote parent context carrying the job's trace id, so every attempt lands in the submitter's trace."""
        if not trace_id:
            return None
        trace = self._trace
        span_context = trace.SpanContext(
            trace_id=int(trace_id, 16),
            span_id=int(secrets.token_hex(8), 16),
            is_remote=True,
            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
        )
        return trace.set_span_in_context(trace.NonRecordingSpan(span_context))

    def record_job(
        self, *, job_id: str, trace_id: str | None, start_ns: int, end_ns: int, attributes: dict[str, Any]
    ) -> None:
        """A span for one processed claim, recorded after the fact from its measured start and end."""
        span = self._tracer.start_span(
            "job.process", context=self._parent(trace_id), start_time=start_ns, attributes={"llm.queue_id": job_id}
        )
        span.set_attributes(attributes)
        span.end(end_time=end_ns)

    @contextlib.contextmanager
    def request_span(self, method: str, trace_id: str | None) -> Iterator[Any]:
        """A span for one HTTP request; the caller names it after routing (`span.update_name`)."""
        with self._tracer.start_as_current_span(
            f"HTTP {method}", context=self._parent(trace_id), attributes={"http.request.method": method}
        ) as span:
            yield span

    @staticmethod
    def trace_id_of(span: Any) -> str:
        return f"{span.get_span_context().trace_id:032x}"

    def close(self) -> None:
        self._provider.shutdown()
