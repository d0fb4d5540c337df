"""Reports: self-contained HTML, result.json round-trip through `perf report`, and `perf compare`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llm_loadtest.cli import app
from llm_loadtest.load import loop
from llm_loadtest.load.engine import execute
from llm_loadtest.metrics.result import RunResult, load
from llm_loadtest.reports.html_report import render
from llm_loadtest.reports.outputs import write_all
from tests.unit.loadtest.runs import open_loop
from tests.unit.loadtest.servers import ScriptedServer, ThreadedServer

ASSET = re.compile(r"""(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//""", re.I)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short real run (with a 0.2 s stall) shared by this module; its outputs are only read."""
    directory = tmp_path_factory.mktemp("run")
    with ThreadedServer(ScriptedServer(stall_after_seconds=0.3, stall_seconds=0.2)) as server:
        result = loop.run(execute(open_loop(server.url, rate=100, seconds=1.0, thresholds=("errors: rate<0.5",))))
    write_all(result, directory)
    return directory / "result.json"


def test_report_html_has_charts_and_no_network_assets(saved_run: Path) -> None:
    html = (saved_run.parent / "report.html").read_text()
    assert ASSET.search(html) is None
    assert "<script" not in html
    assert "<link" not in html
    assert html.count("<svg") >= 5  # latency over time, spectrum, throughput, errors, generator health
    assert "scheduled_latency" in html


def test_result_json_round_trips_exactly(saved_run: Path) -> None:
    data = json.loads(saved_run.read_text())
    assert data["schema_version"] == 1
    assert {"cpu_model", "logical_cores", "memory_total_mib", "kernel", "python", "git_sha"} <= set(data["fingerprint"])
    assert RunResult.from_json(data).to_json() == data


def test_result_json_carries_the_percentiles_of_every_histogram(saved_run: Path) -> None:
    histograms = json.loads(saved_run.read_text())["measurements"]["histograms"]
    scheduled = [entry for entry in histograms if entry["metric"] == "scheduled_latency"]
    assert scheduled
    for entry in histograms:
        summary = entry["summary"]
        assert {"count", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms"} <= set(summary)
        assert summary["count"] > 0
        assert summary["p50_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    assert scheduled[0]["summary"]["p999_ms"] == "insufficient samples"  # 100 samples: fewer than 10,000


def test_perf_report_re_renders_the_same_outputs_without_rerunning(saved_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    outcome = CliRunner().invoke(app, ["report", str(saved_run), "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output
    assert (out / "summary.md").read_text() == (saved_run.parent / "summary.md").read_text()
    assert (out / "report.html").read_text() == (saved_run.parent / "report.html").read_text()
    assert json.loads((out / "result.json").read_text()) == json.loads(saved_run.read_text())


def test_perf_report_can_regate_saved_histograms(saved_run: Path, tmp_path: Path) -> None:
    outcome = CliRunner().invoke(
        app,
        ["report", str(saved_run), "--out", str(tmp_path / "g"), "--gate", "--threshold", "service_latency: max<1us"],
    )
    assert outcome.exit_code == 1, outcome.output


def test_compare_same_run_is_noise_and_a_slower_run_is_a_regression(saved_run: Path, tmp_path: Path) -> None:
    same = CliRunner().invoke(app, ["compare", str(saved_run), str(saved_run), "--json"])
    assert same.exit_code == 0, same.output
    assert json.loads(same.output)["verdict"] == "noise"
    slower = load(saved_run)
    for _, _, histogram in slower.measurements.entries():
        # Shift every sample by +100 ms: the same shape, clearly slower.
        values = [(v.value_iterated_to, v.count_at_value_iterated_to) for v in histogram.get_recorded_iterator()]
        histogram.reset()
        for value, count in values:
            histogram.record_value(value + 100_000, count)
    (tmp_path / "slower.json").write_text(json.dumps(slower.to_json()))
    worse = CliRunner().invoke(app, ["compare", str(saved_run), str(tmp_path / "slower.json"), "--json"])
    assert worse.exit_code == 1, worse.output
    assert json.loads(worse.output)["verdict"] == "regression"


def test_html_renders_for_an_empty_run(saved_run: Path) -> None:
    empty = load(saved_run)
    empty.measurements.windows.clear()
    assert "<svg" in render(empty)
