"""Rich console rendering: latency table, outcomes, generator health, thresholds, audit and verdict."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from llm_loadtest.metrics.result import RunResult
from llm_loadtest.reports.views import fmt_ms, headline, latency_rows, outcome_rows

_VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow", "error": "bold magenta"}


def latency_table(result: RunResult) -> Table:
    # The console keeps the columns people read first; min/mean/p95 are in report.html and summary.md.
    table = Table(title=f"Latency: {result.scenario} (ms unless marked)", title_justify="left")
    for column in ("metric", "phase", "endpoint", "outcome"):
        table.add_column(column, overflow="fold")
    for column in ("count", "p50", "p90", "p99", "p99.9", "max"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in latency_rows(result):
        s = row.summary
        p999 = "n<10k" if s.p999_ms is None else fmt_ms(s.p999_ms)
        cells = (fmt_ms(s.p50_ms), fmt_ms(s.p90_ms), fmt_ms(s.p99_ms), p999, fmt_ms(s.max_ms))
        table.add_row(row.metric, row.phase, row.endpoint, row.outcome, str(s.count), *cells)
    return table


def outcome_table(result: RunResult) -> Table:
    table = Table(title="Outcomes (success rate = OK / scheduled)", title_justify="left")
    for column in ("phase", "endpoint", "scheduled", "ok", "success", "errors"):
        table.add_column(column)
    for row in outcome_rows(result):
        errors = ", ".join(f"{kind}: {count}" for kind, count in row.errors.items()) or "-"
        table.add_row(row.phase, row.endpoint, str(row.scheduled), str(row.ok), f"{row.success_rate:.3%}", errors)
    return table


def render(result: RunResult, console: Console) -> None:
    console.print(latency_table(result))
    console.print(outcome_table(result))
    if result.health is not None:
        h = result.health
        state = "[green]healthy[/]" if h.healthy else f"[yellow]over limits: {'; '.join(h.problems)}[/]"
        console.print(
            f"Generator: loop lag p99 {fmt_ms(h.loop_lag_p99_ms)}, dispatch delay p99 "
            f"{fmt_ms(h.dispatch_delay_p99_ms)}, CPU {h.cpu_percent:.0f} %, dropped {h.dropped_fraction:.3%} — {state}"
        )
    audit = result.e2e.get("audit")
    if audit:
        console.print(
            f"Reconciliation via {audit['via']}: {audit['with_one_callback']}/{audit['accepted']} with exactly one "
            f"callback, {audit['store_checked']} store rows checked, missing {audit['missing_callback_count']}, "
            f"duplicates {audit['duplicate_events']}, token mismatches {audit['token_mismatch_count']} — "
            + ("[green]reconciled[/]" if audit["reconciled"] else "[red]NOT reconciled[/]")
        )
    recovery = result.e2e.get("recovery")
    if recovery:
        seconds = recovery["recovery_seconds"]
        console.print(
            f"Spike: baseline p99 {fmt_ms(recovery['baseline_p99_ms'])}, spike p99 {fmt_ms(recovery['spike_p99_ms'])}, "
            + ("not recovered" if seconds is None else f"recovered in {seconds:.1f} s")
        )
    for leak in result.resources.get("leaks", []):
        slope = leak["slope"]
        if leak.get("note"):
            console.print(f"Leak check {leak['series']}: {leak['note']}")
        elif slope is not None:
            console.print(
                f"Leak check {leak['series']}: {slope['slope']:+.3f} {leak['unit_per_minute']}/min "
                f"(95 % CI {slope['low']:+.3f}..{slope['high']:+.3f}) — "
                + ("[red]LEAKING[/]" if leak["leaking"] else "[green]no leak[/]")
            )
    for threshold in result.thresholds:
        mark = "[green]✓[/]" if threshold.passed else "[red]✗[/]"
        console.print(f"{mark} {threshold.source}  ({'; '.join(threshold.details)})")
    for error in result.harness_errors:
        console.print(f"[magenta]harness error:[/] {error}")
    console.print(f"[{_VERDICT_STYLE[result.verdict]}]{headline(result)}[/]")
