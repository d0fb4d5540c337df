"""k6-style thresholds: parsing, units, references, and gating (no data fails)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from llm_loadtest.metrics.thresholds import ThresholdSyntaxError, evaluate, parse


class FixedObservations:
    """Hand-written fake: fixed aggregate values keyed by (metric, aggregate)."""

    def __init__(self, values: Mapping[tuple[str, str], float], references: Mapping[str, float]) -> None:
        self.values = values
        self.references = references
        self.asked_tags: list[dict[str, str]] = []

    def value(self, metric: str, tags: Mapping[str, str], aggregate: str) -> float | None:
        self.asked_tags.append(dict(tags))
        return self.values.get((metric, aggregate))

    def reference(self, metric: str, tags: Mapping[str, str], name: str) -> float | None:
        return self.references.get(name)


def test_parse_latency_threshold_with_tags_and_units() -> None:
    threshold = parse("scheduled_latency{scenario=steady, endpoint=quick}: p99<50ms, p99.9<=0.2s")
    assert threshold.metric == "scheduled_latency"
    assert dict(threshold.tags) == {"scenario": "steady", "endpoint": "quick"}
    assert [(c.aggregate, c.op, c.number, c.unit) for c in threshold.conditions] == [
        ("p99", "<", 50.0, "ms"),
        ("p99.9", "<=", 0.2, "s"),
    ]


def test_parse_rate_and_reference_forms() -> None:
    assert parse("errors: rate<0.001").conditions[0].number == pytest.approx(0.001)
    assert parse("errors: rate<0.1%").conditions[0].number == pytest.approx(0.001)
    reference = parse("throughput: achieved>=0.98*target").conditions[0]
    assert (reference.number, reference.reference) == (0.98, "target")


@pytest.mark.parametrize(
    "text",
    ["p99<50ms", "scheduled_latency: p99 50ms", "errors{scenario}: rate<1", "x: rate<", "x: achieved>=target"],
)
def test_malformed_thresholds_are_refused(text: str) -> None:
    with pytest.raises(ThresholdSyntaxError):
        parse(text)


def test_units_convert_to_milliseconds_before_comparing() -> None:
    observed = FixedObservations({("scheduled_latency", "p99"): 40.0}, {})
    assert evaluate(parse("scheduled_latency: p99<50ms"), observed).passed
    assert evaluate(parse("scheduled_latency: p99<0.05s"), observed).passed
    assert not evaluate(parse("scheduled_latency: p99<30000us"), observed).passed


def test_reference_scales_the_target() -> None:
    observed = FixedObservations({("throughput", "achieved"): 97.0}, {"target": 100.0})
    assert not evaluate(parse("throughput: achieved>=0.98*target"), observed).passed
    assert evaluate(parse("throughput: achieved>=0.95*target"), observed).passed


def test_every_condition_must_hold_and_missing_data_fails() -> None:
    observed = FixedObservations({("errors", "rate"): 0.0}, {})
    assert not evaluate(parse("errors: rate<0.01, count<1, rate==0, p99<1ms"), observed).passed
    result = evaluate(parse("nonexistent: p99<1ms"), observed)
    assert not result.passed
    assert "no data" in result.details[0]
