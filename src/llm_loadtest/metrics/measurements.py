"""Everything a run measured: tagged HDR histograms, outcome counts and per-window stats, JSON round-trippable."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from llm_loadtest.metrics.histograms import decode, encode, merged, new_histogram, record_ns, summarize
from llm_loadtest.metrics.outcomes import Outcome

Tags = tuple[tuple[str, str], ...]

SCHEDULED_LATENCY = "scheduled_latency"
SERVICE_LATENCY = "service_latency"
DISPATCH_DELAY = "dispatch_delay"
REQUEST_METRICS = (SCHEDULED_LATENCY, SERVICE_LATENCY, DISPATCH_DELAY)
# Phases reported but never gated unless a threshold names them explicitly.
UNGATED_PHASES = frozenset({"warmup"})


def tags_of(**values: str) -> Tags:
    return tuple(sorted(values.items()))


def matches(tags: Tags, wanted: Mapping[str, str]) -> bool:
    present = dict(tags)
    return all(present.get(key) == value for key, value in wanted.items())


@dataclass(slots=True)
class Window:
    """One interval of the run (keyed by intended send time): outcome counts and a latency histogram."""

    index: int
    phase: str
    counts: Counter[str] = field(default_factory=Counter)
    latency: HdrHistogram = field(default_factory=new_histogram)

    @property
    def scheduled(self) -> int:
        return sum(self.counts.values())


class Measurements:
    """Tagged histograms + counts + windows; both a live recorder's store and a loaded result's view."""

    def __init__(self, *, scenario: str, window_seconds: float) -> None:
        self.scenario = scenario
        self.window_seconds = window_seconds
        self._histograms: dict[tuple[str, Tags], HdrHistogram] = {}
        self.counts: Counter[tuple[str, str, str]] = Counter()  # (workload, phase, outcome)
        self.windows: dict[int, Window] = {}
        self.notes: Counter[str] = Counter()  # e.g. dropped_late, dropped_in_flight_limit
        # Generator event-loop lag per window (max, ms): one number per window, not a histogram each.
        self.loop_lag_max_ms: dict[int, float] = {}

    def histogram(self, metric: str, tags: Tags) -> HdrHistogram:
        key = (metric, tags)
        found = self._histograms.get(key)
        if found is None:
            found = self._histograms[key] = new_histogram()
        return found

    def record(self, metric: str, nanoseconds: int, **tags: str) -> None:
        record_ns(self.histogram(metric, tags_of(**tags)), nanoseconds)

    def window(self, index: int, phase: str) -> Window:
        found = self.windows.get(index)
        if found is None:
            found = self.windows[index] = Window(index, phase)
        return found

    def entries(self) -> Iterator[tuple[str, Tags, HdrHistogram]]:
        for (metric, tags), histogram in sorted(self._histograms.items(), key=lambda item: item[0]):
            yield metric, tags, histogram

    def metrics(self) -> set[str]:
        return {metric for metric, _ in self._histograms}

    def select(self, metric: str, wanted: Mapping[str, str], *, include_ungated: bool = False) -> HdrHistogram:
        """Merge every histogram of `metric` whose tags match; warm-up stays out unless a phase is named."""
        return merged(
            histogram
            for (name, tags), histogram in self._histograms.items()
            if name == metric
            and matches(tags, wanted)
            and (include_ungated or "phase" in wanted or dict(tags).get("phase") not in UNGATED_PHASES)
        )

    def count(self, *, workload: str | None = None, phase: str | None = None, outcome: str | None = None) -> int:
        ungated_ok = phase is not None
        return sum(
            number
            for (w, p, o), number in self.counts.items()
            if (workload is None or w == workload)
            and (phase is None or p == phase)
            and (outcome is None or o == outcome)
            and (ungated_ok or p not in UNGATED_PHASES)
        )

    def phases(self) -> list[str]:
        seen: dict[str, None] = {}
        for _, phase, _ in self.counts:
            seen.setdefault(phase, None)
        return list(seen)

    def workloads(self) -> list[str]:
        return sorted({workload for workload, _, _ in self.counts})

    def success_rate(self, *, workload: str | None = None, phase: str | None = None) -> float:
        """OK / scheduled: dropped requests count as scheduled, so a struggling generator cannot look good."""
        scheduled = self.count(workload=workload, phase=phase)
        ok = self.count(workload=workload, phase=phase, outcome=Outcome.OK.value)
        return ok / scheduled if scheduled else 0.0

    def merge(self, other: Measurements) -> None:
        """Add another run's (or process's) measurements into this one."""
        for metric, tags, histogram in other.entries():
            self.histogram(metric, tags).add(histogram)
        self.counts.update(other.counts)
        self.notes.update(other.notes)
        for index, lag in other.loop_lag_max_ms.items():
            self.loop_lag_max_ms[index] = max(lag, self.loop_lag_max_ms.get(index, 0.0))
        for index, window in other.windows.items():
            mine = self.window(index, window.phase)
            mine.counts.update(window.counts)
            mine.latency.add(window.latency)

    def percentiles(self) -> dict[str, dict[str, dict[str, Any]]]:
        """metric -> phase -> outcome -> summary (ms), merged over endpoints: the numbers `jq` users want."""
        table: dict[str, dict[str, dict[str, Any]]] = {}
        keys = sorted(
            {
                (metric, dict(tags).get("phase", "*"), dict(tags).get("outcome", "*"))
                for metric, tags, _ in self.entries()
            }
        )
        for metric, phase, outcome in keys:
            wanted = {key: value for key, value in (("phase", phase), ("outcome", outcome)) if value != "*"}
            summary = summarize(self.select(metric, wanted, include_ungated=True)).as_dict()
            table.setdefault(metric, {}).setdefault(phase, {})[outcome] = summary
        return table

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "window_seconds": self.window_seconds,
            # The computed percentiles ride along with each encoded histogram, so `jq` needs no HDR decoder.
            "histograms": [
                {
                    "metric": metric,
                    "tags": dict(tags),
                    "summary": summarize(histogram).as_dict(),
                    "encoded": encode(histogram),
                }
                for metric, tags, histogram in self.entries()
            ],
            "counts": [
                {"workload": w, "phase": p, "outcome": o, "count": n} for (w, p, o), n in sorted(self.counts.items())
            ],
            "notes": dict(self.notes),
            "loop_lag_max_ms": {str(index): lag for index, lag in sorted(self.loop_lag_max_ms.items())},
            "windows": [
                {"index": w.index, "phase": w.phase, "counts": dict(w.counts), "latency": encode(w.latency)}
                for w in sorted(self.windows.values(), key=lambda window: window.index)
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Measurements:
        loaded = cls(scenario=str(data["scenario"]), window_seconds=float(data["window_seconds"]))
        for entry in data["histograms"]:
            key = (str(entry["metric"]), tags_of(**{str(k): str(v) for k, v in entry["tags"].items()}))
            loaded._histograms[key] = decode(str(entry["encoded"]))
        for row in data["counts"]:
            loaded.counts[(str(row["workload"]), str(row["phase"]), str(row["outcome"]))] += int(row["count"])
        loaded.notes.update({str(k): int(v) for k, v in data.get("notes", {}).items()})
        loaded.loop_lag_max_ms = {int(k): float(v) for k, v in data.get("loop_lag_max_ms", {}).items()}
        for row in data["windows"]:
            window = loaded.window(int(row["index"]), str(row["phase"]))
            window.counts.update({str(k): int(v) for k, v in row["counts"].items()})
            window.latency = decode(str(row["latency"]))
        return loaded
