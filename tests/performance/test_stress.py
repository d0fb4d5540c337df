"""Stress: closed-loop concurrency ramps against a real `llm-provider serve` — capacity, never latency SLOs.

Gates: the only errors allowed are 503/429 with Retry-After (never another 5xx), and throughput does not collapse
as users grow (last stage against the best stage, a ratio, so machine speed cancels out); absolute capacity floors
are written for the calibration host and divided by the host's same-run slowdown (`host`).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from llm_loadtest.load.e2e import JobTracker
from llm_loadtest.load.engine import Collector
from llm_loadtest.load.recorder import RequestRecorder
from llm_loadtest.load.runner import run_closed_loop
from llm_loadtest.metrics.measurements import Measurements
from tests.performance.baseline import HostSpeed
from tests.performance.measure import Gate
from tests.performance.runs import RecordingClient, closed_scenario
from tests.performance.service import ServiceProcess

pytestmark = pytest.mark.performance

USERS = [1, 4, 16, 64]
STAGE_SECONDS = 1.5


async def ramp(target: str, users: list[int], mix: dict[str, float]) -> tuple[RecordingClient, dict[str, float]]:
    """Runs the ramp with the status-recording client; returns it and OK answers per second per stage."""
    scenario = closed_scenario("stress", users, STAGE_SECONDS, mix)
    measurements = Measurements(scenario="stress", window_seconds=1.0)
    sink = Collector(RequestRecorder(measurements, open_loop=False), JobTracker(measurements, run_id="stress"))
    async with RecordingClient(target) as client:
        await run_closed_loop(scenario.stages, client.send, sink, mix=mix, seed=3, request_timeout_seconds=10.0)
    per_stage = {
        stage.phase: measurements.count(phase=stage.phase, outcome="ok") / stage.duration_seconds
        for stage in scenario.stages
    }
    return client, per_stage


def check_errors(client: RecordingClient) -> None:
    assert client.log.unexpected({200, 202, 429, 503}) == {}, f"statuses: {dict(client.log.statuses)}"
    assert not client.log.missing_retry_after, f"429/503 without Retry-After: {dict(client.log.missing_retry_after)}"


async def test_comparison_concurrency_ramp(service: ServiceProcess, gate: Gate, host: HostSpeed) -> None:
    client, per_stage = await ramp(service.base_url, USERS, {"comparison": 1.0})
    check_errors(client)
    gate.above("comparison_peak_accepts_per_second", max(per_stage.values()), 150, host=host)
    gate.above("comparison_last_over_peak_throughput", per_stage["users-64"] / max(per_stage.values()), 0.5)


async def test_chat_concurrency_ramp(service: ServiceProcess, gate: Gate, host: HostSpeed) -> None:
    client, per_stage = await ramp(service.base_url, USERS, {"chat": 1.0})
    check_errors(client)
    gate.above("chat_peak_per_second", max(per_stage.values()), 1500, host=host)
    gate.above("chat_last_over_peak_throughput", per_stage["users-64"] / max(per_stage.values()), 0.5)
    # Concurrency pays only with CPU to spare: foreign load takes that first, so the bound is scaled to the host too.
    gate.above("chat_16_users_over_1_user", per_stage["users-16"] / per_stage["users-1"], 1.2, host=host)


async def test_full_queue_answers_503_with_retry_after(
    start_service: Callable[..., ServiceProcess], gate: Gate, host: HostSpeed
) -> None:
    """A small queue and a slow provider: beyond capacity the API sheds load with 503 + Retry-After, nothing else."""
    service = start_service("serve", queue_capacity="50", worker_concurrency="2", mock_latency_model="fixed",
                            mock_latency_ms="500")  # fmt: skip
    client, _ = await ramp(service.base_url, [32], {"comparison": 1.0})
    check_errors(client)
    assert client.log.statuses[503] > 0, f"the queue never filled: {dict(client.log.statuses)}"
    gate.above("shed_503_answers", client.log.statuses[503], 40, host=host)
    gate.below("accepted_beyond_capacity", client.log.statuses[202], 50 + 2 * 3 * STAGE_SECONDS + 10)


async def test_gateway_concurrency_limit_sheds_with_retry_after(
    start_service: Callable[..., ServiceProcess], gate: Gate, host: HostSpeed
) -> None:
    """Per-provider limit 4 with a 50 ms provider and 64 users: excess calls get 503 + Retry-After at once."""
    service = start_service("serve", provider_concurrency='{"mock": 4}', mock_latency_model="fixed",
                            mock_latency_ms="50")  # fmt: skip
    client, per_stage = await ramp(service.base_url, [64], {"chat": 1.0})
    check_errors(client)
    # Four slots of 50 ms each: at most ~80 answers/s can succeed; the rest must be shed, not queued.
    gate.below("limited_ok_per_second", per_stage["users-64"], 4 / 0.05 * 1.2)
    gate.above("limited_ok_per_second_floor", per_stage["users-64"], 4 / 0.05 * 0.5, host=host)
    assert client.log.statuses[503] + client.log.statuses[429] > 0
