"""Tiny inline-SVG chart writer (lines and stacked bars) so that report.html needs no network assets."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

WIDTH, HEIGHT = 960, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 40, 40, 40
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
BAND_COLOURS = {"warmup": "#eeeeee", "spike": "#fde0dd", "recovery": "#e5f5e0"}


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Band:
    start: float
    end: float
    label: str


@dataclass(slots=True)
class Axis:
    low: float
    high: float
    log: bool = False
    ticks: list[tuple[float, str]] = field(default_factory=list)

    def scale(self, value: float, pixels: float) -> float:
        if self.log:
            value = math.log10(max(value, self.low))
            low, high = math.log10(self.low), math.log10(self.high)
        else:
            low, high = self.low, self.high
        return 0.0 if high <= low else (value - low) / (high - low) * pixels


def _nice_ticks(low: float, high: float, count: int = 5) -> list[tuple[float, str]]:
    if high <= low:
        return [(low, f"{low:g}")]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw), default=raw)
    first = math.ceil(low / step) * step
    return [(first + i * step, f"{first + i * step:g}") for i in range(count + 2) if first + i * step <= high]


def _log_ticks(low: float, high: float) -> list[tuple[float, str]]:
    ticks = []
    exponent = math.floor(math.log10(low))
    while 10**exponent <= high * 1.0001:
        value = 10.0**exponent
        if value >= low:
            ticks.append((value, f"{value:g}"))
        exponent += 1
    return ticks


def axis_for(values: Sequence[float], *, log: bool = False, floor: float = 0.0, pad: bool = True) -> Axis:
    finite = [v for v in values if math.isfinite(v)] or [0.0, 1.0]
    if log:
        positive = [v for v in finite if v > 0] or [1.0]
        low = 10 ** math.floor(math.log10(min(positive)))
        high = 10 ** math.ceil(math.log10(max(positive) * 1.0001))
        return Axis(low, high, True, _log_ticks(low, high))
    low, high = min(min(finite), floor), max(finite)
    if low > 0:
        # A resource hovering around 110 MiB: show its movement, with a margin below and above.
        margin = max((high - low) * 0.2, abs(high) * 0.01, 1e-9)
        return Axis(low - margin, high + margin, False, _nice_ticks(low - margin, high + margin))
    # Values get 10 % headroom; a time axis ends where the run ended.
    high = (high * 1.1 if pad else high) if high > 0 else 1.0
    return Axis(low, high, False, _nice_ticks(low, high))


def _frame(
    title: str,
    x_axis: Axis,
    y_axis: Axis,
    x_label: str,
    y_label: str,
    *,
    x_ticks: list[tuple[float, str]] | None = None,
) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="11">',
        f'<text x="{LEFT}" y="14" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#999"/>',
    ]
    for value, label in y_axis.ticks:
        y = TOP + plot_h - y_axis.scale(value, plot_h)
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>')
    for value, label in x_ticks if x_ticks is not None else x_axis.ticks:
        x = LEFT + x_axis.scale(value, plot_w)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 4}" stroke="#999"/>')
        parts.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{escape(label)}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" text-anchor="middle">{escape(x_label)}</text>')
    parts.append(
        f'<text x="14" y="{TOP + plot_h / 2}" text-anchor="middle" transform="rotate(-90 14 {TOP + plot_h / 2})">'
        f"{escape(y_label)}</text>"
    )
    return parts


def _legend(names: Sequence[str], *, colour_offset: int = 0) -> list[str]:
    # A row of its own between the title and the plot, so that long titles never collide with it.
    parts, x = [], LEFT
    for index, name in enumerate(names):
        colour = PALETTE[(index + colour_offset) % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="21" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="30">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return parts


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    log_y: bool = False,
    bands: Sequence[Band] = (),
    x_ticks: list[tuple[float, str]] | None = None,
    y_from_zero: bool = True,
) -> str:
    xs = [x for s in series for x, _ in s.points] or [0.0, 1.0]
    ys = [y for s in series for _, y in s.points]
    x_axis = axis_for([*xs, *(b.end for b in bands)], pad=False)
    y_axis = axis_for(ys, log=log_y, floor=0.0 if y_from_zero or not ys else min(ys))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _frame(title, x_axis, y_axis, x_label, y_label, x_ticks=x_ticks)
    for band in bands:
        x0, x1 = LEFT + x_axis.scale(band.start, plot_w), LEFT + x_axis.scale(band.end, plot_w)
        colour = BAND_COLOURS.get(band.label, "#f4f8fb")
        parts.insert(
            3, f'<rect x="{x0:.1f}" y="{TOP}" width="{max(x1 - x0, 0):.1f}" height="{plot_h}" fill="{colour}"/>'
        )
        parts.append(f'<text x="{x0 + 3:.1f}" y="{TOP + 11}" fill="#666">{escape(band.label)}</text>')
    for index, line in enumerate(series):
        if not line.points:
            continue
        path = " ".join(
            f"{LEFT + x_axis.scale(x, plot_w):.1f},{TOP + plot_h - y_axis.scale(y, plot_h):.1f}" for x, y in line.points
        )
        dash = ' stroke-dasharray="5 3"' if line.dashed else ""
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.6"{dash} points="{path}"/>')
    parts += _legend([s.name for s in series])
    parts.append("</svg>")
    return "\n".join(parts)


def stacked_bars(
    title: str, x_values: Sequence[float], stacks: Mapping[str, Sequence[float]], *, x_label: str, y_label: str
) -> str:
    totals = [sum(values[i] for values in stacks.values()) for i in range(len(x_values))] or [0.0]
    x_axis = axis_for([*x_values, (max(x_values) + 1) if x_values else 1.0])
    y_axis = axis_for([*totals, 1.0])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _frame(title, x_axis, y_axis, x_label, y_label)
    bar_w = max(1.0, plot_w / max(len(x_values), 1) * 0.8)
    for i, x in enumerate(x_values):
        base = 0.0
        for index, values in enumerate(stacks.values()):
            if values[i] <= 0:
                continue
            y0, y1 = y_axis.scale(base, plot_h), y_axis.scale(base + values[i], plot_h)
            colour = PALETTE[(index + 1) % len(PALETTE)]
            parts.append(
                f'<rect x="{LEFT + x_axis.scale(x, plot_w):.1f}" y="{TOP + plot_h - y1:.1f}" width="{bar_w:.1f}" '
                f'height="{max(y1 - y0, 0.5):.1f}" fill="{colour}"/>'
            )
            base += values[i]
    if not any(any(v > 0 for v in values) for values in stacks.values()):
        parts.append(
            f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" fill="#2ca02c">no errors</text>'
        )
    parts += _legend(list(stacks), colour_offset=1)
    parts.append("</svg>")
    return "\n".join(parts)
