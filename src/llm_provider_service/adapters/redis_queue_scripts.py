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

# ARGV: capacity, then job_id, priority, due_at ('' = ready now) per job. Returns one character per job: '1' added,
# '0' already held, '-' full (one bulk string parses faster in the client than an array of integers).
# The batch reads HLEN once and counts its own additions, takes its sequence numbers in one INCRBY (gaps from
# skipped jobs do not matter, only the order) and wakes claimers with one LPUSH of a mark per added job.
ENQUEUE = (
    _PRELUDE
    + """
local capacity, size = tonumber(ARGV[1]), redis.call('HLEN', PRIORITY)
local seq = redis.call('INCRBY', SEQUENCE, (#ARGV - 1) / 3) - (#ARGV - 1) / 3
local result, added = {}, 0
for i = 2, #ARGV, 3 do
  local id = ARGV[i]
  if size >= capacity then
    result[#result + 1] = redis.call('HEXISTS', PRIORITY, id) == 1 and '0' or '-'
  elseif redis.call('HSETNX', PRIORITY, id, ARGV[i + 1]) == 0 then
    result[#result + 1] = '0'
  else
    if ARGV[i + 2] == '' then
      seq = seq + 1
      -- '%.0f' keeps every digit; Lua's default number format would round the sequence away.
      redis.call('ZADD', READY, string.format('%.0f', (10 - tonumber(ARGV[i + 1])) * 1e13 + seq), id)
    else
      redis.call('ZADD', DELAYED, ARGV[i + 2], id)
    end
    size, added = size + 1, added + 1
    result[#result + 1] = '1'
  end
end
if added > 0 then
  -- One mark per job wakes as many blocked claimers (one each), as place() does per job.
  local marks = {}
  for i = 1, math.min(added, 1024) do marks[i] = '1' end
  redis.call('LPUSH', WAKEUP, unpack(marks))
  redis.call('LTRIM', WAKEUP, 0, 1023)
end
return table.concat(result)
"""
)

# ARGV: now, max_jobs, lease deadline, token prefix, promote limit.
# Returns {next delay due or '', next lease deadline or '', job_id, job_id, ...}; the n-th job's token is
# "<prefix>:<n>", which the client builds itself rather than parse it back.
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
-- Variadic ZADD/HSET in chunks (Lua's unpack has a stack limit); the n-th job's token is prefix:n.
local leased, tokens = {}, {}
for i = 1, #popped, 2 do
  local id, n = popped[i], (i + 1) / 2
  leased[#leased + 1] = ARGV[3]
  leased[#leased + 1] = id
  tokens[#tokens + 1] = id
  tokens[#tokens + 1] = ARGV[4] .. ':' .. n
  result[#result + 1] = id
  if #leased >= 2000 or i + 2 > #popped then
    redis.call('ZADD', LEASED, unpack(leased))
    redis.call('HSET', TOKEN, unpack(tokens))
    leased, tokens = {}, {}
  end
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
# One HMGET reads every token; the current holders' entries go in one variadic ZREM and two HDELs.
ACK_MANY = (
    _PRELUDE
    + """
local ids = {}
for i = 1, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return 0 end
local current, acked, seen = redis.call('HMGET', TOKEN, unpack(ids)), {}, {}
for n = 1, #ids do
  -- A lease listed twice is acked once.
  if current[n] == ARGV[2 * n] and not seen[ids[n]] then
    seen[ids[n]] = true
    acked[#acked + 1] = ids[n]
  end
end
if #acked > 0 then
  redis.call('ZREM', LEASED, unpack(acked))
  redis.call('HDEL', TOKEN, unpack(acked))
  redis.call('HDEL', PRIORITY, unpack(acked))
end
return #acked
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
