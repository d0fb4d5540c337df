"""Runs one scenario against a target and assembles the RunResult (measurements, health, e2e, verdict)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from llm_loadtest.load.e2e import JobTracker
from llm_loadtest.load.gates import COMPLETED, async_workloads, completion, with_defaults
from llm_loadtest.load.http_client import HttpSettings, HttpTarget
from llm_loadtest.load.kafka_callbacks import CallbackConsumer, KafkaSettings
from llm_loadtest.load.payloads import PayloadFactory
from llm_loadtest.load.reconcile import audit_jobs, poll_results
from llm_loadtest.load.recorder import RequestRecorder
from llm_loadtest.load.resources import ResourceSampler, ResourceTargets
from llm_loadtest.load.runner import Attempt, OpenLoopSettings, SendFn, run_closed_loop, run_open_loop
from llm_loadtest.load.scenarios import Scenario, check_thresholds
from llm_loadtest.load.schedule import build, phase_bounds, planned_rate, total_seconds
from llm_loadtest.metrics.fingerprint import fingerprint
from llm_loadtest.metrics.health import HealthLimits, LoopLagMonitor, assess
from llm_loadtest.metrics.measurements import Measurements
from llm_loadtest.metrics.phases import late_early_ratio, recovery_time
from llm_loadtest.metrics.result import RunResult
from llm_loadtest.metrics.thresholds import evaluate_all, parse_all

logger = logging.getLogger(__name__)
GATEWAY_OVERHEAD = "gateway_overhead"
# Bound on the reconciliation audit (store reads of every accepted job), which runs before the observers stop.
AUDIT_SECONDS = 60.0
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class RunOptions:
    target: str
    scenario: Scenario
    seed: int = 1
    thresholds: tuple[str, ...] = ()
    open_loop: OpenLoopSettings = field(default_factory=OpenLoopSettings)
    health_limits: HealthLimits = field(default_factory=HealthLimits)
    kafka: KafkaSettings | None = None
    poll_results: bool = True
    poll_interval_seconds: float = 0.2
    max_polls_per_second: float = 100.0
    drain_seconds: float = 30.0
    resources: ResourceTargets | None = None
    api_key: str | None = None
    chat_model: str = "mock/mock-comparison-v1"
    mock: dict[str, Any] = field(default_factory=dict)
    audit: bool = True
    # False: only `thresholds` gate (the scenario's defaults and the completion gate are dropped).
    default_gates: bool = True


class Collector:
    """The runners' sink: request histograms, accepted-job tracking and gateway overhead."""

    def __init__(self, recorder: RequestRecorder, tracker: JobTracker) -> None:
        self.recorder = recorder
        self.tracker = tracker

    def __call__(self, attempt: Attempt) -> None:
        self.recorder(attempt)
        facts = attempt.response.facts
        queue_id = facts.get("queue_id")
        if isinstance(queue_id, str):
            self.tracker.accepted(
                queue_id,
                workload=attempt.arrival.workload,
                phase=attempt.arrival.phase,
                intended_ns=attempt.intended_ns,
                done_ns=attempt.done_ns,
            )
        intrinsic_ms = facts.get("intrinsic_ms")
        if isinstance(intrinsic_ms, float) and attempt.sent_ns is not None:
            overhead_ns = attempt.done_ns - attempt.sent_ns - round(intrinsic_ms * 1_000_000)
            self.recorder.measurements.record(
                GATEWAY_OVERHEAD, max(overhead_ns, 0), endpoint=attempt.arrival.workload, phase=attempt.arrival.phase
            )


def _settings_of(options: RunOptions) -> dict[str, Any]:
    scenario = options.scenario
    return {
        "target": options.target,
        "seed": options.seed,
        "scenario": {
            "name": scenario.name,
            "model": scenario.model,
            "mix": dict(scenario.mix),
            "segments": [asdict(s) for s in scenario.segments],
            "stages": [asdict(s) for s in scenario.stages],
            "window_seconds": scenario.window_seconds,
        },
        "thresholds": list(options.thresholds),
        "open_loop": asdict(options.open_loop),
        "health_limits": asdict(options.health_limits),
        "kafka": None if options.kafka is None else asdict(options.kafka),
        "mock": options.mock,
    }


async def _drain(tracker: JobTracker, *, seconds: float, step_seconds: float = 0.05) -> None:
    """Wait (bounded) for the callbacks or results of accepted jobs still in flight."""
    for _ in range(max(1, round(seconds / step_seconds))):
        if tracker.outstanding <= 0:
            return
        await asyncio.sleep(step_seconds)


async def _load(options: RunOptions, send: SendFn, collector: Collector, progress: Progress | None) -> float:
    scenario = options.scenario
    if scenario.model == "closed":
        await run_closed_loop(
            scenario.stages,
            send,
            collector,
            mix=scenario.mix,
            seed=options.seed,
            request_timeout_seconds=options.open_loop.request_timeout_seconds,
        )
        return sum(stage.duration_seconds for stage in scenario.stages)
    arrivals = build(scenario.segments, seed=options.seed, mix=scenario.mix)
    total = len(arrivals)
    await run_open_loop(
        arrivals,
        send,
        collector,
        settings=options.open_loop,
        on_dispatch=None if progress is None else (lambda done: progress(done, total)),
    )
    return total_seconds(scenario.segments)


@dataclass(slots=True)
class _Run:
    """The per-run objects the phases of `execute` share."""

    options: RunOptions
    run_id: str
    measurements: Measurements
    tracker: JobTracker
    collector: Collector
    monitor: LoopLagMonitor
    sampler: ResourceSampler | None
    bound_seconds: float

    @classmethod
    def create(cls, options: RunOptions) -> _Run:
        scenario = options.scenario
        measurements = Measurements(scenario=scenario.name, window_seconds=scenario.window_seconds)
        tracker = JobTracker(measurements, run_id=uuid.uuid4().hex[:16])
        planned = (
            total_seconds(scenario.segments)
            if scenario.model == "open"
            else sum(stage.duration_seconds for stage in scenario.stages)
        )
        return cls(
            options=options,
            run_id=tracker.run_id,
            measurements=measurements,
            tracker=tracker,
            collector=Collector(RequestRecorder(measurements, open_loop=scenario.model == "open"), tracker),
            monitor=LoopLagMonitor(measurements, window_seconds=scenario.window_seconds),
            sampler=(
                ResourceSampler(options.resources, ignore_before_seconds=_warmup_seconds(scenario))
                if options.resources is not None
                else None
            ),
            bound_seconds=planned
            + options.open_loop.request_timeout_seconds
            + options.drain_seconds
            + AUDIT_SECONDS
            + 30.0,
        )

    def http_settings(self) -> HttpSettings:
        options = self.options
        return HttpSettings(
            target=options.target,
            api_key=options.api_key,
            pool_size=min(options.open_loop.max_in_flight, 4096),
            request_timeout_seconds=options.open_loop.request_timeout_seconds,
            chat_model=options.chat_model,
            callback_topic=None if options.kafka is None else options.kafka.topic,
        )


async def _drive(
    run: _Run,
    http: HttpTarget,
    consumer: CallbackConsumer | None,
    send: SendFn,
    progress: Progress | None,
    after_drain: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Load plus its observers (loop lag, callbacks or polling, resources), all bounded by `bound_seconds`.

    `after_drain` (the reconciliation audit) runs while the observers still run, so callbacks keep arriving.
    """
    options = run.options
    loading = True
    async with asyncio.TaskGroup() as group:
        group.create_task(run.monitor.run(max_seconds=run.bound_seconds))
        if consumer is not None:
            group.create_task(consumer.run(max_seconds=run.bound_seconds))
        elif options.poll_results:
            poller = poll_results(
                run.tracker,
                http.get_json,
                interval_seconds=options.poll_interval_seconds,
                max_polls_per_second=options.max_polls_per_second,
                max_seconds=run.bound_seconds,
                keep_going=lambda: loading,
            )
            group.create_task(poller)
        if run.sampler is not None:
            group.create_task(run.sampler.run(max_seconds=run.bound_seconds))
        try:
            await _load(options, send, run.collector, progress)
            # Generator health covers the load only; the drain below is idle waiting.
            run.monitor.stop()
            if consumer is not None or options.poll_results:
                await _drain(run.tracker, seconds=options.drain_seconds)
            if after_drain is not None:
                if run.sampler is not None:
                    run.sampler.stop()  # the audit's reads are not the load under test
                await after_drain()
        finally:
            loading = False
            run.monitor.stop()
            if consumer is not None:
                consumer.stop()
            if run.sampler is not None:
                run.sampler.stop()


def effective_thresholds(options: RunOptions) -> tuple[str, ...]:
    if not options.default_gates:
        return options.thresholds
    tracked = options.kafka is not None or options.poll_results
    return with_defaults(options.scenario.thresholds, options.thresholds, tracked=tracked)


async def execute(options: RunOptions, *, send: SendFn | None = None, progress: Progress | None = None) -> RunResult:
    """Run the scenario; `send` replaces the HTTP client (tests drive scripted servers or fakes this way)."""
    thresholds = effective_thresholds(options)
    check_thresholds(options.scenario, thresholds)
    run = _Run.create(options)
    started_at = datetime.now(UTC).isoformat()
    payloads = PayloadFactory(seed=options.seed, mock=options.mock, run_id=run.run_id)
    begin = time.monotonic()
    e2e: dict[str, Any] = {}
    scalars: dict[str, dict[str, float]] = {}
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(HttpTarget(run.http_settings(), payloads))
        consumer = None
        if options.kafka is not None:
            consumer = await stack.enter_async_context(CallbackConsumer(options.kafka, run.tracker.callback))
        elapsed = 0.0

        async def reconcile() -> None:
            nonlocal elapsed
            elapsed = time.monotonic() - begin
            if not (run.tracker.jobs and options.audit and (consumer is not None or options.poll_results)):
                return
            via = "kafka" if consumer is not None else "polling"
            pending = set(run.tracker.pending())
            audit = await audit_jobs(run.tracker, http.get_json, via=via, max_seconds=AUDIT_SECONDS, pending=pending)
            e2e["audit"] = audit.as_dict()
            scalars["reconciliation"] = audit.scalars()

        await _drive(run, http, consumer, send or http.send, progress, after_drain=reconcile)
        elapsed = elapsed or time.monotonic() - begin
    result = RunResult(
        run_id=run.run_id,
        scenario=options.scenario.name,
        load_model=options.scenario.model,
        started_at=started_at,
        elapsed_seconds=round(elapsed, 3),
        measurements=run.measurements,
        phases=_bounds(options.scenario),
        planned_rates=_planned_rates(options.scenario),
        settings=_settings_of(options),
        fingerprint=await asyncio.to_thread(fingerprint),
        health=assess(run.measurements, run.monitor, options.health_limits),
        e2e=e2e,
        resources={} if run.sampler is None else run.sampler.as_dict(),
        scalars=scalars,
    )
    _derive_scalars(result, run.sampler)
    done = completion(
        run.tracker,
        run.measurements,
        workloads=async_workloads(options.scenario.mix),
        gated_seconds=result.phase_seconds(None),
    )
    if done is not None and (options.kafka is not None or options.poll_results):
        result.e2e["completion"] = done.as_dict()
        result.scalars[COMPLETED] = done.scalars()
    result.settings["effective_thresholds"] = list(thresholds)
    result.thresholds = evaluate_all(parse_all(thresholds), result)
    return result


def _warmup_seconds(scenario: Scenario) -> float:
    return sum(segment.duration_seconds for segment in scenario.segments if segment.phase == "warmup")


def _bounds(scenario: Scenario) -> list[tuple[str, float, float]]:
    if scenario.model == "open":
        return phase_bounds(scenario.segments)
    return _stage_bounds(scenario)


def _planned_rates(scenario: Scenario) -> dict[str, float]:
    if scenario.model != "open":
        return {}
    rates = {"*": planned_rate(scenario.segments)}
    for segment in scenario.segments:
        rates[segment.phase] = planned_rate([s for s in scenario.segments if s.phase == segment.phase], exclude=())
    return rates


def _stage_bounds(scenario: Scenario) -> list[tuple[str, float, float]]:
    bounds, origin = [], 0.0
    for stage in scenario.stages:
        bounds.append((stage.phase, origin, origin + stage.duration_seconds))
        origin += stage.duration_seconds
    return bounds


def _derive_scalars(result: RunResult, sampler: ResourceSampler | None) -> None:
    """Scalars thresholds may gate on: recovery, leak slopes, late/early p99 ratio."""
    recovery = recovery_time(result.measurements)
    if recovery is not None:
        result.e2e["recovery"] = recovery.as_dict()
        if recovery.recovery_seconds is not None:
            result.scalars["recovery"] = {"seconds": recovery.recovery_seconds}
    if sampler is not None:
        for verdict in sampler.verdicts():
            if verdict.slope is not None:
                result.scalars[verdict.series] = {
                    "slope": verdict.slope.slope,
                    "slope_low": verdict.slope.low,
                    "slope_high": verdict.slope.high,
                    "leaking": 1.0 if verdict.leaking else 0.0,
                }
    degradation = late_early_ratio(result.measurements)
    if degradation is not None:
        result.scalars["degradation"] = {"late_early_p99": degradation}
