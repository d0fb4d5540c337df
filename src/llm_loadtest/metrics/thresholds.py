"""k6-style thresholds, e.g. `scheduled_latency{scenario=steady}: p99<50ms`, parsed and evaluated."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_UNIT_TO_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "min": 60_000.0}
_HEAD = re.compile(r"^\s*(?P<metric>[a-z_][a-z0-9_]*)\s*(?:\{(?P<tags>[^}]*)\})?\s*:\s*(?P<body>.+)$", re.IGNORECASE)
_CONDITION = re.compile(
    r"^\s*(?P<aggregate>[a-z_][a-z0-9_.]*)\s*(?P<op><=|>=|==|!=|<|>)\s*"
    r"(?P<number>[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)?\s*(?P<unit>ns|us|µs|ms|s|min|m|%)?\s*"
    r"(?:(?P<times>\*)\s*(?P<reference>[a-z_]+))?\s*$",
    re.IGNORECASE,
)


class ThresholdSyntaxError(ValueError):
    """A threshold string that does not follow `metric{tag=value}: aggregate op value`."""


@dataclass(frozen=True, slots=True)
class Condition:
    aggregate: str
    op: str
    number: float
    unit: str | None
    reference: str | None  # e.g. "target" in `achieved>=0.98*target`


@dataclass(frozen=True, slots=True)
class Threshold:
    source: str
    metric: str
    tags: tuple[tuple[str, str], ...]
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class ThresholdResult:
    source: str
    passed: bool
    details: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"threshold": self.source, "passed": self.passed, "details": list(self.details)}


class Observations(Protocol):
    """What a finished run can answer: a metric aggregate (ms for latencies) and named references."""

    def value(self, metric: str, tags: Mapping[str, str], aggregate: str) -> float | None: ...

    def reference(self, metric: str, tags: Mapping[str, str], name: str) -> float | None: ...


def _parse_condition(text: str, source: str) -> Condition:
    match = _CONDITION.match(text)
    if match is None or match["number"] is None:
        raise ThresholdSyntaxError(f"cannot read condition {text!r} in {source!r} (a bare reference is `1*target`)")
    number = float(match["number"])
    unit = match["unit"]
    if unit == "%":
        number, unit = number / 100.0, None
    return Condition(match["aggregate"].lower(), match["op"], number, unit, match["reference"])


def parse(source: str) -> Threshold:
    head = _HEAD.match(source)
    if head is None:
        raise ThresholdSyntaxError(f"expected `metric{{tag=value}}: aggregate op value`, got {source!r}")
    tags: list[tuple[str, str]] = []
    for pair in filter(None, (part.strip() for part in (head["tags"] or "").split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ThresholdSyntaxError(f"bad tag {pair!r} in {source!r}")
        tags.append((key.strip(), value.strip().strip("'\"")))
    conditions = tuple(_parse_condition(part, source) for part in head["body"].split(","))
    return Threshold(source.strip(), head["metric"].lower(), tuple(sorted(tags)), conditions)


def parse_all(sources: Sequence[str]) -> list[Threshold]:
    return [parse(source) for source in sources]


def _limit(condition: Condition, threshold: Threshold, observed: Observations) -> float | None:
    if condition.reference is not None:
        base = observed.reference(threshold.metric, dict(threshold.tags), condition.reference)
        return None if base is None else condition.number * base
    if condition.unit is not None:
        return condition.number * _UNIT_TO_MS[condition.unit.lower()]
    return condition.number


def evaluate(threshold: Threshold, observed: Observations) -> ThresholdResult:
    """A condition without data fails: a gate that cannot be checked must not pass."""
    details: list[str] = []
    passed = True
    tags = dict(threshold.tags)
    for condition in threshold.conditions:
        value = observed.value(threshold.metric, tags, condition.aggregate)
        limit = _limit(condition, threshold, observed)
        if value is None or limit is None:
            passed = False
            details.append(f"{condition.aggregate}: no data")
            continue
        ok = _OPERATORS[condition.op](value, limit)
        passed = passed and ok
        details.append(f"{condition.aggregate}={value:.6g} {condition.op} {limit:.6g}: {'ok' if ok else 'FAILED'}")
    return ThresholdResult(threshold.source, passed, tuple(details))


def evaluate_all(thresholds: Sequence[Threshold], observed: Observations) -> list[ThresholdResult]:
    return [evaluate(threshold, observed) for threshold in thresholds]
