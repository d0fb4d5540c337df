"""Endurance: one mixed quick/detailed/batch open-loop run (Poisson) with resource sampling; several facets gated.

At CI length (20 s measured after a 4 s warm-up) this detects gross degradation and leaks; the toolkit's own leak
verdict needs >= 2 minutes, so run `llm-provider perf run endurance --duration 600` for a real soak. The slope here
is the toolkit's Theil-Sen over the service PID's RSS; bounds are wide because 20 s of RSS is mostly start-up noise.
Latency and backlog bounds are written for the calibration host and scaled by the slowdown the floor showed before or
after the run, whichever was worse (`Soak.host`); the late/early ratio and the resource slopes need no scaling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvloop

from llm_loadtest.load.resources import ResourceTargets
from llm_loadtest.load.scenarios import Scenario
from llm_loadtest.load.schedule import poisson, with_warmup
from llm_loadtest.metrics.histograms import merged, percentile_ms
from llm_loadtest.metrics.leak import theil_sen
from llm_loadtest.metrics.result import RunResult
from tests.performance.baseline import (
    LATENCY_EXPONENT,
    FloorServer,
    HostSpeed,
    contention_factor,
    snapshots_at,
    wait_per_run,
)
from tests.performance.measure import Gate
from tests.performance.runs import open_scenario, run, value
from tests.performance.service import Infrastructure, ServiceProcess

pytestmark = pytest.mark.performance

# 50/s saturated the slowest host of this kind (accept p99 219 ms there); 20/s leaves it headroom.
RATE_PER_SECOND = 20.0
SECONDS = 20.0
WARMUP_SECONDS = 4.0
MIX = {"quick": 6.0, "detailed": 2.0, "batch": 2.0}


@dataclass(frozen=True, slots=True)
class Soak:
    result: RunResult
    host: HostSpeed
    late_over_early_contention: float


# The toolkit compares the p99 of the last fifth of the steady windows with the first fifth's.
FIFTH_SECONDS = SECONDS / 5


@pytest.fixture(scope="module")
def soak(module_infra: Infrastructure, floor: FloorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Soak]:
    data_dir: Path = tmp_path_factory.mktemp("endurance")
    with ServiceProcess(module_infra, data_dir, "serve") as service:
        resources = ResourceTargets(pid=service.pid, redis_url=module_infra.redis_url,
                                    metrics_url=f"{service.base_url}/metrics", interval_seconds=0.5)  # fmt: skip
        scenario = open_scenario("endurance", with_warmup(poisson(RATE_PER_SECOND, SECONDS), WARMUP_SECONDS), MIX)
        yield uvloop.run(_measure(service.base_url, scenario, resources, module_infra, floor))


async def _measure(
    target: str, scenario: Scenario, resources: ResourceTargets, infra: Infrastructure, floor: FloorServer
) -> Soak:
    host = await floor.speed()
    # The host's contention in the toolkit's early and late windows: a foreign burst in one of them is not a leak.
    offsets = [WARMUP_SECONDS, WARMUP_SECONDS + FIFTH_SECONDS, WARMUP_SECONDS + SECONDS - FIFTH_SECONDS]
    snapshots = asyncio.ensure_future(snapshots_at([*offsets, WARMUP_SECONDS + SECONDS]))
    result = await run(
        target, scenario, resources=resources, kafka_bootstrap_servers=infra.kafka_bootstrap_servers, host=host
    )
    early_start, early_end, late_start, late_end = await snapshots
    early = contention_factor(wait_per_run(early_start, early_end))
    late = contention_factor(wait_per_run(late_start, late_end))
    return Soak(result, host.with_slowdown_of(await floor.speed()), late / early)


def slope_per_minute(soak: Soak, series: str) -> tuple[float, float]:
    """(Theil-Sen slope, upper 95 % bound) per minute of a sampled series, warm-up excluded."""
    data = soak.result.resources["series"][series]
    kept = [(s, v) for s, v in zip(data["seconds"], data["values"], strict=True) if s >= WARMUP_SECONDS]
    slope = theil_sen([s / 60.0 for s, _ in kept], [v for _, v in kept])
    assert slope is not None, f"too few samples of {series}: {len(kept)}"
    return slope.slope, slope.high


def late_over_early(result: RunResult, percent: float) -> float:
    """A percentile of the last fifth of the steady windows over the first fifth's (the toolkit's split)."""
    windows = sorted((w for w in result.measurements.windows.values() if w.phase != "warmup"), key=lambda w: w.index)
    fifth = max(1, len(windows) // 5)
    early = percentile_ms(merged(window.latency for window in windows[:fifth]), percent)
    late = percentile_ms(merged(window.latency for window in windows[-fifth:]), percent)
    return late / max(early, 0.001)


def test_no_latency_degradation_late_vs_early(
    soak: Soak, gate: Gate, record_property: Callable[[str, object], None]
) -> None:
    # A fifth of this run holds ~120 requests: its p99 is its second-largest sample, one burst of foreign load, so
    # the toolkit's late/early p99 is recorded and p90 (a dozen samples deep) is gated. A window that saw more
    # foreign load than the other widens the bound as any latency bound widens.
    record_property("late_over_early_p99", soak.result.scalars["degradation"]["late_early_p99"])
    contention = max(1.0, soak.late_over_early_contention) ** LATENCY_EXPONENT
    gate.below(f"late_over_early_p90 (bound x {contention:.2f} for the late/early contention)",
               late_over_early(soak.result, 90.0), 3.0 * contention)  # fmt: skip


def test_every_workload_succeeds(soak: Soak, gate: Gate) -> None:
    for workload in MIX:
        gate.above(f"{workload}_success_rate", value(soak.result, "success", "rate", endpoint=workload), 0.999)


def test_accept_latency_per_workload(soak: Soak, gate: Gate) -> None:
    for workload in MIX:
        p99_ms = value(soak.result, "scheduled_latency", "p99", endpoint=workload)
        gate.below(f"{workload}_accept_scheduled_p99_ms", p99_ms, 150.0, host=soak.host)


def test_mixed_jobs_complete_within_bound(soak: Soak, gate: Gate) -> None:
    for workload in MIX:
        p99_ms = value(soak.result, "accept_to_callback", "p99", endpoint=workload)
        gate.below(f"{workload}_accept_to_callback_p99_ms", p99_ms, 1500.0, host=soak.host)


def test_every_mixed_job_reconciled(soak: Soak) -> None:
    audit = soak.result.e2e["audit"]
    assert audit["reconciled"], audit
    assert audit["accepted"] >= RATE_PER_SECOND * SECONDS * 0.8


def test_service_rss_does_not_grow(soak: Soak, gate: Gate) -> None:
    slope, _ = slope_per_minute(soak, "rss_mib")
    gate.below("rss_slope_mib_per_minute", slope, 30.0)
    gate.below("rss_peak_mib", max(soak.result.resources["series"]["rss_mib"]["values"]), 250.0)


def test_open_fds_and_redis_memory_stay_flat(soak: Soak, gate: Gate) -> None:
    # The fewest fds of the last quarter against the fewest of the second: a leak raises the floor of the series,
    # while connections of requests in flight (many, when the host stalls) come and go.
    fds = soak.result.resources["series"]["open_fds"]["values"]
    quarter = max(1, len(fds) // 4)
    gate.below("open_fds_growth_after_warmup", min(fds[-quarter:]) - min(fds[quarter : 2 * quarter]), 20.0)
    slope, _ = slope_per_minute(soak, "redis_used_memory_mib")
    gate.below("redis_memory_slope_mib_per_minute", slope, 5.0)


def test_outbox_backlog_stays_small(soak: Soak, gate: Gate) -> None:
    backlog = soak.result.resources["series"]["outbox_backlog"]["values"]
    gate.below("outbox_backlog_max_events", max(backlog), 200.0, host=soak.host)
