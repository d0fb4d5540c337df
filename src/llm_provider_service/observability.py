"""Metrics (on an injected Prometheus registry) and JSON logging, configured only at the entrypoint."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from llm_provider_service.domain.catalog import ModelCatalog
from llm_provider_service.domain.models import TokenUsage
from llm_provider_service.domain.usage import UsageRecord

LATENCY_BUCKETS_SECONDS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)
CIRCUIT_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}


class Metrics:
    """Every metric the service exports. Labels are bounded: provider, model, outcome, endpoint — never ids."""

    def __init__(self, registry: CollectorRegistry, *, catalog: ModelCatalog) -> None:
        self.registry = registry
        self._catalog = catalog
        # `.labels()` takes a lock and builds a key on every call; the children of the per-call metrics are
        # cached per label set (bounded: providers x manifest models or "other" x outcomes).
        self._call_children: dict[tuple[str, str, str], tuple[Counter, Counter, Counter, Counter]] = {}
        self.http_requests = Counter(
            "llm_provider_http_requests", "HTTP requests served.", ["endpoint", "method", "status"], registry=registry
        )
        self.http_latency_seconds = Histogram(
            "llm_provider_http_request_duration_seconds",
            "HTTP request latency.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=registry,
        )
        self.jobs_submitted = Counter("llm_provider_jobs_submitted", "Jobs accepted.", ["provider"], registry=registry)
        self.jobs_finished = Counter(
            "llm_provider_jobs_finished",
            "Jobs that reached a terminal state.",
            ["provider", "model", "outcome"],
            registry=registry,
        )
        self.job_retries = Counter(
            "llm_provider_job_retries",
            "Attempts rescheduled after a retryable error.",
            ["provider", "error_kind"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "llm_provider_queue_depth", "Jobs in the queue by state.", ["state"], registry=registry
        )
        self.queue_wait_seconds = Histogram(
            "llm_provider_queue_wait_seconds",
            "Accept to first attempt.",
            ["provider"],
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=registry,
        )
        self.budget_wait_seconds = Histogram(
            "llm_provider_budget_wait_seconds",
            "Time a job waited for rate budget before its call (part of its queue wait).",
            ["provider"],
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=registry,
        )
        self.budget_deferrals = Counter(
            "llm_provider_budget_deferrals",
            "Jobs sent back to the queue because their rate budget had no room (no attempt spent).",
            ["provider"],
            registry=registry,
        )
        self.vendor_batches = Counter(
            "llm_provider_vendor_batches",
            "Vendor batches (batch mode) by what happened: submitted, then completed, expired, cancelled, failed "
            "or submit_failed.",
            ["provider", "state"],
            registry=registry,
        )
        self.batched_jobs = Counter(
            "llm_provider_batched_jobs",
            "Batch-mode jobs collected into a vendor batch.",
            ["provider"],
            registry=registry,
        )
        self.processing_seconds = Histogram(
            "llm_provider_processing_seconds",
            "Provider call time of successful attempts.",
            ["provider", "model"],
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=registry,
        )
        self.end_to_end_seconds = Histogram(
            "llm_provider_end_to_end_seconds",
            "Accept to terminal state.",
            ["provider"],
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=registry,
        )
        self.provider_calls = Counter(
            "llm_provider_provider_calls",
            "Provider calls by outcome.",
            ["provider", "model", "outcome"],
            registry=registry,
        )
        self.tokens = Counter(
            "llm_provider_tokens", "Tokens used.", ["provider", "model", "direction"], registry=registry
        )
        self.cost_usd = Counter(
            "llm_provider_cost_usd", "Estimated cost in USD.", ["provider", "model"], registry=registry
        )
        self.circuit_state = Gauge(
            "llm_provider_circuit_state",
            "Breaker state: 0 closed, 1 half-open, 2 open.",
            ["provider"],
            registry=registry,
        )
        self.outbox_backlog = Gauge("llm_provider_outbox_backlog", "Unpublished outbox events.", registry=registry)
        self.events_published = Counter(
            "llm_provider_events_published", "Events published from the outbox.", registry=registry
        )
        self.outbox_relay_failures = Counter(
            "llm_provider_outbox_relay_failures",
            "Outbox relay attempts that failed, by cause (broker: publishing; store: reading the outbox).",
            ["cause"],
            registry=registry,
        )
        self.outbox_relay_failing_seconds = Gauge(
            "llm_provider_outbox_relay_failing_seconds",
            "Seconds the outbox relay had been failing at its last attempt; 0 once it publishes (or reads) again.",
            registry=registry,
        )

    def outbox_relay_failed(self, cause: str, failing_seconds: float) -> None:
        self.outbox_relay_failures.labels(cause=cause).inc()
        self.outbox_relay_failing_seconds.set(failing_seconds)

    def outbox_relay_recovered(self, failed_seconds: float) -> None:
        self.outbox_relay_failing_seconds.set(0.0)

    def model_label(self, provider: str, model: str) -> str:
        return self._catalog.metric_label(provider, model)

    def record_usage(self, record: UsageRecord) -> None:
        """A gateway call, from its usage record."""
        usage = TokenUsage(record.prompt_tokens, record.completion_tokens)
        self.record_call(record.provider, record.model, record.outcome, usage=usage, cost_usd=record.cost_usd)

    def record_call(
        self, provider: str, model: str, outcome: str, *, usage: TokenUsage | None = None, cost_usd: float = 0.0
    ) -> None:
        """One provider call, from the job path or the gateway alike: its outcome, tokens and cost."""
        key = (provider, self.model_label(provider, model), outcome)
        children = self._call_children.get(key)
        if children is None:
            provider, label, _ = key
            children = self._call_children[key] = (
                self.provider_calls.labels(*key),
                self.tokens.labels(provider, label, "prompt"),
                self.tokens.labels(provider, label, "completion"),
                self.cost_usd.labels(provider, label),
            )
        calls, prompt_tokens, completion_tokens, cost = children
        calls.inc()
        if usage is not None and (usage.prompt_tokens or usage.completion_tokens):
            prompt_tokens.inc(usage.prompt_tokens)
            completion_tokens.inc(usage.completion_tokens)
            cost.inc(cost_usd)

    def circuit_changed(self, provider: str, state: str) -> None:
        self.circuit_state.labels(provider).set(CIRCUIT_STATE_VALUES.get(state, -1))


def configure_logging(level: str = "INFO", *, json_output: bool = True) -> None:
    """JSON logs through structlog for both structlog and stdlib loggers; call once, from the CLI."""
    shared: list[Callable[..., object]] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,  # type: ignore[arg-type]
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Access logs would repeat our own request metrics and could carry query strings.
    logging.getLogger("uvicorn.access").disabled = True
    # Alembic announces every migration check at INFO each time the embedded SQLite store opens.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],  # type: ignore[list-item]
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
