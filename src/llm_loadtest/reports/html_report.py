"""One self-contained report.html: tables plus inline-SVG charts, no scripts or assets from the network."""

from __future__ import annotations

import json
import math
from html import escape

from llm_loadtest.load.e2e import ACCEPT_TO_CALLBACK, REQUESTED_TO_COMPLETED
from llm_loadtest.metrics.histograms import spectrum_ms
from llm_loadtest.metrics.leak import theil_sen
from llm_loadtest.metrics.measurements import SCHEDULED_LATENCY, SERVICE_LATENCY
from llm_loadtest.metrics.outcomes import ERROR_KINDS
from llm_loadtest.metrics.phases import interval_stats
from llm_loadtest.metrics.result import RunResult
from llm_loadtest.reports.svg import Band, Series, line_chart, stacked_bars
from llm_loadtest.reports.views import fmt_ms, headline, latency_rows, outcome_rows

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}th{background:#f4f4f4}
td.l,th.l{text-align:left}.pass{color:#1a7f37}.fail{color:#cf222e}.inconclusive{color:#9a6700}.error{color:#8250df}
.verdict{font-size:16px;font-weight:bold;padding:8px;border:2px solid currentColor;display:inline-block}
.charts svg{display:block;margin:10px 0}pre{background:#f6f8fa;padding:8px;font-size:11px;overflow:auto}
"""
NINES_TICKS = [(float(n), label) for n, label in enumerate(("0%", "90%", "99%", "99.9%", "99.99%", "99.999%"))]


def _bands(result: RunResult) -> list[Band]:
    return [Band(start, end, phase) for phase, start, end in result.phases]


def _latency_over_time(result: RunResult) -> str:
    rows = interval_stats(result.measurements)
    series = [
        Series("p50", [(r.mid_seconds, max(r.p50_ms, 0.001)) for r in rows if r.scheduled]),
        Series("p99", [(r.mid_seconds, max(r.p99_ms, 0.001)) for r in rows if r.scheduled]),
        Series("max", [(r.mid_seconds, max(r.max_ms, 0.001)) for r in rows if r.scheduled], dashed=True),
    ]
    return line_chart(
        "Scheduled latency over time (per window, by intended send time)",
        series,
        x_label="seconds since start",
        y_label="ms (log)",
        log_y=True,
        bands=_bands(result),
    )


def _spectrum(result: RunResult) -> str:
    series = []
    for metric in (SCHEDULED_LATENCY, SERVICE_LATENCY, ACCEPT_TO_CALLBACK, REQUESTED_TO_COMPLETED):
        histogram = result.measurements.select(metric, {"outcome": "ok"})
        points = [(-math.log10(max(1.0 - p / 100.0, 1e-6)), max(v, 0.001)) for p, v in spectrum_ms(histogram)]
        if points:
            series.append(Series(metric, points))
    return line_chart(
        "Percentile spectrum (successes, warm-up excluded)",
        series,
        x_label="percentile",
        y_label="ms (log)",
        log_y=True,
        x_ticks=NINES_TICKS,
    )


def _throughput(result: RunResult) -> str:
    rows = interval_stats(result.measurements)
    width = result.measurements.window_seconds
    # Solid "ok/s" first so the dashed plan stays visible on top where the two coincide.
    series = [
        Series("ok/s", [(r.mid_seconds, r.throughput_per_second) for r in rows]),
        Series("scheduled/s", [(r.mid_seconds, r.scheduled / width) for r in rows], dashed=True),
    ]
    return line_chart("Throughput", series, x_label="seconds since start", y_label="requests/s", bands=_bands(result))


def _errors(result: RunResult) -> str:
    windows = sorted(result.measurements.windows.values(), key=lambda w: w.index)
    width = result.measurements.window_seconds
    stacks = {kind.value: [float(w.counts.get(kind.value, 0)) for w in windows] for kind in ERROR_KINDS}
    stacks = {kind: values for kind, values in stacks.items() if any(values)} or {"errors": [0.0] * len(windows)}
    return stacked_bars(
        "Errors per window", [w.index * width for w in windows], stacks, x_label="seconds since start", y_label="count"
    )


def _health(result: RunResult) -> str:
    store = result.measurements
    points = sorted((index * store.window_seconds, max(lag, 0.001)) for index, lag in store.loop_lag_max_ms.items())
    limit = result.health.limits.loop_lag_p99_ms if result.health else 20.0
    limit_line = [(points[0][0], limit), (points[-1][0], limit)] if points else []
    return line_chart(
        "Generator health: event-loop lag (max per window) vs the p99 limit",
        [Series("loop lag max", points), Series("p99 limit", limit_line, dashed=True)],
        x_label="seconds since start",
        y_label="ms (log)",
        log_y=True,
    )


def _resources(result: RunResult) -> list[str]:
    charts = []
    for name, data in result.resources.get("series", {}).items():
        seconds, values = data["seconds"], data["values"]
        series = [Series(name, list(zip(seconds, values, strict=True)))]
        fit = theil_sen([s / 60 for s in seconds], values)
        if fit is not None and seconds:
            ends = (seconds[0], seconds[-1])
            series.append(Series("Theil-Sen fit", [(s, fit.intercept + fit.slope * s / 60) for s in ends], dashed=True))
        charts.append(
            line_chart(f"Resource: {name}", series, x_label="seconds since start", y_label=name, y_from_zero=False)
        )
    return charts


def _latency_table(result: RunResult) -> str:
    labels = ("metric", "phase", "endpoint", "outcome", "count", "min", "mean", "p50", "p90", "p95", "p99", "p99.9")
    head = "".join(
        f"<th{' class=l' if c in {'metric', 'phase', 'endpoint', 'outcome'} else ''}>{c}</th>" for c in (*labels, "max")
    )
    body = []
    for row in latency_rows(result):
        s = row.summary
        cells = [fmt_ms(v) for v in (s.min_ms, s.mean_ms, s.p50_ms, s.p90_ms, s.p95_ms, s.p99_ms, s.p999_ms, s.max_ms)]
        body.append(
            f"<tr><td class=l>{escape(row.metric)}</td><td class=l>{escape(row.phase)}</td>"
            f"<td class=l>{escape(row.endpoint)}</td><td class=l>{row.outcome}</td><td>{s.count}</td>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + "</tr>"
        )
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _outcome_table(result: RunResult) -> str:
    body = "".join(
        f"<tr><td class=l>{escape(r.phase)}</td><td class=l>{escape(r.endpoint)}</td><td>{r.scheduled}</td>"
        f"<td>{r.ok}</td><td>{r.success_rate:.3%}</td>"
        f"<td class=l>{escape(', '.join(f'{k}: {v}' for k, v in r.errors.items()) or '-')}</td></tr>"
        for r in outcome_rows(result)
    )
    return (
        "<table><tr><th class=l>phase</th><th class=l>endpoint</th><th>scheduled</th><th>ok</th>"
        f"<th>success</th><th class=l>errors</th></tr>{body}</table>"
    )


def _thresholds(result: RunResult) -> str:
    if not result.thresholds:
        return "<p>No thresholds.</p>"
    rows = "".join(
        f"<tr><td class='l {'pass' if t.passed else 'fail'}'>{'pass' if t.passed else 'FAIL'}</td>"
        f"<td class=l>{escape(t.source)}</td><td class=l>{escape('; '.join(t.details))}</td></tr>"
        for t in result.thresholds
    )
    return f"<table><tr><th class=l>result</th><th class=l>threshold</th><th class=l>observed</th></tr>{rows}</table>"


def _pre(title: str, data: object) -> str:
    return f"<h2>{escape(title)}</h2><pre>{escape(json.dumps(data, indent=1, default=str))}</pre>"


def render(result: RunResult) -> str:
    health = result.health.as_dict() if result.health else {}
    charts = [_latency_over_time(result), _spectrum(result), _throughput(result), _errors(result), _health(result)]
    charts += _resources(result)
    sections = [
        f"<h1>Load test report: {escape(result.scenario)}</h1>",
        f"<p class='verdict {result.verdict}'>{escape(headline(result))}</p>",
        f"<p>Run {escape(result.run_id)} started {escape(result.started_at)}; target "
        f"{escape(str(result.settings.get('target', '?')))}; git {escape(str(result.fingerprint.get('git_sha')))}</p>",
        "<h2>Thresholds</h2>" + _thresholds(result),
        "<h2>Latency</h2>" + _latency_table(result),
        "<p>scheduled_latency = done - intended (the SLO default, immune to coordinated omission); "
        "service_latency = done - sent; dispatch_delay = sent - intended.</p>",
        "<h2>Outcomes</h2>" + _outcome_table(result),
        "<h2>Charts</h2><div class=charts>" + "".join(charts) + "</div>",
        _pre("Generator health", health),
        _pre("End to end and reconciliation", result.e2e) if result.e2e else "",
        _pre("Leak checks", result.resources.get("leaks", [])) if result.resources else "",
        _pre("Machine", result.fingerprint),
        _pre("Settings", result.settings),
    ]
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(result.scenario)} — load test</title><style>{_CSS}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>"
    )
