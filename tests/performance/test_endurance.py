"""Endurance: one mixed quick/detailed/batch open-loop run (Poisson) with resource sampling; several facets gated.

At CI length (20 s measured after a 4 s warm-up) this detects gross degradation and leaks; the toolkit's own leak
verdict needs >= 2 minutes, so run `llm-provider perf run endurance --duration 600` for a real soak. The slope here
is the toolkit's Theil-Sen over the service PID's RSS; bounds are wide because 20 s of RSS is mostly start-up noise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop

from llm_loadtest.load.resources import ResourceTargets
from llm_loadtest.load.schedule import poisson, with_warmup
from llm_loadtest.metrics.leak import theil_sen
from llm_loadtest.metrics.result import RunResult
from tests.performance.measure import Gate
from tests.performance.runs import open_scenario, run, value
from tests.performance.service import Infrastructure, ServiceProcess

pytestmark = pytest.mark.performance

RATE_PER_SECOND = 50.0
SECONDS = 20.0
WARMUP_SECONDS = 4.0
MIX = {"quick": 6.0, "detailed": 2.0, "batch": 2.0}


@pytest.fixture(scope="module")
def soak(module_infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunResult]:
    data_dir: Path = tmp_path_factory.mktemp("endurance")
    with ServiceProcess(module_infra, data_dir, "serve") as service:
        resources = ResourceTargets(pid=service.pid, redis_url=module_infra.redis_url,
                                    metrics_url=f"{service.base_url}/metrics", interval_seconds=0.5)  # fmt: skip
        scenario = open_scenario("endurance", with_warmup(poisson(RATE_PER_SECOND, SECONDS), WARMUP_SECONDS), MIX)
        yield uvloop.run(run(service.base_url, scenario, kafka_bootstrap_servers=module_infra.kafka_bootstrap_servers,
                             resources=resources))  # fmt: skip


def slope_per_minute(result: RunResult, series: str) -> tuple[float, float]:
    """(Theil-Sen slope, upper 95 % bound) per minute of a sampled series, warm-up excluded."""
    data = result.resources["series"][series]
    kept = [(s, v) for s, v in zip(data["seconds"], data["values"], strict=True) if s >= WARMUP_SECONDS]
    slope = theil_sen([s / 60.0 for s, _ in kept], [v for _, v in kept])
    assert slope is not None, f"too few samples of {series}: {len(kept)}"
    return slope.slope, slope.high


def test_no_latency_degradation_late_vs_early(soak: RunResult, gate: Gate) -> None:
    gate.below("late_over_early_p99", soak.scalars["degradation"]["late_early_p99"], 3.0)


def test_every_workload_succeeds(soak: RunResult, gate: Gate) -> None:
    for workload in MIX:
        gate.above(f"{workload}_success_rate", value(soak, "success", "rate", endpoint=workload), 0.999)


def test_accept_latency_per_workload(soak: RunResult, gate: Gate) -> None:
    for workload in MIX:
        gate.below(f"{workload}_accept_scheduled_p99_ms",
                   value(soak, "scheduled_latency", "p99", endpoint=workload), 150.0)  # fmt: skip


def test_mixed_jobs_complete_within_bound(soak: RunResult, gate: Gate) -> None:
    for workload in MIX:
        gate.below(f"{workload}_accept_to_callback_p99_ms",
                   value(soak, "accept_to_callback", "p99", endpoint=workload), 1500.0)  # fmt: skip


def test_every_mixed_job_reconciled(soak: RunResult) -> None:
    audit = soak.e2e["audit"]
    assert audit["reconciled"], audit
    assert audit["accepted"] >= RATE_PER_SECOND * SECONDS * 0.8


def test_service_rss_does_not_grow(soak: RunResult, gate: Gate) -> None:
    slope, _ = slope_per_minute(soak, "rss_mib")
    gate.below("rss_slope_mib_per_minute", slope, 30.0)
    gate.below("rss_peak_mib", max(soak.resources["series"]["rss_mib"]["values"]), 250.0)


def test_open_fds_and_redis_memory_stay_flat(soak: RunResult, gate: Gate) -> None:
    fds = soak.resources["series"]["open_fds"]["values"]
    gate.below("open_fds_growth_after_warmup", max(fds) - fds[len(fds) // 4], 20.0)
    slope, _ = slope_per_minute(soak, "redis_used_memory_mib")
    gate.below("redis_memory_slope_mib_per_minute", slope, 5.0)


def test_outbox_backlog_stays_small(soak: RunResult, gate: Gate) -> None:
    backlog = soak.resources["series"]["outbox_backlog"]["values"]
    gate.below("outbox_backlog_max_events", max(backlog), 200.0)
