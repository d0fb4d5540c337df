"""Drives a running service with the toolkit (`llm_loadtest.load.engine.execute`) and a status-recording HTTP client.

The toolkit supplies open/closed-loop schedules, HDR recording, Kafka callback tracking and the reconciliation
audit; the tests only choose scenarios and gate the numbers.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Self

import aiohttp
import orjson

from llm_loadtest.load.engine import RunOptions, execute
from llm_loadtest.load.kafka_callbacks import KafkaSettings
from llm_loadtest.load.payloads import PayloadFactory, endpoint_of
from llm_loadtest.load.resources import ResourceTargets
from llm_loadtest.load.runner import OpenLoopSettings, Stage
from llm_loadtest.load.scenarios import Scenario
from llm_loadtest.load.schedule import Segment
from llm_loadtest.metrics.health import HealthLimits
from llm_loadtest.metrics.outcomes import Outcome, Response, outcome_for_status
from llm_loadtest.metrics.result import RunResult
from tests.kafka_settings import TEST_KAFKA_SESSION_TIMEOUT_MS
from tests.performance.baseline import HostSpeed

# The generator shares two cores with the service, Redis, PostgreSQL and Kafka; the default 20 ms loop-lag limit
# would call most runs inconclusive. The lag limits are checked here, scaled to the host like any latency bound
# (a busy host delays the generator as much as the service); every test asserts the run was not inconclusive.
CO_LOCATED_LAG_P99_MS = 50.0
CO_LOCATED_HEALTH = HealthLimits(loop_lag_p99_ms=float("inf"), dispatch_delay_p99_ms=float("inf"), cpu_percent=100.0)


def open_scenario(name: str, segments: list[Segment], mix: Mapping[str, float]) -> Scenario:
    return Scenario(name, "open", dict(mix), tuple(segments), window_seconds=1.0)


def closed_scenario(name: str, users: list[int], stage_seconds: float, mix: Mapping[str, float]) -> Scenario:
    stages = tuple(Stage(f"users-{count}", count, stage_seconds) for count in users)
    return Scenario(name, "closed", dict(mix), stages=stages, window_seconds=1.0)


async def run(
    target: str,
    scenario: Scenario,
    *,
    kafka_bootstrap_servers: str | None = None,
    resources: ResourceTargets | None = None,
    callback_topic: str | None = None,
    drain_seconds: float = 20.0,
    seed: int = 7,
    host: HostSpeed | None = None,
) -> RunResult:
    """One toolkit run; with Kafka, callbacks go to `callback_topic` (default: a fresh one) and the audit runs."""
    kafka = None
    if kafka_bootstrap_servers is not None:
        kafka = KafkaSettings(
            kafka_bootstrap_servers,
            callback_topic or f"perf-callbacks-{uuid.uuid4().hex[:10]}",
            session_timeout_ms=TEST_KAFKA_SESSION_TIMEOUT_MS,
        )
    options = RunOptions(
        target=target,
        scenario=scenario,
        seed=seed,
        open_loop=replace(OpenLoopSettings(), request_timeout_seconds=10.0),
        health_limits=CO_LOCATED_HEALTH,
        kafka=kafka,
        poll_results=False,
        drain_seconds=drain_seconds,
        resources=resources,
        audit=kafka is not None,
    )
    result = await execute(options)
    health = result.health
    assert health is not None
    limit = CO_LOCATED_LAG_P99_MS if host is None else CO_LOCATED_LAG_P99_MS * host.latency_factor
    problems = list(health.problems)
    for name, measured in (
        ("event-loop lag", health.loop_lag_p99_ms),
        ("dispatch delay", health.dispatch_delay_p99_ms),
    ):
        if measured > limit:
            problems.append(f"{name} p99 {measured:.1f} ms > limit {limit:.1f} ms")
    where = "" if host is None else f" ({host.describe()})"
    assert not problems, f"generator unhealthy, the run is inconclusive: {problems}{where}"
    return result


def value(result: RunResult, metric: str, aggregate: str, **tags: str) -> float:
    """A measured aggregate (latencies in ms); fails the test when the run produced no data for it."""
    found = result.value(metric, tags, aggregate)
    assert found is not None, f"no data for {metric}{tags}:{aggregate}"
    return found


@dataclass(slots=True)
class StatusLog:
    """Every HTTP status seen, and how many error answers lacked a Retry-After header."""

    statuses: Counter[int] = field(default_factory=Counter)
    missing_retry_after: Counter[int] = field(default_factory=Counter)

    def unexpected(self, allowed: set[int]) -> dict[int, int]:
        return {status: count for status, count in self.statuses.items() if status not in allowed}


class RecordingClient:
    """A `send` for the toolkit's runners that also keeps each status and checks Retry-After on 429/503."""

    def __init__(self, target: str, *, seed: int = 7) -> None:
        self._target = target.rstrip("/")
        self._payloads = PayloadFactory(seed=seed, run_id=uuid.uuid4().hex[:16])
        self._session: aiohttp.ClientSession | None = None
        self.log = StatusLog()

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1024), timeout=aiohttp.ClientTimeout(total=10.0)
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, arrival: Any) -> Response:
        assert self._session is not None
        workload: str = arrival.workload
        path = endpoint_of(workload)
        body: dict[str, Any] = (
            self._payloads.chat(model="mock/mock-comparison-v1")
            if workload == "chat"
            else self._payloads.comparison(workload, callback_topic=None)
        )
        async with self._session.post(f"{self._target}{path}", data=orjson.dumps(body),
                                      headers={"content-type": "application/json"}) as response:  # fmt: skip
            await response.read()
            self.log.statuses[response.status] += 1
            if response.status in {429, 503} and "retry-after" not in response.headers:
                self.log.missing_retry_after[response.status] += 1
            outcome = outcome_for_status(response.status)
        return Response(outcome, response.status) if outcome is not Outcome.OK else Response(Outcome.OK, 200)
