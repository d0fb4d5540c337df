"""End-to-end tracking of async jobs: accepted queue_ids matched to their callbacks (or polled results)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from llm_loadtest.metrics.measurements import Measurements

ACCEPT_LATENCY = "accept_latency"
QUEUE_WAIT = "queue_wait"
PROCESSING = "processing"
ACCEPT_TO_CALLBACK = "accept_to_callback"
ACCEPT_TO_RESULT_POLLED = "accept_to_result_polled"
# completed_at - requested_at from the payload: the service's own clock, free of polling resolution.
REQUESTED_TO_COMPLETED = "requested_to_completed"
NS_PER_MS = 1_000_000


@dataclass(slots=True)
class Job:
    queue_id: str
    workload: str
    phase: str
    accepted_ns: int
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    # When the job finished: the service's own `completed_at` (epoch s) if it sent one, and when its first callback
    # (or polled result) arrived.
    completed_at_s: float | None = None
    answered_ns: int | None = None
    succeeded: bool = False


def token_total(payload: Mapping[str, Any]) -> int | None:
    usage = payload.get("token_usage")
    if not isinstance(usage, Mapping):
        return None
    total = usage.get("total_tokens")
    return int(total) if isinstance(total, int | float) else None


def _epoch_seconds(stamp: object) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _elapsed_ns(start: object, end: object) -> int | None:
    if not isinstance(start, str) or not isinstance(end, str):
        return None
    try:
        delta = datetime.fromisoformat(end.replace("Z", "+00:00")) - datetime.fromisoformat(
            start.replace("Z", "+00:00")
        )
    except ValueError:
        return None
    return max(0, round(delta.total_seconds() * 1e9))


class JobTracker:
    """Remembers every accepted job of this run and records the latency split when its answer arrives."""

    def __init__(self, measurements: Measurements, *, run_id: str) -> None:
        self.measurements = measurements
        self.run_id = run_id
        self.jobs: dict[str, Job] = {}
        self.seen_event_ids: Counter[str] = Counter()
        self.foreign = 0  # callbacks on the topic that belong to another run
        self.answered = 0

    @property
    def outstanding(self) -> int:
        return len(self.jobs) - self.answered

    def accepted(self, queue_id: str, *, workload: str, phase: str, intended_ns: int, done_ns: int) -> None:
        self.jobs[queue_id] = Job(queue_id, workload, phase, done_ns)
        # Accepted means answered 202: an ok outcome, so SLO queries (which default to outcome=ok) find it.
        self.measurements.record(ACCEPT_LATENCY, done_ns - intended_ns, endpoint=workload, phase=phase, outcome="ok")

    def pending(self) -> list[str]:
        return [queue_id for queue_id, job in self.jobs.items() if not job.callbacks]

    def _record_split(self, job: Job, data: Mapping[str, Any], metric: str, received_ns: int) -> None:
        job.succeeded = not data.get("error_detail")
        job.answered_ns = received_ns
        job.completed_at_s = _epoch_seconds(data.get("completed_at"))
        tags = {"endpoint": job.workload, "phase": job.phase, "outcome": "ok" if job.succeeded else "fail"}
        self.measurements.record(metric, received_ns - job.accepted_ns, **tags)
        for name, key in ((QUEUE_WAIT, "queue_wait_ms"), (PROCESSING, "response_time_ms")):
            value = data.get(key)
            if isinstance(value, int | float):
                self.measurements.record(name, round(value * NS_PER_MS), **tags)
        elapsed_ns = _elapsed_ns(data.get("requested_at"), data.get("completed_at"))
        if elapsed_ns is not None:
            self.measurements.record(REQUESTED_TO_COMPLETED, elapsed_ns, **tags)

    def callback(self, envelope: Mapping[str, Any], received_ns: int) -> None:
        """A callback consumed from Kafka; duplicates (same event_id) are counted, not double-recorded."""
        data = envelope.get("data")
        if not isinstance(data, Mapping):
            return
        event_id = str(envelope.get("event_id", ""))
        job = self.jobs.get(str(data.get("request_id", "")))
        metadata = data.get("request_metadata")
        if job is None:
            mine = isinstance(metadata, Mapping) and metadata.get("loadtest_run") == self.run_id
            # Ours but not (yet) recorded as accepted is rare (callback before the 202 was read); count it as foreign.
            self.foreign += 0 if mine else 1
            return
        self.seen_event_ids[event_id] += 1
        if self.seen_event_ids[event_id] > 1:
            return
        job.callbacks.append(dict(data))
        job.event_ids.append(event_id)
        if len(job.callbacks) == 1:
            self.answered += 1
            job.answered_ns = received_ns
            self._record_split(job, data, ACCEPT_TO_CALLBACK, received_ns)

    def polled(self, queue_id: str, result: Mapping[str, Any], received_ns: int, *, status: str = "completed") -> None:
        """Fallback without Kafka: the terminal result read by polling stands in for the callback."""
        job = self.jobs.get(queue_id)
        if job is None or job.callbacks:
            return
        if status != "completed" and not result.get("error_detail"):
            result = {**result, "error_detail": status}  # failed/expired/cancelled: not a completion
        job.callbacks.append(dict(result))
        self.answered += 1
        job.answered_ns = received_ns
        self._record_split(job, result, ACCEPT_TO_RESULT_POLLED, received_ns)

    def completed_by(self, deadline_ns: int) -> int:
        """Jobs accepted outside the warm-up whose answer had arrived by `deadline_ns`."""
        return sum(
            1
            for job in self.jobs.values()
            if job.phase != "warmup" and job.answered_ns is not None and job.answered_ns <= deadline_ns
        )

    def duplicate_events(self) -> int:
        return sum(count - 1 for count in self.seen_event_ids.values() if count > 1)
