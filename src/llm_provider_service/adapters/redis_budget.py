"""`RateBudget` on Redis: the rules of `service.budgets.BudgetBook`, in Lua, shared by every process.

Each key's buckets live in one hash (see `redis_keys.BudgetKeys`); every operation is one script, so concurrent
reservations from any number of API and worker processes never overdraw a budget. Times are epoch seconds of the
caller's clock (keep hosts in NTP sync); floats cross the script boundary as strings (Lua numbers would be
truncated to integers in replies).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

from llm_provider_service.adapters.redis_client import pooled_client
from llm_provider_service.adapters.redis_keys import DEFAULT_QUEUE_NAMESPACE, BudgetKeys
from llm_provider_service.domain.errors import BudgetUnavailableError
from llm_provider_service.domain.rate_limits import (
    UNLIMITED,
    BudgetState,
    Demand,
    Dimension,
    Grant,
    RateLimitObservation,
)
from llm_provider_service.service.budgets import (
    DEFAULT_PAUSE_SECONDS,
    MIN_DEFER_SECONDS,
    WAIT_RECORD_TTL_SECONDS,
    BudgetPolicy,
    effective_limit,
)

_DIMENSIONS = tuple(Dimension)

_PRELUDE = """
local H, WAIT, INDEX = KEYS[1], KEYS[2], KEYS[3]
local DIMS = {'requests', 'tokens', 'input_tokens', 'output_tokens'}
local now, window, burst, headroom = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local function fmt(x) return string.format('%.6f', x) end
local function bucket(limit)
  local cap = math.min(math.max(limit * burst, 1.0), limit)
  local refill = (limit * (1.0 - headroom) - cap) / window
  return cap, math.max(refill, limit / window / 100.0)
end
local function effective(configured, learned)
  local best = nil
  if configured and configured > 0 then best = configured end
  if learned and learned > 0 and (best == nil or learned < best) then best = learned end
  return best
end
local function num(field) return tonumber(redis.call('HGET', H, field)) end
"""

# ARGV: now, window, burst, headroom, horizon, max_defer, job_id, min_defer, wait_ttl,
#       then per dimension (DIMS order): configured limit (0 = none), demand.
# Returns {granted, delay, earlier_wait, limited}.
_RESERVE = (
    _PRELUDE
    + """
local horizon, max_defer, job = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local min_defer, wait_ttl = tonumber(ARGV[8]), tonumber(ARGV[9])
local any_configured = false
for i = 1, 4 do if tonumber(ARGV[8 + 2 * i]) > 0 then any_configured = true end end
if not any_configured and redis.call('EXISTS', H) == 0 then return {1, '0', '0', 0} end
-- A paused bucket does not refill for the pause: its tickets start when the pause ends.
local start = math.max(now, num('paused_until') or 0)
local wait, step, limited = 0.0, 0.0, {}
for i, d in ipairs(DIMS) do
  local configured, amount = tonumber(ARGV[8 + 2 * i]), tonumber(ARGV[9 + 2 * i])
  if configured > 0 then redis.call('HSET', H, 'configured:' .. d, configured)
  else redis.call('HDEL', H, 'configured:' .. d) end
  local limit = effective(configured, num(d .. ':learned'))
  if limit then
    local cap, refill = bucket(limit)
    local level, ts = num(d .. ':level'), num(d .. ':ts')
    if level == nil then level, ts = cap, start end
    level = math.min(cap, level + math.max(start - ts, 0) * refill)
    local needed = math.min(amount, cap)
    if level < needed then wait = math.max(wait, (needed - level) / refill) end
    step = math.max(step, amount / refill)
    limited[#limited + 1] = {d, level, amount}
  end
end
if #limited == 0 then return {1, '0', '0', 0} end
redis.call('SADD', INDEX, ARGV[10 + 8])
wait = wait + (start - now)
local returning = job ~= '' and redis.call('EXISTS', WAIT) == 1
local line_busy = job ~= '' and (num('overflow_at') or 0) > now + horizon / 2
if wait <= horizon and (returning or not line_busy) then
  for _, entry in ipairs(limited) do
    redis.call('HSET', H, entry[1] .. ':level', fmt(entry[2] - entry[3]), entry[1] .. ':ts', fmt(start))
  end
  local earlier = '0'
  if job ~= '' then
    earlier = redis.call('GET', WAIT) or '0'
    redis.call('DEL', WAIT)
  end
  return {1, fmt(math.max(wait, 0)), earlier, 1}
end
local defer
if returning or job == '' then
  defer = math.min(math.max(wait - horizon / 2, min_defer), max_defer)
else
  local slot = math.max(num('overflow_at') or 0, now + wait - horizon / 2)
  defer = math.min(math.max(slot - now, min_defer), max_defer)
  redis.call('HSET', H, 'overflow_at', fmt(math.min(slot + step, now + max_defer)))
end
if job ~= '' then
  redis.call('INCRBYFLOAT', WAIT, fmt(defer))
  redis.call('EXPIRE', WAIT, wait_ttl)
end
return {0, fmt(defer), '0', 1}
"""
)

# ARGV: now, window, burst, headroom, learn (0/1), status, retry_after ('' = none), default_pause, has_refund,
#       then per dimension: refund, limit, remaining, reset ('' = not reported), then the budget key.
_RECORD = (
    _PRELUDE
    + """
local learn, status, retry_after = ARGV[5] == '1', tonumber(ARGV[6]), tonumber(ARGV[7])
local default_pause, has_refund = tonumber(ARGV[8]), ARGV[9] == '1'
local function arg(i, k) return tonumber(ARGV[9 + 4 * (i - 1) + k]) end
if learn then
  local paused = num('paused_until') or 0
  for i, d in ipairs(DIMS) do
    local limit, remaining, reset = arg(i, 2), arg(i, 3), arg(i, 4)
    if limit and limit > 0 then
      redis.call('HSET', H, d .. ':learned', limit)
      local cap = bucket(effective(num('configured:' .. d), limit))
      local level = num(d .. ':level')
      if level == nil then
        local first = 0
        if remaining then
          local left = math.min(remaining, limit)
          first = math.min(cap, left) - (limit - left)
        end
        redis.call('HSET', H, d .. ':level', fmt(first), d .. ':ts', fmt(now))
      else
        redis.call('HSET', H, d .. ':level', fmt(math.min(level, cap)))
      end
    end
    if remaining == 0 then
      local level = num(d .. ':level')
      if level ~= nil then
        local ts = math.max(num(d .. ':ts') or now, paused)
        redis.call('HSET', H, d .. ':level', fmt(math.min(level, 0)), d .. ':ts', fmt(ts))
      end
    end
  end
  if status == 429 then
    paused = math.max(paused, now + (retry_after or default_pause))
    for _, d in ipairs(DIMS) do
      local level = num(d .. ':level')
      if level ~= nil then
        local ts = math.max(num(d .. ':ts') or now, paused)
        redis.call('HSET', H, d .. ':level', fmt(math.min(level, 0)), d .. ':ts', fmt(ts))
      end
    end
  end
  redis.call('HSET', H, 'paused_until', fmt(paused))
  redis.call('SADD', INDEX, ARGV[26])
end
if has_refund then
  for i, d in ipairs(DIMS) do
    local limit = effective(num('configured:' .. d), num(d .. ':learned'))
    local level, ts = num(d .. ':level'), num(d .. ':ts')
    if limit and level ~= nil then
      local cap, refill = bucket(limit)
      level = math.min(cap, level + math.max(now - (ts or now), 0) * refill)
      local moved = math.max(ts or now, now)
      redis.call('HSET', H, d .. ':level', fmt(math.min(cap, level + arg(i, 1))), d .. ':ts', fmt(moved))
    end
  end
end
return 1
"""
)


def _optional(value: float | None) -> str:
    return "" if value is None else repr(float(value))


class RedisRateBudget:
    """The `RateBudget` port on Redis. The client belongs to the caller; `from_url` owns one instead."""

    def __init__(self, client: Redis, policy: BudgetPolicy, *, namespace: str = DEFAULT_QUEUE_NAMESPACE) -> None:
        self._client = client
        self._policy = policy
        self._keys = BudgetKeys.for_namespace(namespace)
        self._reserve = client.register_script(_RESERVE)
        self._record = client.register_script(_RECORD)

    @classmethod
    @asynccontextmanager
    async def from_url(
        cls, url: str, policy: BudgetPolicy, *, namespace: str = DEFAULT_QUEUE_NAMESPACE
    ) -> AsyncIterator[RedisRateBudget]:
        client = pooled_client(url, socket_timeout_seconds=2.0)
        try:
            yield cls(client, policy, namespace=namespace)
        finally:
            await client.aclose()

    def _common(self, now: float) -> list[str]:
        policy = self._policy
        return [repr(now), repr(policy.window_seconds), repr(policy.burst_fraction), repr(policy.headroom_fraction)]

    async def reserve(
        self,
        key: str,
        *,
        demand: Demand,
        configured: Mapping[Dimension, int],
        job_id: str | None,
        now: float,
        horizon_seconds: float,
    ) -> Grant:
        args = [
            *self._common(now),
            repr(float(horizon_seconds)),
            repr(self._policy.max_defer_seconds),
            job_id or "",
            repr(MIN_DEFER_SECONDS),
            str(int(WAIT_RECORD_TTL_SECONDS)),
        ]
        for dimension in _DIMENSIONS:
            args += [str(int(configured.get(dimension, 0))), repr(demand.amount(dimension))]
        args.append(key)
        keys = [self._keys.bucket(key), self._keys.wait(job_id or ""), self._keys.index]
        with _translated():
            reply = await self._reserve(keys, args)
        granted, delay, earlier, limited = (_text(item) for item in reply)
        if limited == "0":
            return UNLIMITED
        return Grant(granted == "1", float(delay), float(earlier))

    async def record(
        self, key: str, *, refund: Demand | None, observation: RateLimitObservation | None, now: float
    ) -> None:
        learn = observation is not None and self._policy.learn
        args = [
            *self._common(now),
            "1" if learn else "0",
            str(observation.status if observation is not None else 0),
            _optional(observation.retry_after_seconds if observation is not None else None),
            repr(DEFAULT_PAUSE_SECONDS),
            "1" if refund is not None else "0",
        ]
        readings = observation.readings if observation is not None else {}
        for dimension in _DIMENSIONS:
            reading = readings.get(dimension)
            args += [
                repr(refund.amount(dimension)) if refund is not None else "0",
                _optional(reading.limit if reading else None),
                _optional(reading.remaining if reading else None),
                _optional(reading.reset_seconds if reading else None),
            ]
        args.append(key)
        with _translated():
            await self._record([self._keys.bucket(key), self._keys.wait(""), self._keys.index], args)

    async def states(self, *, now: float) -> list[BudgetState]:
        with _translated():
            members = sorted(_text(member) for member in await self._client.smembers(self._keys.index))
            async with self._client.pipeline(transaction=False) as pipe:
                for member in members:
                    pipe.hgetall(self._keys.bucket(member))
                rows = await pipe.execute()
        return [
            state
            for member, row in zip(members, rows, strict=True)
            if (state := self._state(member, {_text(k): _text(v) for k, v in row.items()}, now)) is not None
        ]

    def _state(self, key: str, fields: dict[str, str], now: float) -> BudgetState | None:
        limits: dict[Dimension, int] = {}
        available: dict[Dimension, float] = {}
        for dimension in _DIMENSIONS:
            name = dimension.value

            def number(field: str) -> float | None:
                value = fields.get(field)
                return float(value) if value not in (None, "") else None

            configured, learned = number(f"configured:{name}"), number(f"{name}:learned")
            limit = effective_limit(
                int(configured) if configured is not None else None, int(learned) if learned is not None else None
            )
            if limit is None:
                continue
            capacity, refill = self._policy.bucket(limit)
            level, updated_at = number(f"{name}:level"), number(f"{name}:ts")
            if level is None:
                level, updated_at = capacity, now
            limits[dimension] = limit
            available[dimension] = min(capacity, level + max(now - (updated_at or now), 0.0) * refill)
        if not limits:
            return None
        paused = max(float(fields.get("paused_until") or 0.0) - now, 0.0)
        return BudgetState(key, limits, available, paused)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise BudgetUnavailableError(f"rate budget unreachable ({type(exc).__name__})") from exc
