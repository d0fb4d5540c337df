"""A saturated generator makes the verdict inconclusive (exit 2), never a silent pass or fail."""

from __future__ import annotations

import time
from pathlib import Path

from typer.testing import CliRunner

from llm_loadtest.cli import app
from llm_loadtest.demo import free_port
from llm_loadtest.load.engine import execute
from llm_loadtest.load.runner import OpenLoopSettings
from llm_loadtest.load.schedule import Arrival
from llm_loadtest.metrics.health import HealthLimits
from llm_loadtest.metrics.outcomes import Outcome, Response
from llm_loadtest.metrics.result import ExitCode
from tests.unit.loadtest.runs import open_loop


async def blocking_send(arrival: Arrival) -> Response:
    """Simulates a generator whose event loop is blocked: 20 ms of synchronous work per request."""
    time.sleep(0.02)  # noqa: ASYNC251 - the point of this fake is to block the loop
    return Response(Outcome.OK, 200)


async def test_blocked_event_loop_is_inconclusive_even_when_thresholds_fail() -> None:
    options = open_loop(
        "http://127.0.0.1:9",
        rate=200,
        seconds=1.0,
        thresholds=("scheduled_latency: p99<0.001ms",),
        health_limits=HealthLimits(),
        settings=OpenLoopSettings(max_lag_seconds=0.2),
    )
    result = await execute(options, send=blocking_send)
    assert result.health is not None
    assert not result.health.healthy
    assert any("dispatch delay" in problem for problem in result.health.problems)
    assert not result.thresholds[0].passed
    assert result.exit_code is ExitCode.INCONCLUSIVE
    assert result.verdict == "inconclusive"


def test_cli_exits_2_when_the_generator_cannot_keep_its_schedule(tmp_path: Path) -> None:
    closed_port = free_port()  # nothing listens: every request that starts fails fast
    outcome = CliRunner().invoke(
        app,
        [
            "run", "load", "--target", f"http://127.0.0.1:{closed_port}", "--rate", "2000", "--duration", "0.5",
            "--warmup", "0", "--max-lag", "0.000001", "--no-poll", "--out", str(tmp_path),
        ],
    )  # fmt: skip
    assert outcome.exit_code == 2, outcome.output
    assert "inconclusive" in outcome.output.lower()
    assert (tmp_path / "result.json").is_file()
