"""In-process `JobQueue`: priority then FIFO, atomic claims with fenced leases, for embedded mode and tests.

Guarantees (shared with `RedisJobQueue`, checked by one contract test suite):
- Ordering: higher `priority` first; within a priority, FIFO by the moment the job became ready (its enqueue, or
  the claim that found its delay over or its lease expired). A claim takes up to `max_jobs` jobs in that order.
- Idempotence: enqueueing an id the queue already holds (ready, delayed or leased) does nothing.
- Capacity counts ready + delayed + leased jobs; beyond it `enqueue` raises `QueueFullError`.
- Leases: `claim` hands each job to exactly one caller with a fresh random token and a deadline (`expires_at`,
  epoch seconds of the injected clock). Only the current token can renew, ack or release; once the deadline has
  passed, the next claim returns the job to the ready set (and a new holder gets a new token), after which the old
  token is stale: `renew` returns None and `ack`/`release` do nothing. Until another claim runs, a late renewal by
  the holder still succeeds. `release` keeps the job's priority.
- `wait_seconds` blocks without polling until a job is enqueued or released, a delayed job falls due, a lease
  expires, or the time is up.

All operations run without awaiting in between, so on one event loop each is atomic. Heaps with lazy deletion keep
every operation O(log n); depth counts are O(1).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llm_provider_service.domain import ids
from llm_provider_service.domain.errors import QueueFullError
from llm_provider_service.ports import Lease, QueueStats

# What a client rejected for a full queue is told to wait; the queue drains at the worker's pace, unknown here.
FULL_RETRY_AFTER_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class _Held:
    token: str
    expires_at: float
    seq: int


class InMemoryJobQueue:
    """The `JobQueue` port in process memory; state is lost with the process (the store is the record)."""

    def __init__(self, *, capacity: int, clock: Callable[[], float] = time.time) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._clock = clock
        self._seq = itertools.count()
        self._priority: dict[str, int] = {}  # every job held, in any state
        # Heap entries are (sort key, seq, job_id); an entry is live only while the state dict maps the job to seq.
        self._ready: list[tuple[int, int, str]] = []
        self._ready_seq: dict[str, int] = {}
        self._delayed: list[tuple[float, int, str]] = []
        self._delayed_seq: dict[str, int] = {}
        self._lease_heap: list[tuple[float, int, str]] = []
        self._leased: dict[str, _Held] = {}
        self._wakeup = asyncio.Event()

    async def enqueue(self, job_id: str, *, priority: int, delay_seconds: float = 0.0) -> None:
        self._enqueue(job_id, priority, delay_seconds)

    async def enqueue_many(self, items: Sequence[tuple[str, int]]) -> None:
        """Enqueue (job_id, priority) pairs in order; on a full queue, those before the first misfit stay."""
        for job_id, priority in items:
            self._enqueue(job_id, priority, 0.0)

    async def claim(self, *, max_jobs: int, lease_seconds: float, wait_seconds: float = 0.0) -> list[Lease]:
        if max_jobs < 1:
            raise ValueError("max_jobs must be at least 1")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            leases = self._claim_now(max_jobs, lease_seconds)
            remaining = deadline - loop.time()
            if leases or remaining <= 0:
                return leases
            timeout = remaining
            next_due = self._next_due_at()
            if next_due is not None:
                timeout = min(timeout, max(next_due - self._clock(), 0.0))
            # Grab the current event before waiting: a notification replaces it, so none is missed.
            wakeup = self._wakeup
            try:
                async with asyncio.timeout(timeout):
                    await wakeup.wait()
            except TimeoutError:
                pass

    async def renew(self, lease: Lease, *, lease_seconds: float) -> Lease | None:
        held = self._leased.get(lease.job_id)
        if held is None or held.token != lease.token:
            return None
        expires_at = self._clock() + lease_seconds
        self._hold(lease.job_id, lease.token, expires_at)
        return Lease(job_id=lease.job_id, token=lease.token, expires_at=expires_at)

    async def ack(self, lease: Lease) -> None:
        held = self._leased.get(lease.job_id)
        if held is None or held.token != lease.token:
            return
        del self._leased[lease.job_id]
        del self._priority[lease.job_id]

    async def ack_many(self, leases: Sequence[Lease]) -> None:
        for lease in leases:
            await self.ack(lease)

    async def release(self, lease: Lease, *, delay_seconds: float) -> None:
        held = self._leased.get(lease.job_id)
        if held is None or held.token != lease.token:
            return
        del self._leased[lease.job_id]
        self._place(lease.job_id, self._priority[lease.job_id], delay_seconds)

    async def remove(self, job_id: str) -> bool:
        if self._ready_seq.pop(job_id, None) is None and self._delayed_seq.pop(job_id, None) is None:
            return False
        del self._priority[job_id]
        return True

    async def contains(self, job_ids: Sequence[str]) -> set[str]:
        return {job_id for job_id in job_ids if job_id in self._priority}

    async def stats(self) -> QueueStats:
        return QueueStats(
            ready=len(self._ready_seq),
            delayed=len(self._delayed_seq),
            leased=len(self._leased),
            capacity=self._capacity,
        )

    def _enqueue(self, job_id: str, priority: int, delay_seconds: float) -> None:
        if job_id in self._priority:
            return
        if len(self._priority) >= self._capacity:
            raise QueueFullError(
                f"queue is at capacity ({self._capacity} jobs)", retry_after_seconds=FULL_RETRY_AFTER_SECONDS
            )
        self._priority[job_id] = priority
        self._place(job_id, priority, delay_seconds)

    def _place(self, job_id: str, priority: int, delay_seconds: float) -> None:
        """Put a held job into the ready set, or the delayed set when it is not due yet."""
        seq = next(self._seq)
        if delay_seconds > 0:
            self._delayed_seq[job_id] = seq
            heapq.heappush(self._delayed, (self._clock() + delay_seconds, seq, job_id))
            # A waiting claimer must recompute how long to sleep: this job may fall due first.
            self._notify()
            return
        self._ready_seq[job_id] = seq
        heapq.heappush(self._ready, (-priority, seq, job_id))
        self._notify()

    def _hold(self, job_id: str, token: str, expires_at: float) -> None:
        seq = next(self._seq)
        self._leased[job_id] = _Held(token=token, expires_at=expires_at, seq=seq)
        heapq.heappush(self._lease_heap, (expires_at, seq, job_id))

    def _notify(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    def _claim_now(self, max_jobs: int, lease_seconds: float) -> list[Lease]:
        now = self._clock()
        self._promote(now)
        expires_at = now + lease_seconds
        prefix = ids.token_hex(16)  # one random prefix per claim, numbered per job (as the Redis queue does)
        leases: list[Lease] = []
        while self._ready and len(leases) < max_jobs:
            _, seq, job_id = heapq.heappop(self._ready)
            if self._ready_seq.get(job_id) != seq:
                continue  # removed, or re-placed under a newer seq
            del self._ready_seq[job_id]
            token = f"{prefix}:{len(leases) + 1}"
            self._hold(job_id, token, expires_at)
            leases.append(Lease(job_id=job_id, token=token, expires_at=expires_at))
        return leases

    def _promote(self, now: float) -> None:
        """Move due delayed jobs, then expired leases, to the ready set (oldest deadline first)."""
        while self._delayed and self._delayed[0][0] <= now:
            _, seq, job_id = heapq.heappop(self._delayed)
            if self._delayed_seq.get(job_id) == seq:
                del self._delayed_seq[job_id]
                self._place(job_id, self._priority[job_id], 0.0)
        while self._lease_heap and self._lease_heap[0][0] <= now:
            _, seq, job_id = heapq.heappop(self._lease_heap)
            held = self._leased.get(job_id)
            if held is not None and held.seq == seq:
                del self._leased[job_id]
                self._place(job_id, self._priority[job_id], 0.0)

    def _next_due_at(self) -> float | None:
        """The earliest live delay or lease deadline, dropping stale heap heads on the way."""
        while self._delayed and self._delayed_seq.get(self._delayed[0][2]) != self._delayed[0][1]:
            heapq.heappop(self._delayed)
        while self._lease_heap:
            _, seq, job_id = self._lease_heap[0]
            held = self._leased.get(job_id)
            if held is not None and held.seq == seq:
                break
            heapq.heappop(self._lease_heap)
        candidates = [heap[0][0] for heap in (self._delayed, self._lease_heap) if heap]
        return min(candidates) if candidates else None
