"""Builders for small runs against loopback servers, shared by the toolkit's unit tests."""

from __future__ import annotations

from llm_loadtest.load.engine import RunOptions
from llm_loadtest.load.runner import OpenLoopSettings, Stage
from llm_loadtest.load.scenarios import Scenario
from llm_loadtest.load.schedule import constant
from llm_loadtest.metrics.health import HealthLimits

# Tests about latency semantics must not turn inconclusive because a CI machine is busy.
LENIENT = HealthLimits(loop_lag_p99_ms=10_000, dispatch_delay_p99_ms=10_000, cpu_percent=10_000, late_drop_fraction=1)


def open_loop(
    target: str,
    *,
    rate: float,
    seconds: float,
    thresholds: tuple[str, ...] = (),
    health_limits: HealthLimits = LENIENT,
    settings: OpenLoopSettings | None = None,
) -> RunOptions:
    scenario = Scenario("open", "open", {"get": 1.0}, tuple(constant(rate, seconds)))
    return RunOptions(
        target=target,
        scenario=scenario,
        thresholds=thresholds,
        poll_results=False,
        health_limits=health_limits,
        open_loop=settings or OpenLoopSettings(request_timeout_seconds=5.0),
    )


def closed_loop(target: str, *, users: int, seconds: float) -> RunOptions:
    scenario = Scenario("closed", "closed", {"get": 1.0}, stages=(Stage("steady", users, seconds),))
    return RunOptions(
        target=target,
        scenario=scenario,
        poll_results=False,
        health_limits=LENIENT,
        open_loop=OpenLoopSettings(request_timeout_seconds=5.0),
    )
