"""End-to-end pipeline, embedded shape: API, worker and outbox relay in one `serve` process on real infrastructure.

Kept apart from test_pipeline.py: that module's worker process shares the Redis database and would claim this
test's jobs (ids unknown to its store).
"""

from __future__ import annotations

import asyncio

import pytest

from llm_loadtest.load.schedule import constant, with_warmup
from tests.performance.baseline import HostSpeed
from tests.performance.measure import Gate
from tests.performance.runs import open_scenario, run, value
from tests.performance.service import Infrastructure, ServiceProcess

pytestmark = pytest.mark.performance

RATE_PER_SECOND = 30.0
SECONDS = 3.0
WARMUP_SECONDS = 1.0


async def test_single_process_pipeline(
    service: ServiceProcess, perf_infra: Infrastructure, gate: Gate, host: HostSpeed
) -> None:
    """The embedded shape: API, worker and relay in one `serve` process; every job called back and reconciled."""
    scenario = open_scenario("pipeline-single", with_warmup(constant(RATE_PER_SECOND, SECONDS), WARMUP_SECONDS),
                             {"comparison": 1.0})  # fmt: skip
    async with asyncio.timeout(90):
        result = await run(
            service.base_url, scenario, kafka_bootstrap_servers=perf_infra.kafka_bootstrap_servers, host=host
        )
    assert result.e2e["audit"]["reconciled"], result.e2e["audit"]
    gate.below("single_process_accept_to_callback_p99_ms", value(result, "accept_to_callback", "p99"), 400.0,
               host=host)  # fmt: skip
