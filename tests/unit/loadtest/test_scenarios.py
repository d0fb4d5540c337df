"""Built-in scenarios, scenario files (YAML and TOML), and the --mix syntax."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_loadtest.load.gates import COMPLETION_GATE
from llm_loadtest.load.scenarios import (
    Knobs,
    ScenarioError,
    built_in,
    check_thresholds,
    parse_mix,
    resolve,
)


@pytest.mark.parametrize("name", ["load", "endurance", "spike", "sweep"])
def test_open_loop_built_ins_start_with_a_warmup(name: str) -> None:
    scenario = built_in(name, Knobs(rate=50, duration_seconds=20, warmup_seconds=2))
    assert scenario.model == "open"
    assert scenario.segments[0].phase == "warmup"


def test_endurance_mixes_quick_detailed_and_batch_and_samples_resources() -> None:
    scenario = built_in("endurance", Knobs())
    assert set(scenario.mix) == {"quick", "detailed", "batch"}
    assert scenario.sample_resources


def test_stress_is_a_closed_loop_concurrency_ramp() -> None:
    scenario = built_in("stress", Knobs(concurrency=20, duration_seconds=30))
    assert scenario.model == "closed"
    assert [stage.users for stage in scenario.stages] == [1, 2, 4, 8, 16, 20]


def test_yaml_and_toml_scenario_files(tmp_path: Path) -> None:
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text(
        "name: burst\nmix: {quick: 1}\nsegments:\n  - {phase: steady, duration_seconds: 2, rate: 10}\n"
        "  - {phase: spike, duration_seconds: 1, start_rate: 10, end_rate: 50, poisson: true}\n"
        "thresholds: ['errors: rate<0.01']\n"
    )
    scenario = resolve(str(yaml_file), Knobs())
    assert [(s.phase, s.start_rate, s.end_rate) for s in scenario.segments] == [("steady", 10, 10), ("spike", 10, 50)]
    assert scenario.thresholds == ("errors: rate<0.01",)
    toml_file = tmp_path / "s.toml"
    toml_file.write_text(
        'name = "users"\nmodel = "closed"\n[[stages]]\nphase = "s1"\nusers = 3\nduration_seconds = 1\n'
    )
    assert resolve(str(toml_file), Knobs()).stages[0].users == 3


def test_invalid_inputs_are_scenario_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsegments: [{duration_seconds: -1}]\n")
    with pytest.raises(ScenarioError):
        resolve(str(bad), Knobs())
    with pytest.raises(ScenarioError):
        resolve("nonsense", Knobs())
    with pytest.raises(ScenarioError):
        parse_mix("quick=lots")
    assert parse_mix("quick=6, detailed=2,chat") == {"quick": 6.0, "detailed": 2.0, "chat": 1.0}


def test_latency_slos_are_refused_on_a_closed_loop_but_capacity_gates_are_not() -> None:
    stress = built_in("stress", Knobs(concurrency=4))
    with pytest.raises(ScenarioError, match="open-loop"):
        check_thresholds(stress, ["service_latency: p99<10ms"])
    check_thresholds(stress, ["errors: rate<0.01", "throughput: achieved>=100"])
    check_thresholds(built_in("load", Knobs()), ["scheduled_latency: p99<10ms"])


def test_load_and_endurance_gate_steady_latency_and_finished_jobs_by_default() -> None:
    for name in ("load", "endurance"):
        thresholds = built_in(name, Knobs()).thresholds
        assert "scheduled_latency{phase=steady}: p99<100ms" in thresholds
        assert COMPLETION_GATE in thresholds
    # Chat answers synchronously: nothing to complete later, so no completion gate.
    assert COMPLETION_GATE not in built_in("load", Knobs(mix={"chat": 1.0})).thresholds
