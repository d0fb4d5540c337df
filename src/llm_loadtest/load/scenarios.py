"""Built-in scenarios (load, stress, endurance, spike, sweep) and YAML/TOML scenario files."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm_loadtest.load.gates import COMPLETION_GATE, DEFAULT_LATENCY_P99_MS, async_workloads, latency_gate
from llm_loadtest.load.runner import Stage
from llm_loadtest.load.schedule import Segment, constant, poisson, spike, with_warmup

LoadModel = Literal["open", "closed"]
BUILT_IN = ("load", "stress", "endurance", "spike", "sweep")


class ScenarioError(ValueError):
    """An unknown scenario name or an invalid scenario file."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """What to run. Open loop uses `segments` (latency SLOs); closed loop uses `stages` (capacity only)."""

    name: str
    model: LoadModel
    mix: Mapping[str, float]
    segments: tuple[Segment, ...] = ()
    stages: tuple[Stage, ...] = ()
    thresholds: tuple[str, ...] = ()
    window_seconds: float = 1.0
    sample_resources: bool = False
    description: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Knobs:
    """Command-line knobs the built-in scenarios are shaped by."""

    rate: float = 100.0
    duration_seconds: float = 30.0
    concurrency: int = 32
    warmup_seconds: float = 5.0
    mix: Mapping[str, float] | None = None
    latency_p99_ms: float = DEFAULT_LATENCY_P99_MS


def parse_mix(text: str | None) -> dict[str, float] | None:
    """`quick=6,detailed=2,batch=2` -> weights; None when not given."""
    if not text:
        return None
    mix: dict[str, float] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, _, weight = part.partition("=")
        try:
            mix[name.strip()] = float(weight) if weight else 1.0
        except ValueError as exc:
            raise ScenarioError(f"bad mix entry {part!r}; expected name=weight") from exc
    return mix


def _window(duration_seconds: float) -> float:
    # 1 s windows for short runs, up to 10 s for long soaks, so charts stay readable.
    return float(min(10, max(1, round(duration_seconds / 120))))


def built_in(name: str, knobs: Knobs) -> Scenario:
    rate, seconds, mix = knobs.rate, knobs.duration_seconds, dict(knobs.mix or {"comparison": 1.0})
    # Honest defaults: accepted is not done. A saturated service keeps answering 202 while its queue grows, so the
    # default gates also hold the steady accept latency and the rate of jobs *finished* against the offered rate
    # (the engine drops the completion gate when nothing tracks the answers).
    ok_rate: tuple[str, ...] = (
        "errors: rate<0.01",
        "throughput: achieved>=0.95*target",
        latency_gate(knobs.latency_p99_ms),
    )
    if async_workloads(mix):
        ok_rate += (COMPLETION_GATE,)
    if name == "load":
        segments = with_warmup(constant(rate, seconds), knobs.warmup_seconds)
        return Scenario(
            name,
            "open",
            mix,
            tuple(segments),
            thresholds=ok_rate,
            window_seconds=_window(seconds),
        )
    if name == "endurance":
        mix = dict(knobs.mix or {"quick": 6.0, "detailed": 2.0, "batch": 2.0})
        segments = with_warmup(poisson(rate, seconds), knobs.warmup_seconds)
        return Scenario(
            name,
            "open",
            mix,
            tuple(segments),
            thresholds=ok_rate,
            window_seconds=_window(seconds),
            sample_resources=True,
            description="mixed quick/detailed/batch workloads; degradation and leak slope over time",
        )
    if name == "spike":
        third = seconds / 3
        segments = with_warmup(
            spike(rate, rate * 5, before_seconds=third, spike_seconds=third / 2, after_seconds=third * 1.5),
            knobs.warmup_seconds,
        )
        # Only the pre-spike steady phase has a latency SLO; the spike itself is judged by recovery time.
        gates = ("errors: rate<0.05", latency_gate(knobs.latency_p99_ms))
        return Scenario(name, "open", mix, tuple(segments), thresholds=gates, window_seconds=_window(seconds))
    if name == "sweep":
        rates = [rate * factor for factor in (0.25, 0.5, 1.0, 2.0, 4.0)]
        each = seconds / len(rates)
        # Phases named by their rate, so the table reads as a latency-vs-load curve.
        steps = [Segment(f"rate-{r:g}/s", each, r, r) for r in rates]
        segments = with_warmup(steps, knobs.warmup_seconds)
        return Scenario(name, "open", mix, tuple(segments), window_seconds=_window(seconds))
    if name == "stress":
        users, stages = 1, []
        levels = []
        while users < knobs.concurrency:
            levels.append(users)
            users *= 2
        levels.append(knobs.concurrency)
        stages = [Stage(f"users-{level}", level, seconds / len(levels)) for level in levels]
        return Scenario(name, "closed", mix, stages=tuple(stages), window_seconds=_window(seconds))
    raise ScenarioError(f"unknown scenario {name!r}; built-in: {', '.join(BUILT_IN)} or a .yaml/.toml file")


class _SegmentModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phase: str = "steady"
    duration_seconds: float = Field(gt=0)
    rate: float | None = Field(None, ge=0)
    start_rate: float | None = Field(None, ge=0)
    end_rate: float | None = Field(None, ge=0)
    poisson: bool = False


class _StageModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phase: str
    users: int = Field(gt=0)
    duration_seconds: float = Field(gt=0)


class _ScenarioFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    model: LoadModel = "open"
    mix: dict[str, float] = Field(default_factory=lambda: {"comparison": 1.0})
    segments: list[_SegmentModel] = Field(default_factory=list)
    stages: list[_StageModel] = Field(default_factory=list)
    thresholds: list[str] = Field(default_factory=list)
    window_seconds: float = Field(1.0, ge=1.0, le=10.0)
    sample_resources: bool = False
    description: str = ""


def load_file(path: Path) -> Scenario:
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
        parsed = _ScenarioFile.model_validate(raw)
    except (tomllib.TOMLDecodeError, yaml.YAMLError, ValidationError) as exc:
        raise ScenarioError(f"invalid scenario file {path}: {exc}") from exc
    segments = tuple(
        Segment(
            s.phase,
            s.duration_seconds,
            s.start_rate if s.start_rate is not None else (s.rate or 0.0),
            s.end_rate if s.end_rate is not None else (s.rate if s.rate is not None else (s.start_rate or 0.0)),
            s.poisson,
        )
        for s in parsed.segments
    )
    stages = tuple(Stage(s.phase, s.users, s.duration_seconds) for s in parsed.stages)
    if (parsed.model == "open" and not segments) or (parsed.model == "closed" and not stages):
        raise ScenarioError(f"{path}: an open-loop scenario needs segments, a closed-loop one stages")
    return Scenario(
        name=parsed.name,
        model=parsed.model,
        mix=parsed.mix,
        segments=segments,
        stages=stages,
        thresholds=tuple(parsed.thresholds),
        window_seconds=parsed.window_seconds,
        sample_resources=parsed.sample_resources,
        description=parsed.description,
    )


LATENCY_METRIC_SUFFIXES = ("latency", "delay", "wait", "processing", "callback", "polled", "completed", "overhead")


def check_thresholds(scenario: Scenario, thresholds: Sequence[str]) -> None:
    """A closed loop hides queueing (coordinated omission): refuse latency SLOs on it, gate capacity only."""
    if scenario.model != "closed":
        return
    for threshold in thresholds:
        metric = threshold.split(":", 1)[0].split("{", 1)[0].strip()
        if metric.endswith(LATENCY_METRIC_SUFFIXES):
            raise ScenarioError(
                f"{threshold!r}: latency SLOs need an open-loop scenario; {scenario.name} is closed-loop"
            )


def resolve(name_or_path: str, knobs: Knobs) -> Scenario:
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml", ".toml"}:
        if not path.is_file():
            raise ScenarioError(f"scenario file {path} not found")
        scenario = load_file(path)
        return replace(scenario, mix=dict(knobs.mix)) if knobs.mix else scenario
    return built_in(name_or_path, knobs)
