"""The result document (result.json): what ran, where, what it measured, and the verdict."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from llm_loadtest import SCHEMA_VERSION
from llm_loadtest.metrics.health import HealthReport
from llm_loadtest.metrics.histograms import summarize
from llm_loadtest.metrics.measurements import Measurements
from llm_loadtest.metrics.outcomes import Outcome
from llm_loadtest.metrics.thresholds import ThresholdResult


class ExitCode(IntEnum):
    PASS = 0
    THRESHOLD_FAILED = 1
    INCONCLUSIVE = 2
    HARNESS_ERROR = 3


VERDICTS = {
    ExitCode.PASS: "pass",
    ExitCode.THRESHOLD_FAILED: "fail",
    ExitCode.INCONCLUSIVE: "inconclusive",
    ExitCode.HARNESS_ERROR: "error",
}


class ResultFormatError(ValueError):
    """result.json is unreadable or from a newer schema than this toolkit knows."""


@dataclass(slots=True)
class RunResult:
    """One run. `measurements` hold the raw histograms; everything else is derived or descriptive."""

    run_id: str
    scenario: str
    load_model: str
    started_at: str
    elapsed_seconds: float
    measurements: Measurements
    phases: list[tuple[str, float, float]]  # (phase, start s, end s) as planned / as run
    planned_rates: dict[str, float]  # phase -> planned arrivals/s ("*" = all gated phases)
    settings: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    health: HealthReport | None = None
    thresholds: list[ThresholdResult] = field(default_factory=list)
    e2e: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    scalars: dict[str, dict[str, float]] = field(default_factory=dict)
    harness_errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        """Harness error beats inconclusive beats threshold failure: never a silent pass or fail."""
        if self.harness_errors:
            return ExitCode.HARNESS_ERROR
        if self.health is not None and not self.health.healthy:
            return ExitCode.INCONCLUSIVE
        if any(not result.passed for result in self.thresholds):
            return ExitCode.THRESHOLD_FAILED
        return ExitCode.PASS

    @property
    def verdict(self) -> str:
        return VERDICTS[self.exit_code]

    def phase_seconds(self, phase: str | None) -> float:
        return sum(
            end - start
            for name, start, end in self.phases
            if (phase is None and name != "warmup") or (phase is not None and name == phase)
        )

    # --- Observations protocol (thresholds) ---------------------------------------------------------

    def _where(self, tags: Mapping[str, str]) -> dict[str, str]:
        where = dict(tags)
        scenario = where.pop("scenario", None)
        if scenario is not None and scenario != self.scenario:
            # k6's scenario tag names a part of a run; our named parts are phases.
            where["phase"] = scenario
        return where

    def value(self, metric: str, tags: Mapping[str, str], aggregate: str) -> float | None:
        where = self._where(tags)
        if metric in self.measurements.metrics():
            where.setdefault("outcome", "ok")
            summary = summarize(self.measurements.select(metric, where))
            return None if summary.count == 0 else summary.value(aggregate)
        if metric in {"errors", "success", "throughput"}:
            return self._rate_value(metric, where, aggregate)
        return self.scalars.get(metric, {}).get(aggregate)

    def _rate_value(self, metric: str, where: Mapping[str, str], aggregate: str) -> float | None:
        store = self.measurements
        endpoint, phase = where.get("endpoint"), where.get("phase")
        scheduled = store.count(workload=endpoint, phase=phase)
        ok = store.count(workload=endpoint, phase=phase, outcome=Outcome.OK.value)
        kind = where.get("kind")
        failed = store.count(workload=endpoint, phase=phase, outcome=kind) if kind else scheduled - ok
        if scheduled == 0:
            return None
        if metric == "errors":
            return {"rate": failed / scheduled, "count": float(failed)}.get(aggregate)
        if metric == "success":
            return {"rate": ok / scheduled, "count": float(ok)}.get(aggregate)
        seconds = self.phase_seconds(phase)
        if seconds <= 0:
            return None
        return {"achieved": ok / seconds, "scheduled": scheduled / seconds}.get(aggregate)

    def reference(self, metric: str, tags: Mapping[str, str], name: str) -> float | None:
        if metric == "throughput" and name == "target":
            return self.planned_rates.get(self._where(tags).get("phase", "*"))
        return self.scalars.get(metric, {}).get(name)

    # --- JSON -----------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "llm_loadtest.run",
            "run_id": self.run_id,
            "scenario": self.scenario,
            "load_model": self.load_model,
            "started_at": self.started_at,
            "elapsed_seconds": self.elapsed_seconds,
            "verdict": self.verdict,
            "exit_code": int(self.exit_code),
            "phases": [list(row) for row in self.phases],
            "planned_rates": self.planned_rates,
            "settings": self.settings,
            "fingerprint": self.fingerprint,
            "health": None if self.health is None else self.health.as_dict(),
            "thresholds": [result.as_dict() for result in self.thresholds],
            "e2e": self.e2e,
            "resources": self.resources,
            "scalars": self.scalars,
            "harness_errors": self.harness_errors,
            # Decoded summaries next to the encoded histograms below, so no HDR decoder is needed to read them.
            "percentiles": self.measurements.percentiles(),
            "measurements": self.measurements.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunResult:
        version = data.get("schema_version")
        if not isinstance(version, int) or version > SCHEMA_VERSION or data.get("kind") != "llm_loadtest.run":
            raise ResultFormatError(f"not a result this toolkit can read (schema_version={version!r})")
        health = data.get("health")
        return cls(
            run_id=str(data["run_id"]),
            scenario=str(data["scenario"]),
            load_model=str(data["load_model"]),
            started_at=str(data["started_at"]),
            elapsed_seconds=float(data["elapsed_seconds"]),
            measurements=Measurements.from_json(data["measurements"]),
            phases=[(str(p), float(s), float(e)) for p, s, e in data["phases"]],
            planned_rates={str(k): float(v) for k, v in data["planned_rates"].items()},
            settings=dict(data.get("settings", {})),
            fingerprint=dict(data.get("fingerprint", {})),
            health=None if health is None else HealthReport.from_dict(health),
            thresholds=[
                ThresholdResult(str(t["threshold"]), bool(t["passed"]), tuple(t["details"]))
                for t in data.get("thresholds", [])
            ],
            e2e=dict(data.get("e2e", {})),
            resources=dict(data.get("resources", {})),
            scalars={str(k): {str(a): float(b) for a, b in v.items()} for k, v in data.get("scalars", {}).items()},
            harness_errors=list(data.get("harness_errors", [])),
        )


def save(result: RunResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_json(), indent=1, sort_keys=False), encoding="utf-8")


def load(path: Path) -> RunResult:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultFormatError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ResultFormatError(f"{path} does not hold a JSON object")
    return RunResult.from_json(data)


def merge(results: Sequence[RunResult]) -> Measurements:
    """Merge measurements of runs (e.g. several generator processes) into one set of histograms."""
    first = results[0].measurements
    total = Measurements(scenario=first.scenario, window_seconds=first.window_seconds)
    for result in results:
        total.merge(result.measurements)
    return total
