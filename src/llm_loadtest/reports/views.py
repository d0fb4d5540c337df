"""Report-ready rows derived from a RunResult; every renderer (console, HTML, Markdown, JUnit) uses these."""

from __future__ import annotations

from dataclasses import dataclass

from llm_loadtest.load.e2e import (
    ACCEPT_LATENCY,
    ACCEPT_TO_CALLBACK,
    ACCEPT_TO_RESULT_POLLED,
    PROCESSING,
    QUEUE_WAIT,
    REQUESTED_TO_COMPLETED,
)
from llm_loadtest.metrics.histograms import Summary, summarize
from llm_loadtest.metrics.measurements import DISPATCH_DELAY, SCHEDULED_LATENCY, SERVICE_LATENCY
from llm_loadtest.metrics.outcomes import ERROR_KINDS, Outcome
from llm_loadtest.metrics.result import RunResult

ALL = "all"
LATENCY_METRICS = (
    SCHEDULED_LATENCY,
    SERVICE_LATENCY,
    DISPATCH_DELAY,
    ACCEPT_LATENCY,
    QUEUE_WAIT,
    PROCESSING,
    ACCEPT_TO_CALLBACK,
    ACCEPT_TO_RESULT_POLLED,
    REQUESTED_TO_COMPLETED,
    "gateway_overhead",
)


@dataclass(frozen=True, slots=True)
class LatencyRow:
    metric: str
    phase: str  # "all" = every gated phase (warm-up excluded)
    endpoint: str
    outcome: str
    summary: Summary


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    phase: str
    endpoint: str
    scheduled: int
    ok: int
    errors: dict[str, int]

    @property
    def success_rate(self) -> float:
        return self.ok / self.scheduled if self.scheduled else 0.0


def _slices(result: RunResult) -> list[tuple[str, str]]:
    store = result.measurements
    endpoints = store.workloads()
    planned = [name for name, _, _ in result.phases]
    phases = [p for p in planned if p in store.phases()] + [p for p in store.phases() if p not in planned]
    gated = [phase for phase in phases if phase != "warmup"]
    # "all" (every gated phase) only adds information when there is more than one gated phase.
    slices = [(ALL, ALL)] if len(gated) > 1 else []
    slices += [(phase, ALL) for phase in phases]
    if len(endpoints) > 1:
        slices += [(ALL, endpoint) for endpoint in endpoints]
    return slices


def latency_rows(result: RunResult, *, outcomes: tuple[str, ...] = ("ok", "fail")) -> list[LatencyRow]:
    store = result.measurements
    present = store.metrics()
    rows: list[LatencyRow] = []
    for metric in (m for m in LATENCY_METRICS if m in present):
        for phase, endpoint in _slices(result):
            where = {key: value for key, value in (("phase", phase), ("endpoint", endpoint)) if value != ALL}
            for outcome in outcomes:
                summary = summarize(store.select(metric, {**where, "outcome": outcome}))
                if summary.count:
                    rows.append(LatencyRow(metric, phase, endpoint, outcome, summary))
    return rows


def outcome_rows(result: RunResult) -> list[OutcomeRow]:
    store = result.measurements
    rows: list[OutcomeRow] = []
    for phase, endpoint in _slices(result):
        p = None if phase == ALL else phase
        e = None if endpoint == ALL else endpoint
        scheduled = store.count(workload=e, phase=p)
        if not scheduled:
            continue
        errors = {kind.value: store.count(workload=e, phase=p, outcome=kind.value) for kind in ERROR_KINDS}
        ok = store.count(workload=e, phase=p, outcome=Outcome.OK.value)
        rows.append(OutcomeRow(phase, endpoint, scheduled, ok, {k: v for k, v in errors.items() if v}))
    return rows


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "insufficient samples"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def headline(result: RunResult) -> str:
    store = result.measurements
    scheduled = store.count()
    ok = store.count(outcome=Outcome.OK.value)
    rate = ok / scheduled if scheduled else 0.0
    return (
        f"{result.scenario} ({result.load_model} loop): verdict {result.verdict.upper()} "
        f"(exit {int(result.exit_code)}); "
        f"{ok}/{scheduled} OK ({rate:.2%}) in {result.elapsed_seconds:.1f} s"
    )
