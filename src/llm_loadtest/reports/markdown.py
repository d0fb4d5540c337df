"""Markdown summary of a run (for CI job summaries and pull requests)."""

from __future__ import annotations

from llm_loadtest.metrics.result import RunResult
from llm_loadtest.reports.views import fmt_ms, headline, latency_rows, outcome_rows


def render(result: RunResult) -> str:
    lines = [f"# Load test: {result.scenario}", "", f"**{headline(result)}**", ""]
    if result.thresholds:
        lines += ["| result | threshold | observed |", "|---|---|---|"]
        lines += [
            f"| {'pass' if t.passed else '**FAIL**'} | `{t.source}` | {'; '.join(t.details)} |"
            for t in result.thresholds
        ]
        lines.append("")
    lines += [
        "| metric | phase | endpoint | outcome | count | p50 | p90 | p99 | p99.9 | max |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in latency_rows(result, outcomes=("ok",)):
        s = row.summary
        lines.append(
            f"| {row.metric} | {row.phase} | {row.endpoint} | {row.outcome} | {s.count} | {fmt_ms(s.p50_ms)} | "
            f"{fmt_ms(s.p90_ms)} | {fmt_ms(s.p99_ms)} | {fmt_ms(s.p999_ms)} | {fmt_ms(s.max_ms)} |"
        )
    lines += ["", "| phase | endpoint | scheduled | ok | success | errors |", "|---|---|---:|---:|---:|---|"]
    for r in outcome_rows(result):
        errors = ", ".join(f"{k}: {v}" for k, v in r.errors.items()) or "-"
        lines.append(f"| {r.phase} | {r.endpoint} | {r.scheduled} | {r.ok} | {r.success_rate:.3%} | {errors} |")
    if result.health is not None:
        h = result.health
        lines += [
            "",
            f"Generator health: loop lag p99 {fmt_ms(h.loop_lag_p99_ms)}, dispatch delay p99 "
            f"{fmt_ms(h.dispatch_delay_p99_ms)}, CPU {h.cpu_percent:.0f} % — "
            + ("healthy" if h.healthy else "over limits: " + "; ".join(h.problems)),
        ]
    audit = result.e2e.get("audit")
    if audit:
        lines += [
            "",
            f"Reconciliation ({audit['via']}): {audit['with_one_callback']}/{audit['accepted']} jobs with exactly one "
            f"callback; reconciled: {audit['reconciled']}",
        ]
    machine = result.fingerprint
    lines += [
        "",
        f"Machine: {machine.get('cpu_model')}, {machine.get('logical_cores')} cores, "
        f"{machine.get('memory_total_mib')} MiB, kernel {machine.get('kernel')}, Python {machine.get('python')}; "
        f"git {machine.get('git_sha')}",
    ]
    return "\n".join(lines) + "\n"
