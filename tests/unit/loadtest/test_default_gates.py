"""Default gates: a service that accepts but cannot finish (or cannot accept in time) fails; a healthy one passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from llm_loadtest.cli import app
from llm_loadtest.load.gates import COMPLETION_GATE, combine, latency_gate
from tests.unit.loadtest.job_service import JobService
from tests.unit.loadtest.servers import ThreadedServer

LENIENT_HEALTH = ["--max-loop-lag-ms", "10000", "--max-dispatch-delay-ms", "10000", "--max-cpu-percent", "10000"]
RATE = 40


def _run(url: str, out: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    args = ["run", "load", "--target", url, "--mix", "comparison=1", "--rate", str(RATE), "--duration", "2",
            "--warmup", "0.2", "--drain", "10", "--out", str(out), *LENIENT_HEALTH, *extra]  # fmt: skip
    outcome = CliRunner().invoke(app, args)
    saved = json.loads((out / "result.json").read_text()) if (out / "result.json").exists() else {}
    return outcome.exit_code, saved, outcome.output


def _gates(saved: dict[str, Any]) -> dict[str, bool]:
    return {row["threshold"].split(":")[0].split("{")[0]: row["passed"] for row in saved["thresholds"]}


def test_healthy_job_service_passes_the_default_gates(tmp_path: Path) -> None:
    with ThreadedServer(JobService()) as server:
        # The default gate set, with the latency SLO widened: this unit test must not time a busy CI host.
        code, saved, output = _run(server.url, tmp_path, "--slo-p99-ms", "2000")
    assert code == 0, output
    assert _gates(saved) == {"errors": True, "throughput": True, "scheduled_latency": True, "completed": True}
    completion = saved["e2e"]["completion"]
    assert completion["completed"] == completion["offered"] == 2 * RATE
    assert completion["clock"] == "service completed_at"
    # result.json carries decoded percentiles next to the encoded histograms: no HDR decoder needed.
    steady = saved["percentiles"]["scheduled_latency"]["steady"]["ok"]
    assert steady["count"] == 2 * RATE
    assert steady["min_ms"] <= steady["p50_ms"] <= steady["p99_ms"] <= steady["max_ms"]
    assert steady["p999_ms"] == "insufficient samples"  # fewer than 10,000 samples
    entry = saved["measurements"]["histograms"][0]
    assert {"summary", "encoded"} <= set(entry)
    assert "p90_ms" in entry["summary"]


def test_service_that_accepts_but_cannot_finish_fails_on_completed_throughput(tmp_path: Path) -> None:
    # Accepts are instant (every 202 in time), but the worker finishes half the offered rate.
    with ThreadedServer(JobService(jobs_per_second=RATE / 2)) as server:
        # The latency SLO widened as in the healthy case: on a busy host a 100 ms p99 would fail for the wrong reason.
        code, saved, output = _run(server.url, tmp_path, "--slo-p99-ms", "2000")
    assert code == 1, output
    gates = _gates(saved)
    assert gates["throughput"]  # every job was accepted in time: the old gates would pass
    assert gates["errors"]
    assert gates["scheduled_latency"]
    assert not gates["completed"]
    assert saved["scalars"]["completed"]["achieved"] < 0.75 * RATE


def test_service_that_cannot_accept_in_time_fails_on_latency(tmp_path: Path) -> None:
    # One accept at a time, each slower than the arrival interval: the open loop's queue grows without bound.
    with ThreadedServer(JobService(accept_delay_seconds=1.5 / RATE)) as server:
        code, saved, output = _run(server.url, tmp_path, "--request-timeout", "10")
    assert code == 1, output
    assert not _gates(saved)["scheduled_latency"]


def test_given_gate_replaces_the_default_on_its_metric_and_extends_the_rest() -> None:
    defaults = ("errors: rate<0.01", latency_gate(100), COMPLETION_GATE)
    combined = combine(defaults, ["scheduled_latency: p99<2s", "service_latency: p50<1s"])
    assert combined == ("errors: rate<0.01", COMPLETION_GATE, "scheduled_latency: p99<2s", "service_latency: p50<1s")


def test_no_default_gates_keeps_only_the_given_ones(tmp_path: Path) -> None:
    with ThreadedServer(JobService(accept_delay_seconds=1.5 / RATE)) as server:
        code, saved, output = _run(server.url, tmp_path, "--no-default-gates", "--threshold", "errors: rate<0.01")
    assert code == 0, output
    assert [row["threshold"] for row in saved["thresholds"]] == ["errors: rate<0.01"]
