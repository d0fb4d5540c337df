"""Measuring for the performance tier: bounded timing loops, HDR summaries and a record of every gated value.

Set LLM_PROVIDER_PERF_LOG=path to append one JSON line per gate (test, metric, value, bound): that is how the
thresholds in docs/testing.md were calibrated (measure several runs, then bound with headroom).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from llm_loadtest.metrics.histograms import Summary, new_histogram, record_ns, summarize
from tests.performance.baseline import HostSpeed

LOG_ENV = "LLM_PROVIDER_PERF_LOG"


@dataclass(frozen=True, slots=True)
class Gate:
    """Records a measured value beside its bound (JUnit property + optional JSON line), then asserts it."""

    node: str
    record: Callable[[str, object], None]

    def below(self, metric: str, value: float, bound: float, *, host: HostSpeed | None = None) -> None:
        """value <= bound; with `host`, the bound (a latency on the calibration host) is scaled to this host."""
        scaled = bound if host is None else bound * host.latency_factor
        note = self._log(metric, value, "<=", scaled, bound, host)
        assert value <= scaled, f"{metric} = {value:.4g}, bound <= {scaled:.4g}{note}{_load_note()}"

    def above(self, metric: str, value: float, bound: float, *, host: HostSpeed | None = None) -> None:
        """value >= bound; with `host`, the bound (a rate on the calibration host) is scaled to this host."""
        scaled = bound if host is None else bound / host.factor
        note = self._log(metric, value, ">=", scaled, bound, host)
        assert value >= scaled, f"{metric} = {value:.4g}, bound >= {scaled:.4g}{note}{_load_note()}"

    def ratio_below(self, metric: str, value: float, baseline_name: str, baseline: float, max_ratio: float) -> None:
        """value <= max_ratio x a baseline measured in the same run; a failure prints the baseline."""
        ratio = value / max(baseline, 1e-9)
        self._log(f"{metric}_over_{baseline_name}", ratio, "<=", max_ratio, max_ratio, None, baseline)
        assert ratio <= max_ratio, (
            f"{metric} = {value:.4g} is {ratio:.3g} x {baseline_name} = {baseline:.4g} (same run), "
            f"bound <= {max_ratio:g} x{_load_note()}"
        )

    def ratio_above(self, metric: str, value: float, baseline_name: str, baseline: float, min_ratio: float) -> None:
        """value >= min_ratio x a baseline measured in the same run; a failure prints the baseline."""
        ratio = value / max(baseline, 1e-9)
        self._log(f"{metric}_over_{baseline_name}", ratio, ">=", min_ratio, min_ratio, None, baseline)
        assert ratio >= min_ratio, (
            f"{metric} = {value:.4g} is {ratio:.3g} x {baseline_name} = {baseline:.4g} (same run), "
            f"bound >= {min_ratio:g} x{_load_note()}"
        )

    def _log(
        self,
        metric: str,
        value: float,
        op: str,
        bound: float,
        reference: float,
        host: HostSpeed | None,
        baseline: float | None = None,
    ) -> str:
        note = "" if host is None else f" (= {reference:g} on the calibration host, {host.describe()})"
        self.record(metric, f"{value:.6g} (bound {op} {bound:g}{note})")
        path = os.environ.get(LOG_ENV)
        if path:
            line: dict[str, object] = {"test": self.node, "metric": metric, "value": value, "op": op, "bound": bound}
            if host is not None:
                line |= {"reference_bound": reference, "factor": host.factor, "slowdown": host.slowdown,
                         "contention": host.contention.factor, "floor_rps": host.floor.requests_per_second}  # fmt: skip
            if baseline is not None:
                line["baseline"] = baseline
            with open(path, "a", encoding="utf-8") as log:
                log.write(json.dumps(line) + "\n")
        return note


def _load_note() -> str:
    """Bounds were calibrated on an otherwise idle machine; a failure under foreign load says so."""
    load_1min = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    busy = " - the machine is busy (another test suite?), rerun alone" if load_1min > cores else ""
    return f" [load average {load_1min:.1f} on {cores} cores{busy}]"


def summary_of(samples_ns: list[int]) -> Summary:
    histogram = new_histogram()
    for sample in samples_ns:
        record_ns(histogram, sample)
    return summarize(histogram)


async def latencies(
    call: Callable[[int], Awaitable[object]], *, count: int, max_seconds: float, warmup: int = 20
) -> list[int]:
    """Latency (ns) of `call(i)` run one after another, `count` times or until `max_seconds`, after a warm-up."""
    for index in range(warmup):
        await call(-index - 1)
    samples: list[int] = []
    deadline = time.perf_counter() + max_seconds
    for index in range(count):
        start = time.perf_counter_ns()
        await call(index)
        samples.append(time.perf_counter_ns() - start)
        if time.perf_counter() > deadline:
            break
    return samples


async def rate(call: Callable[[int], Awaitable[int]], *, rounds: int, max_seconds: float) -> float:
    """Operations per second of `call(round) -> operations done`, over `rounds` rounds or `max_seconds`."""
    done = 0
    start = time.perf_counter()
    for index in range(rounds):
        done += await call(index)
        if time.perf_counter() - start > max_seconds:
            break
    return done / (time.perf_counter() - start)
