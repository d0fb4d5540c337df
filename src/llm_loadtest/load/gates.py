"""Default gates (latency, completed throughput) so a saturated service fails, and the `completed` measurement."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from llm_loadtest.load.e2e import JobTracker
from llm_loadtest.load.payloads import COMPARISON_PATH, endpoint_of
from llm_loadtest.metrics.measurements import UNGATED_PHASES, Measurements
from llm_loadtest.metrics.thresholds import parse

COMPLETED = "completed"
# Between the two regimes measured on a shared 2-core host: a service that keeps up stays well below (embedded at
# 20/s: p99 13-15 ms) and one that queues crosses it within seconds, since an open loop's scheduled latency then
# grows without bound (embedded at 50/s: 0.29-1.6 s). Tighten or loosen with --slo-p99-ms or a --threshold.
DEFAULT_LATENCY_P99_MS = 100.0
# Jobs finished per second vs offered; 0.95 leaves room for Poisson arrivals and the span's end effects.
COMPLETION_GATE = f"{COMPLETED}: rate>=0.99, achieved>=0.95*target"


def latency_gate(p99_ms: float, *, phase: str = "steady") -> str:
    return f"scheduled_latency{{phase={phase}}}: p99<{p99_ms:g}ms"


def _key(source: str) -> str:
    return parse(source).metric


def combine(defaults: Iterable[str], given: Sequence[str]) -> tuple[str, ...]:
    """Given gates extend the defaults; a given gate on a metric replaces the defaults on that metric."""
    replaced = {_key(source) for source in given}
    kept = [source for source in defaults if _key(source) not in replaced]
    return (*kept, *given)


def with_defaults(defaults: Sequence[str], given: Sequence[str], *, tracked: bool) -> tuple[str, ...]:
    """The scenario's default gates (the completion gate only when answers are tracked), extended by `given`."""
    chosen = [source for source in defaults if tracked or source != COMPLETION_GATE]
    return combine(chosen, given)


@dataclass(frozen=True, slots=True)
class Completion:
    """Async jobs of the gated phases: how many were offered, accepted and finished successfully, and how fast.

    `achieved` is (completed - 1) / span of completion times, so a constant queueing delay does not lower it but a
    service that falls behind (completions spread over longer than the arrivals) does. Completion times are the
    service's own `completed_at` when every job carries one (free of polling resolution), else when we learnt of it.
    """

    offered: int
    accepted: int
    completed: int
    span_seconds: float
    achieved: float | None
    target: float | None
    clock: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def scalars(self) -> dict[str, float]:
        values = {"count": float(self.completed), "offered": float(self.offered), "accepted": float(self.accepted)}
        if self.offered:
            values["rate"] = self.completed / self.offered
        if self.achieved is not None:
            values["achieved"] = self.achieved
        if self.target is not None:
            values["target"] = self.target
        return values


def async_workloads(mix: Iterable[str]) -> set[str]:
    return {workload for workload in mix if endpoint_of(workload) == COMPARISON_PATH}


def completion(
    tracker: JobTracker, measurements: Measurements, *, workloads: set[str], gated_seconds: float
) -> Completion | None:
    """None when the mix has no async jobs (chat only, say); `target` is the offered job rate."""
    if not workloads:
        return None
    gated = [job for job in tracker.jobs.values() if job.phase not in UNGATED_PHASES]
    offered = sum(measurements.count(workload=workload) for workload in workloads)
    target = offered / gated_seconds if gated_seconds > 0 else None
    done = [job for job in gated if job.succeeded]
    if done and all(job.completed_at_s is not None for job in done):
        times = [job.completed_at_s for job in done if job.completed_at_s is not None]
        clock = "service completed_at"
    else:
        times = [job.answered_ns / 1e9 for job in done if job.answered_ns is not None]
        clock = "toolkit receipt"
    span = max(times) - min(times) if len(times) >= 2 else 0.0
    achieved = (len(times) - 1) / span if span > 0 else None
    return Completion(offered, len(gated), len(done), round(span, 3), achieved, target, clock)
