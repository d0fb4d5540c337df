"""`JobQueue` on Redis: priority then FIFO, atomic claims with fenced leases, shared by any number of processes.

Guarantees (the same as `InMemoryJobQueue`; one contract test suite runs against both):
- Ordering: higher `priority` (0-10) first; within a priority, FIFO by the moment the job became ready (its enqueue,
  its release, or the claim that found its delay over or its lease expired). Ready jobs sit in one ZSET scored
  `(10 - priority) * 1e13 + sequence`, so a claim is one ZPOPMIN.
- Atomicity: every operation is one Lua script, so no two claimers ever hold the same job. Each claim first moves
  due delayed jobs and expired leases back to the ready set (at most `PROMOTE_LIMIT` of each per call).
- Idempotence: enqueueing an id held in any state does nothing. Capacity counts ready + delayed + leased (HLEN of
  the priority hash); beyond it `enqueue` raises `QueueFullError`.
- Leases: a claim gives each job a fresh token and a deadline in epoch seconds of the injected clock (each
  process's own clock, so keep hosts in NTP sync). Only the current token renews, acks or releases. After the
  deadline the next claim anywhere returns the job to the ready set; the old token is then stale (`renew` gives
  None, `ack`/`release` do nothing). Until that claim, a late renewal by the holder still succeeds.
- Depth statistics are three ZCARDs in one MULTI: O(1). Nothing here uses KEYS or SCAN.
- Waiting: a claimer with `wait_seconds` blocks in BLPOP on a wakeup list that enqueue and release push to, so it
  wakes within a round trip; its block is capped by the next delay or lease deadline and by `MAX_BLOCK_SECONDS`.
- Redis connection errors, timeouts and error replies (e.g. READONLY after a failover) surface as
  `QueueUnavailableError`; the caller falls back to the store.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

from llm_provider_service.adapters.redis_client import pooled_client
from llm_provider_service.adapters.redis_keys import DEFAULT_QUEUE_NAMESPACE, QueueKeys
from llm_provider_service.adapters.redis_queue_scripts import ACK, ACK_MANY, CLAIM, ENQUEUE, RELEASE, REMOVE, RENEW
from llm_provider_service.domain.errors import QueueFullError, QueueUnavailableError
from llm_provider_service.ports import Lease, QueueStats
from llm_provider_service.service.coalescing import Coalescer

MIN_PRIORITY, MAX_PRIORITY = 0, 10
FULL_RETRY_AFTER_SECONDS = 1.0
UNAVAILABLE_RETRY_AFTER_SECONDS = 1.0
# Bounds the work one claim does moving due jobs, so a backlog of expirations cannot stall Redis.
PROMOTE_LIMIT = 1000
# A blocked claimer re-checks at least this often (covers deadlines computed by other processes' clocks) and stays
# well under redis-py's default 5 s socket timeout.
MAX_BLOCK_SECONDS = 1.0
# BLPOP with timeout 0 would block forever; Redis takes timeouts to the millisecond.
MIN_BLOCK_SECONDS = 0.001
BATCH_SIZE = 1000
# The ENQUEUE script's one character per job: added, already held, full.
_ENQUEUE_OUTCOMES = {"1": 1, "0": 0, "-": -1}


class RedisJobQueue:
    """The `JobQueue` port on Redis >= 6.2. The client belongs to the caller; `from_url` owns one instead."""

    def __init__(
        self,
        client: Redis,
        *,
        capacity: int,
        namespace: str = DEFAULT_QUEUE_NAMESPACE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._client = client
        self._capacity = capacity
        self._clock = clock
        self._keys = QueueKeys.for_namespace(namespace)
        self._enqueue_script = client.register_script(ENQUEUE)
        self._enqueues: Coalescer[tuple[str, int, str], int] = Coalescer(
            self._enqueue_all, max_batch=BATCH_SIZE, name="redis-enqueues"
        )
        self._claim_script = client.register_script(CLAIM)
        self._renew_script = client.register_script(RENEW)
        self._ack_script = client.register_script(ACK)
        self._ack_many_script = client.register_script(ACK_MANY)
        self._release_script = client.register_script(RELEASE)
        self._remove_script = client.register_script(REMOVE)

    @classmethod
    @asynccontextmanager
    async def from_url(
        cls,
        url: str,
        *,
        capacity: int,
        namespace: str = DEFAULT_QUEUE_NAMESPACE,
        clock: Callable[[], float] = time.time,
    ) -> AsyncIterator[RedisJobQueue]:
        """A queue with its own client, closed on exit. Fails fast when Redis is down (one quick retry only,
        for a pooled connection that died with a restart), so callers fall back to the store at once."""
        client = pooled_client(url, socket_timeout_seconds=5.0)
        try:
            yield cls(client, capacity=capacity, namespace=namespace, clock=clock)
        finally:
            await client.aclose()

    async def enqueue(self, job_id: str, *, priority: int, delay_seconds: float = 0.0) -> None:
        _check_priority(priority)
        due_at = repr(self._clock() + delay_seconds) if delay_seconds > 0 else ""
        # Concurrent enqueues (accepts) share one script call: one round trip for the lot.
        if await self._enqueues.submit((job_id, priority, due_at)) < 0:
            raise self._full()

    async def enqueue_many(self, items: Sequence[tuple[str, int]]) -> None:
        """Enqueue (job_id, priority) pairs in order; on a full queue, those before the first misfit stay."""
        for _, priority in items:
            _check_priority(priority)
        replies: list[int | BaseException] = []
        for start in range(0, len(items), BATCH_SIZE):
            replies.extend(await self._enqueue_all([(job_id, priority, "") for job_id, priority in
                                                    items[start : start + BATCH_SIZE]]))  # fmt: skip
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
            if reply < 0:
                raise self._full()

    async def _enqueue_all(self, items: list[tuple[str, int, str]]) -> list[int | BaseException]:
        args: list[str | int] = [self._capacity]
        for job_id, priority, due_at in items:
            args.extend((job_id, priority, due_at))
        try:
            with _translated():
                replies = await self._enqueue_script(self._keys.ordered, args)
        except QueueUnavailableError as error:
            return [error] * len(items)
        return [_ENQUEUE_OUTCOMES[code] for code in _text(replies)]

    async def claim(self, *, max_jobs: int, lease_seconds: float, wait_seconds: float = 0.0) -> list[Lease]:
        if max_jobs < 1:
            raise ValueError("max_jobs must be at least 1")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        with _translated():
            while True:
                leases, next_due_at = await self._claim_now(max_jobs, lease_seconds)
                remaining = deadline - loop.time()
                if leases or remaining <= 0:
                    return leases
                block = min(remaining, MAX_BLOCK_SECONDS)
                if next_due_at is not None:
                    block = min(block, next_due_at - self._clock())
                await self._client.blpop([self._keys.wakeup], timeout=round(max(block, MIN_BLOCK_SECONDS), 3))

    async def renew(self, lease: Lease, *, lease_seconds: float) -> Lease | None:
        expires_at = self._clock() + lease_seconds
        with _translated():
            renewed = await self._renew_script(self._keys.ordered, [lease.job_id, lease.token, repr(expires_at)])
        if not int(renewed):
            return None
        return Lease(job_id=lease.job_id, token=lease.token, expires_at=expires_at)

    async def ack(self, lease: Lease) -> None:
        with _translated():
            await self._ack_script(self._keys.ordered, [lease.job_id, lease.token])

    async def ack_many(self, leases: Sequence[Lease]) -> None:
        with _translated():
            for start in range(0, len(leases), BATCH_SIZE):
                args = [part for lease in leases[start : start + BATCH_SIZE] for part in (lease.job_id, lease.token)]
                await self._ack_many_script(self._keys.ordered, args)

    async def release(self, lease: Lease, *, delay_seconds: float) -> None:
        due_at = repr(self._clock() + delay_seconds) if delay_seconds > 0 else ""
        with _translated():
            await self._release_script(self._keys.ordered, [lease.job_id, lease.token, due_at])

    async def remove(self, job_id: str) -> bool:
        with _translated():
            removed = await self._remove_script(self._keys.ordered, [job_id])
        return bool(int(removed))

    async def contains(self, job_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with _translated():
            for start in range(0, len(job_ids), BATCH_SIZE):
                chunk = list(job_ids[start : start + BATCH_SIZE])
                priorities = await self._client.hmget(self._keys.priority, chunk)
                found.update(job_id for job_id, priority in zip(chunk, priorities, strict=True) if priority is not None)
        return found

    async def stats(self) -> QueueStats:
        with _translated():
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zcard(self._keys.ready)
                pipe.zcard(self._keys.delayed)
                pipe.zcard(self._keys.leased)
                ready, delayed, leased = await pipe.execute()
        return QueueStats(ready=int(ready), delayed=int(delayed), leased=int(leased), capacity=self._capacity)

    async def _claim_now(self, max_jobs: int, lease_seconds: float) -> tuple[list[Lease], float | None]:
        now = self._clock()
        expires_at = now + lease_seconds
        args: list[str | int] = [repr(now), max_jobs, repr(expires_at), uuid.uuid4().hex, PROMOTE_LIMIT]
        next_delayed, next_lease, *job_ids = await self._claim_script(self._keys.ordered, args)
        prefix = args[3]
        # The script gives the n-th job the token "<prefix>:<n>"; building it here saves parsing it back.
        leases = [
            Lease(job_id=_text(job_id), token=f"{prefix}:{n}", expires_at=expires_at)
            for n, job_id in enumerate(job_ids, start=1)
        ]
        due_times = [float(value) for value in (next_delayed, next_lease) if value]
        return leases, min(due_times, default=None)

    def _full(self) -> QueueFullError:
        return QueueFullError(
            f"queue is at capacity ({self._capacity} jobs)", retry_after_seconds=FULL_RETRY_AFTER_SECONDS
        )


def _check_priority(priority: int) -> None:
    # The ready score encodes the priority in a fixed range; outside it, ordering would silently break.
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise ValueError(f"priority must be within {MIN_PRIORITY}..{MAX_PRIORITY}, got {priority}")


def _text(value: object) -> str:
    """Script replies arrive as bytes unless the caller's client decodes responses."""
    return value.decode() if isinstance(value, bytes) else str(value)


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise QueueUnavailableError(
            f"job queue unreachable ({type(exc).__name__})", retry_after_seconds=UNAVAILABLE_RETRY_AFTER_SECONDS
        ) from exc
