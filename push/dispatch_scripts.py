"""The dispatcher's atomic check-and-act steps, as Lua run on the Redis server.

Each script touches only one campaign × channel's state in one shard of the citizen index (or one
shard's queues), which is what a message's state machine in ``push.dispatcher`` needs to be
all-or-nothing: claim, wire mark, complete, orphan handling, promotion of due retries and un-parking.
Every key of a script carries the shard's hash tag (one Redis Cluster slot). Message ids and hash fields
use the global idx; bitmaps the offset in the shard (idx - shard base, passed as an argument).
"""

# KEYS: 1 done, 2 inflight, 3 opt-out bitmap, 4 stats.
# ARGV: cid, ch, consumer|now|attempt, now, check opt-out, shard base, idx…
CLAIM_LUA = """
local out = {}
local base = tonumber(ARGV[6])
for i = 7, #ARGV do
  local idx = ARGV[i]
  local bit = tonumber(idx) - base
  local field = ARGV[1] .. '|' .. ARGV[2] .. '|' .. idx
  if redis.call('getbit', KEYS[1], bit) == 1 then
    out[#out + 1] = 'done'
  elseif redis.call('hexists', KEYS[2], field) == 1 then
    out[#out + 1] = 'busy'
  elseif ARGV[5] == '1' and redis.call('getbit', KEYS[3], bit) == 1 then
    redis.call('setbit', KEYS[1], bit, 1)
    redis.call('hincrby', KEYS[4], 'late:opted_out:' .. ARGV[2], 1)
    redis.call('hincrby', KEYS[4], 'outstanding', -1)
    out[#out + 1] = 'opted_out'
  else
    redis.call('hset', KEYS[2], field, ARGV[3])
    out[#out + 1] = 'ok'
  end
end
return out
"""

# KEYS: 1 done, 2 sent, 3 unknown, 4 inflight, 5 stats, 6 consent, 7 consent_has, 8 delayed, 9 dead,
#       10 series, 11 address hash, 12 address bitmap, 13 dead bitmap (dead-lettered, retryable by an operator)
# ARGV: 1 cid, 2 ch, 3 now, 4 minute, 5 attempt, 6 max_attempts, 7 state ttl, 8 shard base,
#       9 unused, 10 series ttl, 11 dead maxlen, then groups of 6: idx, status, code, msgid, due, flags
# (a sent WeChat message's msgid -> "cid|idx" record is another slot's key: the caller writes it after)
#       flags: z = zero consent, d = drop address, e = counts as error, r = refund consent if dead-lettered
# Returns {shard outstanding, attempts, errors, idxs refunded, idxs zeroed}: the caller records the consent
# changes in PostgreSQL (``push.consent_usage``).
COMPLETE_LUA = """
local cid, ch, now, attempt, max_attempts = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[5]), tonumber(ARGV[6])
local base = tonumber(ARGV[8])
local c = {sent = 0, failed = 0, retries = 0, dead = 0, attempts = 0, errors = 0, outstanding = 0, unknown = 0}
local refunded, zeroed = {}, {}
local function has(flags, f) return string.find(flags, f, 1, true) ~= nil end
local function fail(idx, code)
  redis.call('setbit', KEYS[1], tonumber(idx) - base, 1)
  redis.call('hincrby', KEYS[5], 'failed_code:' .. ch .. ':' .. code, 1)
  c.failed = c.failed + 1
  c.outstanding = c.outstanding - 1
end
for i = 12, #ARGV, 6 do
  local idx, status, code, msgid, due, flags = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local field = cid .. '|' .. ch .. '|' .. idx
  local bit = tonumber(idx) - base
  local done = redis.call('getbit', KEYS[1], bit) == 1
  if status == 'abandoned' then
    -- our claim was re-queued before the request left: the new owner settles it
    status = ''
  elseif status == 'cancelled' or status == 'expired' then
    -- settling a whole batch: leave messages another dispatcher is sending to their owner
    if (not done) and redis.call('hexists', KEYS[4], field) == 0 then
      redis.call('setbit', KEYS[1], bit, 1)
      redis.call('hincrby', KEYS[5], status .. ':' .. ch, 1)
      c.outstanding = c.outstanding - 1
    end
    status = ''
  else
    redis.call('hdel', KEYS[4], field)
  end
  if status == '' then
    -- handled above
  elseif status == 'sent' then
    c.attempts = c.attempts + 1
    if done then
      if redis.call('getbit', KEYS[3], bit) == 1 then
        redis.call('setbit', KEYS[3], bit, 0)
        redis.call('setbit', KEYS[2], bit, 1)
        c.unknown = c.unknown - 1
        c.sent = c.sent + 1
      end
    else
      redis.call('setbit', KEYS[1], bit, 1)
      redis.call('setbit', KEYS[2], bit, 1)
      c.sent = c.sent + 1
      c.outstanding = c.outstanding - 1
    end
  elseif done then
    -- settled meanwhile (by the orphan sweeper): nothing more to do
  elseif status == 'skipped' then
    redis.call('setbit', KEYS[1], bit, 1)
    redis.call('hincrby', KEYS[5], 'late:' .. code .. ':' .. ch, 1)
    c.outstanding = c.outstanding - 1
  elseif status == 'failed' then
    c.attempts = c.attempts + 1
    if has(flags, 'e') then c.errors = c.errors + 1 end
    fail(idx, code)
    if has(flags, 'z') then
      redis.call('hdel', KEYS[6], idx)
      redis.call('setbit', KEYS[7], bit, 0)
      zeroed[#zeroed + 1] = idx
    end
    if has(flags, 'd') then
      redis.call('hdel', KEYS[11], idx)
      redis.call('setbit', KEYS[12], bit, 0)
    end
  elseif status == 'retry' then
    c.attempts = c.attempts + 1
    c.errors = c.errors + 1
    if attempt + 1 >= max_attempts then
      fail(idx, code)
      c.dead = c.dead + 1
      redis.call('setbit', KEYS[13], bit, 1)
      redis.call('expire', KEYS[13], ARGV[7])
      redis.call('xadd', KEYS[9], 'MAXLEN', '~', ARGV[11], '*', 'c', cid, 'ch', ch, 'idx', idx, 'code', code,
        'attempts', tostring(attempt + 1), 'at', now)
      if has(flags, 'r') then
        local current = redis.call('hget', KEYS[6], idx)
        if current ~= '-1' then
          redis.call('hincrby', KEYS[6], idx, 1)
          redis.call('setbit', KEYS[7], bit, 1)
          refunded[#refunded + 1] = idx
        end
      end
    else
      c.retries = c.retries + 1
      redis.call('zadd', KEYS[8], due, cjson.encode({c = cid, ch = ch, ids = idx, n = attempt + 1}))
    end
  end
end
for _, name in ipairs({'sent', 'failed', 'retries', 'dead', 'unknown'}) do
  if c[name] ~= 0 then redis.call('hincrby', KEYS[5], name .. ':' .. ch, c[name]) end
end
for _, name in ipairs({'sent', 'failed'}) do
  if c[name] ~= 0 then redis.call('hincrby', KEYS[10], ARGV[4] .. ':' .. name, c[name]) end
end
redis.call('expire', KEYS[10], ARGV[10])
local attempts = redis.call('hincrby', KEYS[5], 'attempts', c.attempts)
local errors = redis.call('hincrby', KEYS[5], 'errors', c.errors)
local outstanding = redis.call('hincrby', KEYS[5], 'outstanding', c.outstanding)
for k = 1, 3 do redis.call('expire', KEYS[k], ARGV[7]) end
return {outstanding, attempts, errors, refunded, zeroed}
"""

# KEYS: inflight. ARGV: field, claim value, marked value ("<claim>|w[|doubt handle]"). The sender is
# connected and about to write the request: only if the claim is still ours (the sweeper may have
# re-queued a claim that never reached the wire).
ON_WIRE_LUA = """
if redis.call('hget', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('hset', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

# KEYS: 1 inflight, 2 done, 3 delayed. ARGV: field, expected value, idx, cid, ch, attempt, now, bit.
# A claim that never reached the wire (its owner died before sending): safe to send again.
REQUEUE_ORPHAN_LUA = """
if redis.call('hget', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('hdel', KEYS[1], ARGV[1])
if redis.call('getbit', KEYS[2], ARGV[8]) == 1 then return 0 end
redis.call('zadd', KEYS[3], ARGV[7], cjson.encode({c = ARGV[4], ch = ARGV[5], ids = ARGV[3], n = tonumber(ARGV[6])}))
return 1
"""

# KEYS: 1 inflight, 2 done, 3 unknown, 4 stats (one shard). ARGV: field, expected owner value, bit, ch.
# A send that was on the wire: settled ``unknown`` (never re-sent). 1 = settled, 0 = not ours to settle.
# A WeChat send's doubt handle is then matched with a sent event in the handle's own slot
# (``push.reconcile.DoubtReconciler.swept``), which may turn the ``unknown`` into ``sent``.
SETTLE_ORPHAN_LUA = """
if redis.call('hget', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('hdel', KEYS[1], ARGV[1])
if redis.call('getbit', KEYS[2], ARGV[3]) == 1 then return 0 end
redis.call('setbit', KEYS[2], ARGV[3], 1)
redis.call('hincrby', KEYS[4], 'outstanding', -1)
redis.call('setbit', KEYS[3], ARGV[3], 1)
redis.call('hincrby', KEYS[4], 'unknown:' .. ARGV[4], 1)
return 1
"""

# KEYS: 1 delayed zset, then one stream per channel in ARGV[3..] (one shard). ARGV: now, limit, channels…
PROMOTE_LUA = """
local due = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local streams = {}
for i = 3, #ARGV do streams[ARGV[i]] = KEYS[i - 1] end
for _, member in ipairs(due) do
  local batch = cjson.decode(member)
  local stream = streams[batch.ch]
  if stream then
    redis.call('xadd', stream, '*', 'c', batch.c, 'ch', batch.ch, 'ids', tostring(batch.ids), 'n', tostring(batch.n))
  end
  redis.call('zrem', KEYS[1], member)
end
return #due
"""

# KEYS: 1 parked list, then streams as PROMOTE (one shard). ARGV: channels…
UNPARK_LUA = """
local streams = {}
for i = 1, #ARGV do streams[ARGV[i]] = KEYS[i + 1] end
local moved = 0
while true do
  local member = redis.call('lpop', KEYS[1])
  if not member then break end
  local batch = cjson.decode(member)
  redis.call('xadd', streams[batch.ch], '*', 'c', batch.c, 'ch', batch.ch, 'ids', tostring(batch.ids), 'n', tostring(batch.n))
  moved = moved + 1
end
return moved
"""
