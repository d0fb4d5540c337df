"""`llm-provider perf` / `python -m llm_loadtest`: run | infra | report | compare | demo."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from llm_loadtest.demo import demo
from llm_loadtest.infra.cli import infra
from llm_loadtest.load.engine import RunOptions, effective_thresholds
from llm_loadtest.load.gates import DEFAULT_LATENCY_P99_MS
from llm_loadtest.load.kafka_callbacks import CallbackConsumerError, KafkaSettings
from llm_loadtest.load.resources import ResourceTargets
from llm_loadtest.load.runner import OpenLoopSettings
from llm_loadtest.load.scenarios import Knobs, ScenarioError, check_thresholds, parse_mix, resolve
from llm_loadtest.load.targets import TargetError, check
from llm_loadtest.metrics.health import HealthLimits
from llm_loadtest.metrics.result import ExitCode, ResultFormatError, load
from llm_loadtest.metrics.thresholds import ThresholdSyntaxError, evaluate_all, parse_all
from llm_loadtest.reports import console as console_report
from llm_loadtest.reports.compare import compare as compare_results
from llm_loadtest.reports.outputs import write_all
from llm_loadtest.reports.presentation import finish, make_console, run_with_progress

app = typer.Typer(
    name="perf",
    help="Performance toolkit: open/closed-loop load, infrastructure micro-benchmarks, reports and comparisons.",
    no_args_is_help=True,
    add_completion=False,
)
logger = logging.getLogger(__name__)
_console = make_console()
HARNESS_ERRORS = (
    ScenarioError,
    ThresholdSyntaxError,
    TargetError,
    CallbackConsumerError,
    ResultFormatError,
    OSError,
    json.JSONDecodeError,
)

Target = Annotated[str, typer.Option("--target", help="Base URL of the service (loopback unless --allow-remote).")]
Out = Annotated[Path, typer.Option("--out", help="Directory for result.json, report.html, summary.md, junit.xml.")]


def _fail(message: str) -> typer.Exit:
    _console.print(f"[magenta]harness error:[/] {message}")
    return typer.Exit(int(ExitCode.HARNESS_ERROR))


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="load | stress | endurance | spike | sweep | FILE.yaml/.toml")],
    target: Target = "http://127.0.0.1:8000",
    rate: Annotated[float, typer.Option(help="Arrivals per second (open loop).")] = 100.0,
    duration: Annotated[float, typer.Option(help="Seconds of measured load (warm-up extra).")] = 30.0,
    concurrency: Annotated[int, typer.Option(help="Users for the closed-loop stress ramp.")] = 32,
    warmup: Annotated[float, typer.Option(help="Warm-up seconds (reported, excluded from SLOs).")] = 5.0,
    mix: Annotated[str | None, typer.Option(help="Workload weights, e.g. quick=6,detailed=2,batch=2,chat=1.")] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(help="k6-style gate, repeatable; extends the defaults, replaces those on the same metric."),
    ] = None,
    slo_p99_ms: Annotated[
        float, typer.Option(help="Default gate: steady-phase scheduled_latency p99 below this (ms).")
    ] = DEFAULT_LATENCY_P99_MS,
    default_gates: Annotated[
        bool, typer.Option(help="Gate on latency, errors, accepted and completed throughput unless told not to.")
    ] = True,
    out: Out = Path("perf-results"),
    seed: Annotated[int, typer.Option(help="Seed of schedule and payloads.")] = 1,
    kafka_bootstrap: Annotated[str | None, typer.Option(help="Consume callbacks here (else poll results).")] = None,
    kafka_session_timeout_ms: Annotated[
        int,
        typer.Option(envvar="LLM_PROVIDER_KAFKA_SESSION_TIMEOUT_MS", help=">= 6000 for Apache Kafka; 2000 for Tansu."),
    ] = 6000,
    callback_topic: Annotated[str | None, typer.Option(help="Callback topic (default: fresh per run).")] = None,
    poll: Annotated[bool, typer.Option(help="Without Kafka, poll job results for end-to-end numbers.")] = True,
    max_lag: Annotated[float, typer.Option(help="Seconds late after which a request is dropped.")] = 0.5,
    max_in_flight: Annotated[int, typer.Option(help="Open-loop in-flight cap (beyond: dropped).")] = 10_000,
    request_timeout: Annotated[float, typer.Option(help="Per-request timeout, seconds.")] = 30.0,
    drain: Annotated[float, typer.Option(help="Seconds to wait for outstanding callbacks after the load.")] = 30.0,
    pid: Annotated[int | None, typer.Option(help="Service PID to sample RSS / fds (leak slope).")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Sample Redis memory (INFO) here.")] = None,
    metrics_url: Annotated[str | None, typer.Option(help="Sample the outbox backlog from this /metrics URL.")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="LLM_LOADTEST_API_KEY", help="Bearer key.")] = None,
    mock: Annotated[str | None, typer.Option(help='metadata.mock JSON, e.g. {"latency_ms": 50}.')] = None,
    max_loop_lag_ms: Annotated[float, typer.Option(help="Generator health limit.")] = 20.0,
    max_dispatch_delay_ms: Annotated[float, typer.Option(help="Generator health limit.")] = 20.0,
    max_cpu_percent: Annotated[float, typer.Option(help="Generator health limit (one core = 100).")] = 90.0,
    allow_remote: Annotated[bool, typer.Option(help="Allow a non-loopback target.")] = False,
) -> None:
    """Run a scenario and gate it with thresholds: exit 0 pass, 1 failed, 2 inconclusive, 3 harness error."""
    try:
        knobs = Knobs(rate, duration, concurrency, warmup, parse_mix(mix), latency_p99_ms=slo_p99_ms)
        chosen = resolve(scenario, knobs)
        parse_all(threshold or [])  # fail on a typo before spending minutes on load
        kafka = None
        if kafka_bootstrap:
            topic = callback_topic or f"llm-loadtest.callbacks.{uuid.uuid4().hex[:10]}"
            kafka = KafkaSettings(kafka_bootstrap, topic, session_timeout_ms=kafka_session_timeout_ms)
        sample = chosen.sample_resources or pid is not None or redis_url or metrics_url
        options = RunOptions(
            target=check(target, allow_remote=allow_remote),
            scenario=chosen,
            seed=seed,
            thresholds=tuple(threshold or ()),
            open_loop=OpenLoopSettings(max_lag, max_in_flight, request_timeout),
            health_limits=HealthLimits(max_loop_lag_ms, max_dispatch_delay_ms, max_cpu_percent),
            kafka=kafka,
            poll_results=poll,
            drain_seconds=drain,
            resources=ResourceTargets(pid, redis_url, metrics_url) if sample else None,
            api_key=api_key,
            mock=json.loads(mock) if mock else {},
            default_gates=default_gates,
        )
        check_thresholds(chosen, effective_thresholds(options))
        result = run_with_progress(options, _console)
    except HARNESS_ERRORS as exc:
        raise _fail(str(exc)) from exc
    finish(result, out, _console)


@app.command()
def report(
    result_json: Annotated[Path, typer.Argument(help="A saved result.json.")],
    out: Annotated[Path | None, typer.Option("--out", help="Output directory (default: next to the JSON).")] = None,
    threshold: Annotated[list[str] | None, typer.Option(help="Re-gate the saved histograms with these.")] = None,
    gate: Annotated[bool, typer.Option(help="Exit with the (re-evaluated) verdict's code.")] = False,
) -> None:
    """Re-render console, HTML, Markdown and JUnit from a saved result without re-running."""
    try:
        result = load(result_json)
        if threshold:
            result.thresholds = evaluate_all(parse_all(threshold), result)
        console_report.render(result, _console)
        paths = write_all(result, out or result_json.parent, include_json=out is not None)
    except HARNESS_ERRORS as exc:
        raise _fail(str(exc)) from exc
    _console.print(f"Wrote {', '.join(str(p) for p in paths.values())}")
    raise typer.Exit(int(result.exit_code) if gate else 0)


@app.command()
def compare(
    base: Annotated[Path, typer.Argument(help="Baseline result.json.")],
    new: Annotated[Path, typer.Argument(help="Candidate result.json.")],
    tolerance: Annotated[float, typer.Option(help="Relative change below which nothing counts.")] = 0.05,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Per-metric differences from the stored histograms; exit 1 on a regression."""
    try:
        verdict, differences = compare_results(load(base), load(new), tolerance=tolerance)
    except HARNESS_ERRORS as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        payload: dict[str, Any] = {"verdict": verdict, "differences": [d.as_dict() for d in differences]}
        _console.print_json(json.dumps(payload))
    else:
        table = Table(title=f"{base.name} → {new.name}: {verdict.upper()}", title_justify="left")
        for column in ("metric", "stat", "base", "new", "change", "95 % CI base", "95 % CI new", "verdict"):
            table.add_column(column)
        for d in differences:
            style = {"regression": "red", "improvement": "green"}.get(d.verdict, "")
            base_ci = f"{d.base_interval[0]:.4g}..{d.base_interval[1]:.4g}"
            new_ci = f"{d.new_interval[0]:.4g}..{d.new_interval[1]:.4g}"
            verdict_cell = f"[{style}]{d.verdict}[/]" if style else d.verdict
            table.add_row(
                d.metric,
                d.statistic,
                f"{d.base:.4g}",
                f"{d.new:.4g}",
                f"{d.change:+.1%}",
                base_ci,
                new_ci,
                verdict_cell,
            )
        _console.print(table)
    raise typer.Exit(1 if verdict == "regression" else 0)


app.command()(infra)
app.command()(demo)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
