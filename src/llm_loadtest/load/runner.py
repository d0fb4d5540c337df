"""Open-loop (arrival-rate) and closed-loop (N users) runners; each request records intended/sent/done."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from llm_loadtest.load.schedule import NS_PER_SECOND, Arrival
from llm_loadtest.metrics.outcomes import Outcome, Response

logger = logging.getLogger(__name__)

SendFn = Callable[[Arrival], Awaitable[Response]]
Clock = Callable[[], int]
# Dispatching this many overdue requests in a row without yielding would starve the requests themselves.
_YIELD_EVERY = 32
# Why a request was dropped: the generator was late (its fault) or max_in_flight was reached (the service's).
_LATE = {"reason": "late"}
_FULL = {"reason": "in_flight_limit"}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One request's life: `sent_ns` is None when it was dropped before it could start."""

    arrival: Arrival
    intended_ns: int
    sent_ns: int | None
    done_ns: int
    response: Response


Sink = Callable[[Attempt], None]


@dataclass(frozen=True, slots=True)
class OpenLoopSettings:
    max_lag_seconds: float = 0.5
    max_in_flight: int = 10_000
    request_timeout_seconds: float = 30.0
    start_delay_seconds: float = 0.05


async def _sleep_until(deadline_ns: int, clock: Clock) -> None:
    """Never send early: event-loop timers have ~1 ms granularity and may fire slightly before the deadline."""
    for _ in range(10_000):
        remaining_ns = deadline_ns - clock()
        if remaining_ns <= 0:
            return
        # Sleep on the timer while far away; yield (sleep 0) for the last fraction of a millisecond.
        await asyncio.sleep(remaining_ns / NS_PER_SECOND if remaining_ns > 1_500_000 else 0)


async def _attempt(arrival: Arrival, intended_ns: int, send: SendFn, timeout_seconds: float, clock: Clock) -> Attempt:
    sent_ns = clock()
    try:
        async with asyncio.timeout(timeout_seconds):
            response = await send(arrival)
    except TimeoutError:
        response = Response(Outcome.TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - one broken request must be counted, not cancel the whole run
        logger.debug("request failed unexpectedly: %r", exc)
        response = Response(Outcome.INVALID, facts={"error": type(exc).__name__})
    return Attempt(arrival, intended_ns, sent_ns, clock(), response)


async def run_open_loop(
    arrivals: Sequence[Arrival],
    send: SendFn,
    sink: Sink,
    *,
    settings: OpenLoopSettings | None = None,
    clock: Clock = time.monotonic_ns,
    on_dispatch: Callable[[int], None] | None = None,
) -> int:
    """Fire every arrival at its planned instant without waiting for responses; returns the origin (ns).

    A request that cannot start within `max_lag_seconds` of its intended time (generator behind, or
    `max_in_flight` reached) is recorded as DROPPED. Each request is bounded by `request_timeout_seconds`,
    so the run ends at most that long after the last arrival.
    """
    settings = settings or OpenLoopSettings()
    origin_ns = clock() + round(settings.start_delay_seconds * NS_PER_SECOND)
    max_lag_ns = round(settings.max_lag_seconds * NS_PER_SECOND)
    in_flight = 0

    async def fire(arrival: Arrival, intended_ns: int) -> None:
        nonlocal in_flight
        try:
            sink(await _attempt(arrival, intended_ns, send, settings.request_timeout_seconds, clock))
        finally:
            in_flight -= 1

    async with asyncio.TaskGroup() as group:
        overdue_streak = 0
        for number, arrival in enumerate(arrivals):
            intended_ns = origin_ns + arrival.offset_ns
            if intended_ns > clock():
                overdue_streak = 0
                await _sleep_until(intended_ns, clock)
            else:
                overdue_streak += 1
                if overdue_streak % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
            now_ns = clock()
            if now_ns - intended_ns > max_lag_ns:
                sink(Attempt(arrival, intended_ns, None, now_ns, Response(Outcome.DROPPED, facts=_LATE)))
            elif in_flight >= settings.max_in_flight:
                sink(Attempt(arrival, intended_ns, None, now_ns, Response(Outcome.DROPPED, facts=_FULL)))
            else:
                in_flight += 1
                group.create_task(fire(arrival, intended_ns))
            if on_dispatch is not None:
                on_dispatch(number + 1)
    return origin_ns


@dataclass(frozen=True, slots=True)
class Stage:
    """A closed-loop stage: `users` concurrent users, each sending back to back for `duration_seconds`."""

    phase: str
    users: int
    duration_seconds: float


async def run_closed_loop(
    stages: Sequence[Stage],
    send: SendFn,
    sink: Sink,
    *,
    mix: Mapping[str, float],
    seed: int,
    request_timeout_seconds: float = 30.0,
    max_requests_per_user: int = 1_000_000,
    clock: Clock = time.monotonic_ns,
) -> int:
    """Run each stage in turn; intended == sent, so the latency hides any stall (coordinated omission)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible workload choice, not cryptography
    names = sorted(mix)
    weights = [mix[name] for name in names]
    origin_ns = clock()

    async def user(stage: Stage, deadline_ns: int) -> None:
        for _ in range(max_requests_per_user):
            now_ns = clock()
            if now_ns >= deadline_ns:
                return
            arrival = Arrival(now_ns - origin_ns, stage.phase, rng.choices(names, weights)[0])
            sink(await _attempt(arrival, now_ns, send, request_timeout_seconds, clock))

    for stage in stages:
        deadline_ns = clock() + round(stage.duration_seconds * NS_PER_SECOND)
        async with asyncio.TaskGroup() as group:
            for _ in range(stage.users):
                group.create_task(user(stage, deadline_ns))
    return origin_ns
