"""Samples a service's resources during a run: RSS and fds of a PID, Redis memory, outbox backlog."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import psutil
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from llm_loadtest.metrics.leak import LeakVerdict, judge

logger = logging.getLogger(__name__)
MIB = 1024 * 1024
DEFAULT_BACKLOG_METRIC = "llm_provider_outbox_backlog"


@dataclass(slots=True)
class ResourceSeries:
    seconds: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ResourceTargets:
    pid: int | None = None
    redis_url: str | None = None
    metrics_url: str | None = None
    backlog_metric: str = DEFAULT_BACKLOG_METRIC
    interval_seconds: float = 1.0


def _process_sample(pid: int) -> tuple[float, float]:
    process = psutil.Process(pid)
    return process.memory_info().rss / MIB, float(process.num_fds())


def metric_value(exposition: str, name: str) -> float | None:
    """Sum of every sample of `name` in a Prometheus text exposition (labels summed over)."""
    total: float | None = None
    for line in exposition.splitlines():
        if line.startswith(name) and (len(line) == len(name) or line[len(name)] in " {"):
            total = (total or 0.0) + float(line.rsplit(" ", 1)[-1])
    return total


class ResourceSampler:
    """Polls the targets every `interval_seconds` until stopped or `max_seconds` elapsed."""

    def __init__(self, targets: ResourceTargets, *, ignore_before_seconds: float = 0.0) -> None:
        self.targets = targets
        # Warm-up samples are shown but left out of the slope: start-up growth is not a leak.
        self.ignore_before_seconds = ignore_before_seconds
        self.series: dict[str, ResourceSeries] = {}
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    def _add(self, name: str, seconds: float, value: float) -> None:
        self.series.setdefault(name, ResourceSeries())
        self.series[name].seconds.append(seconds)
        self.series[name].values.append(value)

    async def _sample(self, seconds: float, http: aiohttp.ClientSession, redis: aioredis.Redis | None) -> None:
        if self.targets.pid is not None:
            try:
                rss_mib, fds = await asyncio.to_thread(_process_sample, self.targets.pid)
                self._add("rss_mib", seconds, rss_mib)
                self._add("open_fds", seconds, fds)
            except psutil.Error as exc:
                logger.warning("cannot sample pid %s: %s", self.targets.pid, exc)
        if redis is not None:
            try:
                info = await redis.info("memory")
                self._add("redis_used_memory_mib", seconds, float(info["used_memory"]) / MIB)
            except RedisError as exc:
                logger.warning("cannot read Redis INFO: %s", exc)
        if self.targets.metrics_url is not None:
            try:
                async with http.get(self.targets.metrics_url) as response:
                    value = metric_value(await response.text(), self.targets.backlog_metric)
                if value is not None:
                    self._add("outbox_backlog", seconds, value)
            except (aiohttp.ClientError, TimeoutError) as exc:
                logger.warning("cannot read %s: %s", self.targets.metrics_url, exc)

    async def run(self, *, max_seconds: float) -> None:
        start = time.monotonic()
        redis = aioredis.from_url(self.targets.redis_url) if self.targets.redis_url else None
        timeout = aiohttp.ClientTimeout(total=max(1.0, self.targets.interval_seconds))
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                while not self._stop.is_set() and (elapsed := time.monotonic() - start) < max_seconds:
                    await self._sample(elapsed, http, redis)
                    try:
                        async with asyncio.timeout(self.targets.interval_seconds):
                            await self._stop.wait()
                    except TimeoutError:
                        pass
        finally:
            if redis is not None:
                await redis.aclose()

    def verdicts(self) -> list[LeakVerdict]:
        allowed = {"rss_mib": 1.0, "open_fds": 1.0, "redis_used_memory_mib": 1.0, "outbox_backlog": 10.0}
        units = {"rss_mib": "MiB", "open_fds": "fds", "redis_used_memory_mib": "MiB", "outbox_backlog": "events"}
        verdicts = []
        for name, data in sorted(self.series.items()):
            kept = [(s, v) for s, v in zip(data.seconds, data.values, strict=True) if s >= self.ignore_before_seconds]
            seconds, values = [s for s, _ in kept], [v for _, v in kept]
            verdicts.append(judge(name, units[name], seconds, values, allowed_per_minute=allowed[name]))
        return verdicts

    def as_dict(self) -> dict[str, Any]:
        return {
            "series": {name: {"seconds": s.seconds, "values": s.values} for name, s in self.series.items()},
            "leaks": [verdict.as_dict() for verdict in self.verdicts()],
        }
