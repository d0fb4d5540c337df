"""Open-loop arrival schedules, computed up front from a seed so that every run can be reproduced."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

NS_PER_SECOND = 1_000_000_000
# A schedule is materialised in memory; this bound keeps a typo in --rate from eating the machine.
MAX_ARRIVALS = 5_000_000


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the schedule whose arrival rate moves linearly from `start_rate` to `end_rate` (per second)."""

    phase: str
    duration_seconds: float
    start_rate: float
    end_rate: float
    poisson: bool = False


@dataclass(frozen=True, slots=True)
class Arrival:
    """One planned request: when (offset from the run start), in which phase, against which workload."""

    offset_ns: int
    phase: str
    workload: str


def constant(rate: float, duration_seconds: float, *, phase: str = "steady") -> list[Segment]:
    return [Segment(phase, duration_seconds, rate, rate)]


def poisson(rate: float, duration_seconds: float, *, phase: str = "steady") -> list[Segment]:
    return [Segment(phase, duration_seconds, rate, rate, poisson=True)]


def ramp(start_rate: float, end_rate: float, duration_seconds: float, *, phase: str = "ramp") -> list[Segment]:
    return [Segment(phase, duration_seconds, start_rate, end_rate)]


def step(rates: Sequence[float], step_seconds: float, *, phase_prefix: str = "step") -> list[Segment]:
    return [Segment(f"{phase_prefix}-{index}", step_seconds, rate, rate) for index, rate in enumerate(rates)]


def spike(
    base_rate: float,
    spike_rate: float,
    *,
    before_seconds: float,
    spike_seconds: float,
    after_seconds: float,
    poisson_arrivals: bool = False,
) -> list[Segment]:
    """Steady load, a burst, then the same steady load again while the service recovers."""
    return [
        Segment("steady", before_seconds, base_rate, base_rate, poisson_arrivals),
        Segment("spike", spike_seconds, spike_rate, spike_rate, poisson_arrivals),
        Segment("recovery", after_seconds, base_rate, base_rate, poisson_arrivals),
    ]


def with_warmup(segments: Sequence[Segment], warmup_seconds: float) -> list[Segment]:
    """Prefix a warm-up at the first segment's rate; warm-up is reported but excluded from SLOs."""
    if warmup_seconds <= 0 or not segments:
        return list(segments)
    first = segments[0]
    return [Segment("warmup", warmup_seconds, first.start_rate, first.start_rate, first.poisson), *segments]


def _time_of_count(count: float, start_rate: float, slope: float) -> float:
    """Invert N(t) = a·t + c·t²/2; this form stays stable when the slope c is zero or tiny."""
    if count <= 0:
        return 0.0
    root = math.sqrt(max(0.0, start_rate * start_rate + 2.0 * slope * count))
    denominator = start_rate + root
    return math.inf if denominator <= 0 else 2.0 * count / denominator


def _segment_times(segment: Segment, rng: random.Random) -> Iterable[float]:
    if segment.duration_seconds <= 0:
        return
    slope = (segment.end_rate - segment.start_rate) / segment.duration_seconds
    # Deterministic arrivals sit where the expected count reaches 0, 1, 2, ...; Poisson arrivals are
    # a unit-rate Poisson process pushed through the inverse of the cumulative rate (time change).
    count = 0.0
    for index in range(MAX_ARRIVALS):
        if segment.poisson:
            count += rng.expovariate(1.0)
        else:
            count = float(index)
        seconds = _time_of_count(count, segment.start_rate, slope)
        if seconds >= segment.duration_seconds:
            return
        yield seconds


def _validate_mix(mix: Mapping[str, float]) -> None:
    if not mix:
        raise ValueError("the workload mix is empty")
    if any(weight < 0 for weight in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError(f"workload weights must be non-negative and not all zero: {dict(mix)}")


def build(segments: Sequence[Segment], *, seed: int, mix: Mapping[str, float]) -> list[Arrival]:
    """All arrivals of a run, in order; the same seed, segments and mix always give the same list."""
    _validate_mix(mix)
    rng = random.Random(seed)  # noqa: S311 - reproducible load shapes, not cryptography
    names = sorted(mix)
    weights = [mix[name] for name in names]
    arrivals: list[Arrival] = []
    origin_seconds = 0.0
    for segment in segments:
        for seconds in _segment_times(segment, rng):
            workload = names[0] if len(names) == 1 else rng.choices(names, weights)[0]
            arrivals.append(Arrival(round((origin_seconds + seconds) * NS_PER_SECOND), segment.phase, workload))
            if len(arrivals) >= MAX_ARRIVALS:
                raise ValueError(f"schedule exceeds {MAX_ARRIVALS} arrivals; lower the rate or the duration")
        origin_seconds += segment.duration_seconds
    return arrivals


def total_seconds(segments: Sequence[Segment]) -> float:
    return sum(segment.duration_seconds for segment in segments)


def phase_bounds(segments: Sequence[Segment]) -> list[tuple[str, float, float]]:
    """(phase, start, end) in seconds from the run start, merged for consecutive segments of one phase."""
    bounds: list[tuple[str, float, float]] = []
    origin = 0.0
    for segment in segments:
        end = origin + segment.duration_seconds
        if bounds and bounds[-1][0] == segment.phase:
            bounds[-1] = (segment.phase, bounds[-1][1], end)
        else:
            bounds.append((segment.phase, origin, end))
        origin = end
    return bounds


def planned_rate(segments: Sequence[Segment], *, exclude: Iterable[str] = ("warmup",)) -> float:
    """Mean planned arrival rate over the phases that count, the `target` of throughput thresholds."""
    excluded = set(exclude)
    counted = [segment for segment in segments if segment.phase not in excluded]
    seconds = sum(segment.duration_seconds for segment in counted)
    expected = sum((s.start_rate + s.end_rate) / 2 * s.duration_seconds for s in counted)
    return expected / seconds if seconds > 0 else 0.0
