"""Turns each request attempt into histogram samples, outcome counts and per-window stats."""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

from llm_loadtest.load.runner import Attempt
from llm_loadtest.load.schedule import NS_PER_SECOND
from llm_loadtest.metrics.histograms import HIGHEST_MICROSECONDS, LOWEST_MICROSECONDS
from llm_loadtest.metrics.measurements import DISPATCH_DELAY, SCHEDULED_LATENCY, SERVICE_LATENCY, Measurements, tags_of
from llm_loadtest.metrics.outcomes import Outcome

_Trio = tuple[HdrHistogram | None, HdrHistogram, HdrHistogram]


def _us(nanoseconds: int) -> int:
    return min(max(nanoseconds // 1000, LOWEST_MICROSECONDS), HIGHEST_MICROSECONDS)


class RequestRecorder:
    """The runners' sink: success and failure go to separate histograms, tagged endpoint/phase/outcome.

    This runs once per request on the generator's event loop, so histogram lookups are cached per
    (endpoint, phase, ok/fail) instead of building sorted tag tuples every time.
    """

    def __init__(self, measurements: Measurements, *, open_loop: bool = True) -> None:
        self.measurements = measurements
        # In a closed loop intended == sent by construction: a "scheduled" latency would only mislead.
        self.open_loop = open_loop
        self._window_ns = max(1, round(measurements.window_seconds * NS_PER_SECOND))
        self._histograms: dict[tuple[str, str, str], _Trio] = {}
        self.completed = 0

    def _trio(self, endpoint: str, phase: str, group: str) -> _Trio:
        key = (endpoint, phase, group)
        found = self._histograms.get(key)
        if found is None:
            store = self.measurements
            tags = tags_of(endpoint=endpoint, phase=phase, outcome=group)
            scheduled = store.histogram(SCHEDULED_LATENCY, tags) if self.open_loop else None
            found = (scheduled, store.histogram(SERVICE_LATENCY, tags), store.histogram(DISPATCH_DELAY, tags))
            self._histograms[key] = found
        return found

    def __call__(self, attempt: Attempt) -> None:
        store = self.measurements
        arrival = attempt.arrival
        outcome = attempt.response.outcome
        scheduled, service, dispatch = self._trio(
            arrival.workload, arrival.phase, "ok" if outcome is Outcome.OK else "fail"
        )
        store.counts[(arrival.workload, arrival.phase, outcome.value)] += 1
        window = store.window(arrival.offset_ns // self._window_ns, arrival.phase)
        window.counts[outcome.value] += 1
        self.completed += 1
        if attempt.sent_ns is None:
            store.notes[f"dropped_{attempt.response.facts.get('reason', 'unknown')}"] += 1
            # A dropped request never started: its dispatch delay is how late the generator was.
            dispatch.record_value(_us(attempt.done_ns - attempt.intended_ns))
            return
        scheduled_us = _us(attempt.done_ns - attempt.intended_ns)
        if scheduled is not None:
            scheduled.record_value(scheduled_us)
        service.record_value(_us(attempt.done_ns - attempt.sent_ns))
        dispatch.record_value(_us(attempt.sent_ns - attempt.intended_ns))
        window.latency.record_value(scheduled_us)
