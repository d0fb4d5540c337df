"""The Lua scripts of `RedisJobQueue`: each queue operation is one script, so it is atomic in Redis."""

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

# ARGV: capacity, then job_id, priority, due_at ('' = ready now) per job. Returns per job 1 added, 0 already held,
# -1 full.
ENQUEUE = (
    _PRELUDE
    + """
local capacity, result = tonumber(ARGV[1]), {}
for i = 2, #ARGV, 3 do
  local id = ARGV[i]
  if redis.call('HEXISTS', PRIORITY, id) == 1 then
    result[#result + 1] = 0
  elseif redis.call('HLEN', PRIORITY) >= capacity then
    result[#result + 1] = -1
  else
    redis.call('HSET', PRIORITY, id, ARGV[i + 1])
    place(id, ARGV[i + 2])
    result[#result + 1] = 1
  end
end
return result
"""
)

# ARGV: now, max_jobs, lease deadline, token prefix, promote limit.
# Returns {next delay due or '', next lease deadline or '', job_id, token, job_id, token, ...}.
CLAIM = (
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
RENEW = (
    _PRELUDE
    + """
if redis.call('HGET', TOKEN, ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZADD', LEASED, ARGV[3], ARGV[1])
return 1
"""
)

# ARGV: job_id, token.
ACK = (
    _PRELUDE
    + """
if redis.call('HGET', TOKEN, ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', LEASED, ARGV[1])
redis.call('HDEL', TOKEN, ARGV[1])
redis.call('HDEL', PRIORITY, ARGV[1])
return 1
"""
)

# ARGV: job_id, token, job_id, token, ... (a worker's finished jobs at once). Returns how many were acked.
ACK_MANY = (
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
RELEASE = (
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
REMOVE = (
    _PRELUDE
    + """
if redis.call('ZREM', READY, ARGV[1]) + redis.call('ZREM', DELAYED, ARGV[1]) == 0 then return 0 end
redis.call('HDEL', PRIORITY, ARGV[1])
return 1
"""
)
