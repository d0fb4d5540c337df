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
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from llm_provider_service.adapters.redis_keys import DEFAULT_QUEUE_NAMESPACE, QueueKeys
from llm_provider_service.domain.errors import QueueFullError, QueueUnavailableError
from llm_provider_service.ports import Lease, QueueStats

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

# KEYS order, fixed by QueueKeys.ordered.
_PRELUDE = """
local READY, DELAYED, LEASED, PRIORITY = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local TOKEN, SEQUENCE, WAKEUP = KEYS[5], KEYS[6], KEYS[7]
local function make_ready(id)
  local priority = tonumber(redis.call('HGET', PRIORITY, id))
  local seq = redis.call('INCR', SEQUENCE)
  -- '%.0f' keeps every digit; Lua's default number format would round the sequence away.
  redis.call('ZADD', READY, string.format('%.0f', (10 - priority) * 1e13 + seq), id)
end
local function place(id, due_at)
  if due_at == '' then make_ready(id) else redis.call('ZADD', DELAYED, due_at, id) end
  -- Wake one blocked claimer: to take the job, or to shorten its sleep to the new due time.
  redis.call('LPUSH', WAKEUP, '1')
  redis.call('LTRIM', WAKEUP, 0, 1023)
end
"""

# ARGV: job_id, priority, due_at ('' = ready now), capacity. Returns 1 added, 0 already held, -1 full.
_ENQUEUE = (
    _PRELUDE
    + """
if redis.call('HEXISTS', PRIORITY, ARGV[1]) == 1 then return 0 end
if redis.call('HLEN', PRIORITY) >= tonumber(ARGV[4]) then return -1 end
redis.call('HSET', PRIORITY, ARGV[1], ARGV[2])
place(ARGV[1], ARGV[3])
return 1
"""
)

# ARGV: now, max_jobs, lease deadline, token prefix, promote limit.
# Returns {next delay due or '', next lease deadline or '', job_id, token, job_id, token, ...}.
_CLAIM = (
    _PRELUDE
    + """
for _, id in ipairs(redis.call('ZRANGEBYSCORE', DELAYED, '-inf', ARGV[1], 'LIMIT', 0, ARGV[5])) do
  redis.call('ZREM', DELAYED, id)
  make_ready(id)
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', LEASED, '-inf', ARGV[1], 'LIMIT', 0, ARGV[5])) do
  redis.call('ZREM', LEASED, id)
  redis.call('HDEL', TOKEN, id)
  make_ready(id)
end
local result = {'', ''}
local popped = redis.call('ZPOPMIN', READY, ARGV[2])
for i = 1, #popped, 2 do
  local id, token = popped[i], ARGV[4] .. ':' .. ((i + 1) / 2)
  redis.call('ZADD', LEASED, ARGV[3], id)
  redis.call('HSET', TOKEN, id, token)
  result[#result + 1] = id
  result[#result + 1] = token
end
if redis.call('ZCARD', READY) == 0 then
  -- Marks left now are for jobs already taken; a claimer about to block must not wake for them.
  redis.call('DEL', WAKEUP)
  local first_delayed = redis.call('ZRANGE', DELAYED, 0, 0, 'WITHSCORES')
  local first_lease = redis.call('ZRANGE', LEASED, 0, 0, 'WITHSCORES')
  if first_delayed[2] then result[1] = first_delayed[2] end
  if first_lease[2] then result[2] = first_lease[2] end
end
return result
"""
)

# ARGV: job_id, token, new deadline. Returns 1 renewed, 0 stale.
_RENEW = (
    _PRELUDE
    + """
if redis.call('HGET', TOKEN, ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZADD', LEASED, ARGV[3], ARGV[1])
return 1
"""
)

# ARGV: job_id, token.
_ACK = (
    _PRELUDE
    + """
if redis.call('HGET', TOKEN, ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', LEASED, ARGV[1])
redis.call('HDEL', TOKEN, ARGV[1])
redis.call('HDEL', PRIORITY, ARGV[1])
return 1
"""
)

# ARGV: job_id, token, job_id, token, ... Returns how many were acked.
_ACK_MANY = (
    _PRELUDE
    + """
local acked = 0
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HGET', TOKEN, id) == ARGV[i + 1] then
    redis.call('ZREM', LEASED, id)
    redis.call('HDEL', TOKEN, id)
    redis.call('HDEL', PRIORITY, id)
    acked = acked + 1
  end
end
return acked
"""
)

# ARGV: job_id, token, due_at ('' = ready now).
_RELEASE = (
    _PRELUDE
    + """
if redis.call('HGET', TOKEN, ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', LEASED, ARGV[1])
redis.call('HDEL', TOKEN, ARGV[1])
place(ARGV[1], ARGV[3])
return 1
"""
)

# ARGV: job_id. Leased jobs stay (their worker owns them).
_REMOVE = (
    _PRELUDE
    + """
if redis.call('ZREM', READY, ARGV[1]) + redis.call('ZREM', DELAYED, ARGV[1]) == 0 then return 0 end
redis.call('HDEL', PRIORITY, ARGV[1])
return 1
"""
)


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
        self._enqueue_script = client.register_script(_ENQUEUE)
        self._claim_script = client.register_script(_CLAIM)
        self._renew_script = client.register_script(_RENEW)
        self._ack_script = client.register_script(_ACK)
        self._ack_many_script = client.register_script(_ACK_MANY)
        self._release_script = client.register_script(_RELEASE)
        self._remove_script = client.register_script(_REMOVE)

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
        client = Redis.from_url(
            url,
            socket_connect_timeout=1.0,
            socket_timeout=5.0,
            retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
        )
        try:
            yield cls(client, capacity=capacity, namespace=namespace, clock=clock)
        finally:
            await client.aclose()

    async def enqueue(self, job_id: str, *, priority: int, delay_seconds: float = 0.0) -> None:
        _check_priority(priority)
        due_at = repr(self._clock() + delay_seconds) if delay_seconds > 0 else ""
        with _translated():
            added = await self._enqueue_script(self._keys.ordered, [job_id, priority, due_at, self._capacity])
        if int(added) < 0:
            raise self._full()

    async def enqueue_many(self, items: Sequence[tuple[str, int]]) -> None:
        """Enqueue (job_id, priority) pairs in order, pipelined; on a full queue, those before the first misfit stay."""
        for _, priority in items:
            _check_priority(priority)
        replies: list[object] = []
        with _translated():
            for start in range(0, len(items), BATCH_SIZE):
                async with self._client.pipeline(transaction=False) as pipe:
                    for job_id, priority in items[start : start + BATCH_SIZE]:
                        args: list[str | int] = [job_id, priority, "", self._capacity]
                        await self._enqueue_script(self._keys.ordered, args, client=pipe)
                    replies.extend(await pipe.execute())
        if any(int(str(reply)) < 0 for reply in replies):
            raise self._full()

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
        reply = [_text(item) for item in await self._claim_script(self._keys.ordered, args)]
        next_delayed, next_lease, *pairs = reply
        leases = [
            Lease(job_id=pairs[index], token=pairs[index + 1], expires_at=expires_at)
            for index in range(0, len(pairs), 2)
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
