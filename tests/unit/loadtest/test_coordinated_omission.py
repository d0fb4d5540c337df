"""A 1 s server stall shows in the open-loop scheduled latency p99 and hides from a closed-loop run."""

from __future__ import annotations

from llm_loadtest.load.engine import execute
from llm_loadtest.metrics.histograms import summarize
from llm_loadtest.metrics.measurements import SCHEDULED_LATENCY, SERVICE_LATENCY
from tests.unit.loadtest.runs import closed_loop, open_loop
from tests.unit.loadtest.servers import ScriptedServer


async def test_open_loop_scheduled_latency_shows_the_stall() -> None:
    async with ScriptedServer(stall_after_seconds=0.5, stall_seconds=1.0) as server:
        result = await execute(open_loop(server.url, rate=100, seconds=2.0))
    latency = summarize(result.measurements.select(SCHEDULED_LATENCY, {"outcome": "ok"}))
    # Arrivals keep their schedule during the stall, so ~half of them wait for it: p99 is about the stall.
    assert latency.count == 200
    assert latency.p99_ms >= 800
    assert latency.p90_ms >= 500


async def test_closed_loop_latency_hides_the_same_stall() -> None:
    async with ScriptedServer(stall_after_seconds=0.5, stall_seconds=1.0) as server:
        result = await execute(closed_loop(server.url, users=1, seconds=2.0))
    service = summarize(result.measurements.select(SERVICE_LATENCY, {"outcome": "ok"}))
    # The one user waited once for the whole second; every other sample is fast, so p99 stays small.
    assert service.max_ms >= 800
    assert service.count > 200
    assert service.p99_ms < 100
    # Closed loop: intended == sent, the omission is built in, so no "scheduled" latency is even recorded.
    assert summarize(result.measurements.select(SCHEDULED_LATENCY, {})).count == 0
