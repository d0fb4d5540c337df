"""Turns each request attempt into histogram samples, outcome counts and per-window stats."""

from __future__ import annotations

from llm_loadtest.histograms import record_ns
from llm_loadtest.measurements import DISPATCH_DELAY, SCHEDULED_LATENCY, SERVICE_LATENCY, Measurements
from llm_loadtest.outcomes import Outcome
from llm_loadtest.runner import Attempt
from llm_loadtest.schedule import NS_PER_SECOND


class RequestRecorder:
    """The runners' sink: success and failure go to separate histograms, tagged endpoint/phase/outcome."""

    def __init__(self, measurements: Measurements, *, open_loop: bool = True) -> None:
        self.measurements = measurements
        # In a closed loop intended == sent by construction: a "scheduled" latency would only mislead.
        self.open_loop = open_loop
        self._window_ns = max(1, round(measurements.window_seconds * NS_PER_SECOND))
        self.completed = 0

    def __call__(self, attempt: Attempt) -> None:
        store = self.measurements
        arrival = attempt.arrival
        outcome = attempt.response.outcome
        group = "ok" if outcome is Outcome.OK else "fail"
        tags = {"endpoint": arrival.workload, "phase": arrival.phase, "outcome": group}
        store.counts[(arrival.workload, arrival.phase, outcome.value)] += 1
        window = store.window(arrival.offset_ns // self._window_ns, arrival.phase)
        window.counts[outcome.value] += 1
        self.completed += 1
        if attempt.sent_ns is None:
            store.notes[f"dropped_{attempt.response.facts.get('reason', 'unknown')}"] += 1
            # A dropped request never started: its dispatch delay is how late the generator was.
            store.record(DISPATCH_DELAY, attempt.done_ns - attempt.intended_ns, **tags)
            return
        scheduled_ns = attempt.done_ns - attempt.intended_ns
        if self.open_loop:
            store.record(SCHEDULED_LATENCY, scheduled_ns, **tags)
        store.record(SERVICE_LATENCY, attempt.done_ns - attempt.sent_ns, **tags)
        store.record(DISPATCH_DELAY, attempt.sent_ns - attempt.intended_ns, **tags)
        record_ns(window.latency, scheduled_ns)
