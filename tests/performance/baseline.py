"""Same-run baselines: how fast this host is during a test, measured beside the test itself.

Hosts of one machine kind differ ~2.2x in speed, and co-tenants slow any host further, in bursts. Two same-run
measurements say how much, and an absolute bound written for the calibration host is scaled by the larger of them:
- `slowdown`: the Python floor (`llm_loadtest.infra.floor`, a bare aiohttp JSON pass-through in its own process) driven
  closed-loop just before the test, against its rate on the calibration host (`REFERENCE_FLOOR_RPS`): the host's
  steady speed (about 2.2 when the tier is pinned to one core).
- `contention`: how long runnable tasks waited for a CPU per unit of CPU they got, over every task on the host, from
  the start of the test to its gates (Linux `/proc/*/task/*/schedstat`), against the wait the tier causes itself on
  the calibration host (`REFERENCE_WAIT_PER_RUN`). Co-tenant bursts during the test show here, at no cost to it.
Throughput bounds are divided by the factor and latency bounds multiplied by `factor ** 1.5`: a tail grows faster
than the CPU share shrinks, because the queue in front of a slower server gets longer too (the rates of the tier
keep utilisation below one half on the calibration host, where the exponent covers the growth seen up to a factor
of ~4). A failure prints both measurements. Bounds that compare two measurements of the same run need neither,
except a late-vs-early ratio, which is scaled by the contention of the late window against the early one.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llm_loadtest.infra.floor import FloorSpeed, measure

# The floor (c=16, 0.5 s) on the calibration host, quiet: 2 vCPU Intel Xeon, 2026-12-01, 3,100-7,500 req/s over
# eight runs beside other work, ~2,700 pinned to one core. A busier moment only makes the slowdown (the bounds) larger.
REFERENCE_FLOOR_RPS = 6000.0
# Runqueue wait per CPU-second the tier's own processes (service, Redis, PostgreSQL, Kafka, generator on 2 cores)
# cause each other; only wait beyond it is foreign load.
REFERENCE_WAIT_PER_RUN = 0.5
LATENCY_EXPONENT = 1.5
# Beyond this the host is too busy for any bound to mean something (a factor of 68 was seen beside other suites: the
# floor itself answered 88 req/s): the factor is capped, so such a run fails, and says why, instead of passing by a
# bound of minutes.
MAX_FACTOR = 5.0
START_TIMEOUT_SECONDS = 20.0
PROC = Path("/proc")

Schedstats = dict[str, tuple[int, int]]


def _schedstats() -> Schedstats:
    """Per task (thread) on the host: (ns on a CPU, ns runnable but waiting for one); empty without /proc."""
    stats: Schedstats = {}
    for schedstat in PROC.glob("[0-9]*/task/[0-9]*/schedstat"):
        try:
            ran, waited, _ = schedstat.read_text().split()
        except (OSError, ValueError):
            continue  # the task ended while being read
        stats[schedstat.parent.name] = (int(ran), int(waited))
    return stats


def wait_per_run(start: Schedstats, end: Schedstats) -> float:
    """Runqueue wait per CPU-second between two snapshots, over the tasks alive at both."""
    ran = sum(end[task][0] - before[0] for task, before in start.items() if task in end)
    waited = sum(end[task][1] - before[1] for task, before in start.items() if task in end)
    return waited / ran if ran > 0 else 0.0


def contention_factor(wait: float) -> float:
    """How much slower a CPU-bound task runs than on the calibration host with only the tier running (>= 1)."""
    return max(1.0, (1.0 + wait) / (1.0 + REFERENCE_WAIT_PER_RUN))


async def snapshots_at(offsets_seconds: Sequence[float]) -> list[Schedstats]:
    """Snapshots of the host's schedstats at these offsets from now (taken in a thread, off the event loop)."""
    start = time.monotonic()
    taken = []
    for offset in offsets_seconds:
        await asyncio.sleep(max(0.0, start + offset - time.monotonic()))
        taken.append(await asyncio.to_thread(_schedstats))
    return taken


@dataclass(slots=True)
class Contention:
    """CPU contention on the whole host from `start` until first read (then frozen, so all gates agree)."""

    start: dict[str, tuple[int, int]] = field(default_factory=_schedstats)
    started_at: float = field(default_factory=time.monotonic)
    _measured: tuple[float, float] | None = None

    def measured(self) -> tuple[float, float]:
        """(wait per CPU-second, seconds observed), computed once over the tasks alive at both ends."""
        if self._measured is None:
            self._measured = (wait_per_run(self.start, _schedstats()), time.monotonic() - self.started_at)
        return self._measured

    @property
    def factor(self) -> float:
        return contention_factor(self.measured()[0])


@dataclass(frozen=True, slots=True)
class HostSpeed:
    """The floor measured before the test and the host's contention during it: `factor` >= 1 scales bounds."""

    floor: FloorSpeed
    contention: Contention = field(default_factory=Contention)
    reference_rps: float = REFERENCE_FLOOR_RPS

    @property
    def slowdown(self) -> float:
        return max(1.0, self.reference_rps / max(self.floor.requests_per_second, 1e-9))

    @property
    def factor(self) -> float:
        return min(MAX_FACTOR, max(self.slowdown, self.contention.factor))

    @property
    def latency_factor(self) -> float:
        return float(self.factor**LATENCY_EXPONENT)

    def describe(self) -> str:
        wait_per_run, seconds = self.contention.measured()
        return (
            f"factor {self.factor:.2f}: floor {self.floor.requests_per_second:,.0f} req/s before the test vs "
            f"{self.reference_rps:,.0f} on the calibration host (slowdown {self.slowdown:.2f}); runqueue wait "
            f"{wait_per_run:.2f} s per CPU-second over the {seconds:.1f} s of the test vs {REFERENCE_WAIT_PER_RUN} "
            f"(contention {self.contention.factor:.2f})"
            + (
                f"; capped at {MAX_FACTOR:g}: the host was too busy to measure, rerun alone"
                if self.factor >= MAX_FACTOR
                else ""
            )
        )

    def with_slowdown_of(self, other: HostSpeed) -> HostSpeed:
        """This run's contention with the larger of two floor slowdowns (measured before and after a long run)."""
        self.contention.measured()  # the run is over: freeze its window before the second floor measurement
        slower = min(self.floor, other.floor, key=lambda floor: floor.requests_per_second)
        return HostSpeed(slower, self.contention, self.reference_rps)


class FloorServer:
    """`python -m llm_loadtest.infra.floor` as a subprocess on a free loopback port; stopped by its PID."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> FloorServer:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "llm_loadtest.infra.floor"], stdout=subprocess.PIPE, text=True
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()  # the server prints its port once it listens
        if not line.startswith("port "):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the floor server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}/floor"
        return self

    def __exit__(self, *_: object) -> None:
        if self._process is not None:
            self._process.terminate()
            if self._process.stdout is not None:
                self._process.stdout.close()
            try:
                self._process.wait(timeout=START_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    async def speed(self) -> HostSpeed:
        """The floor's rate now; the host's contention is measured from here until the first gate."""
        floor = await measure(self.url)
        return HostSpeed(floor)
