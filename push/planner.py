"""Turn a running campaign into queued messages, applying the pre-send checks in order.

For each channel of the campaign, in the campaign's priority order:

1. **preferences** (bulk ``BITOP``): marketing/policy opt-outs per channel. Service notices have no
   opt-out, and always reach the inbox (a forced inbox channel is added to service campaigns).
2. **channel address** (bulk): no openid / open_id / device token → ``no_channel_address``.
3. **dedupe** (per citizen, Lua): the message id is ``<campaign>.<channel>.<idx>``; a bit per
   campaign × channel records "enqueued", so re-planning (a crash, a resume) never duplicates.
4. **frequency caps** (Lua): the campaign's ``max_per_citizen`` across its channels (channels are
   tried in priority order, so a cap of 1 means "the first channel that works"), then the global
   cap of ``daily_cap`` marketing/policy messages per citizen per push channel per Beijing day
   (bitmaps per level, so the check and the increment are both O(1) bit operations).
5. **quiet hours** (22:00–08:00 Beijing by default): push channels are not dropped but deferred to
   the end of the window (the batch goes to the ``push:delayed`` zset); caps and quotas count on
   the day of delivery. The inbox is silent and never deferred.
6. **consent** (Lua, atomic consume): one one-time subscription per WeChat/Alipay message, or a
   long-term one; none → ``not_subscribed``. The script returns whom it consumed for, and the slice's
   consumption is then recorded in PostgreSQL's consent ledger in one statement (``push.consent_usage``).
7. **daily channel quota** (Lua, atomic): WeChat 10 M/day, own caps elsewhere; used up →
   ``quota_exhausted``. Checked before the consent is consumed, so a refused message does not spend
   the citizen's one-time subscription.

**Shards.** The citizen index is split into shards (``push.keys.SHARD_BITS``); every bitmap, ledger and
queue a planning call touches belongs to one shard (one hash tag, so one Redis Cluster slot), and the
plan runs shard by shard: resolve the shard's audience, then each channel's slices. Shards are
independent, so they could be planned by several workers at once; only the daily channel quota is
global (see ``_reserve``).

Steps 3–7 run in one Lua script per batch of citizens, so "check and consume" is one atomic step
and a message is enqueued (``XADD`` of a batch of ≤ 100 citizens) in the same script that consumed
for it. The per-channel **rate limit** is about time, not about who: it is a token bucket taken by
the dispatcher right before each send (``push.limits``). ``preview`` runs the same script in dry-run
mode against scratch copies, consuming nothing.
"""
from __future__ import annotations

import logging
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis

from kernel.clock import Clock, SystemClock, china_today, day_key, quiet_until
from push import keys
from push.audience import AudienceResolver
from push.campaigns import PAUSED, RUNNING, Campaign, CampaignStore
from push.consent_usage import ConsentUsage
from push.settings import CONSENT_CHANNELS, PUSH_CHANNELS, PushSettings
from push.redisutil import bitop, shards_in_use
from push.stats import SKIP_REASONS, Stats

log = logging.getLogger("msb.push.planner")

SLICE_BYTES = 2048  # citizens per planning call: 16 384 (a few ms of Redis time each)
STREAM_BATCH = 100

# One slice of the candidates bitmap per call: bytes [b0, b1), i.e. citizens 8*b0 .. 8*b1-1. The
# bitmap checks (dedupe, campaign cap, daily cap, "has consent") run byte-wise on GETRANGE slices of
# the bitmaps and the results go back with SETRANGE, so only citizens that pass them cost a per-citizen
# command (the one-time consent decrement). Each call is atomic: no other planner can interleave
# between the check and the consume of a citizen.
# Every key is of one shard. Bit offsets are the shard's (``keys.bit_of``); ids in the queue, hash fields
# and ``accepted`` are global (``shard_base`` + offset).
# KEYS: 1 planned, 2 stream, 3 delayed, 4 stats, 5 consent, 6 consent_has, 7 mark, 8 candidates,
#       then n_freq frequency levels (1..N), then n_other planned bitmaps of the campaign's other channels.
# ARGV: 1 cid, 2 ch, 3 dry, 4 use_consent, 5 allowance (messages the quota still allows this call; -1 =
#       no quota), 6 n_freq, 7 n_other, 8 max_per, 9 deferred_until (0 = now), 10 stream batch,
#       11 state ttl, 12 freq ttl, 13 b0, 14 b1, 15 shard_base
# Returns {enqueued, duplicate, capped, not subscribed, quota exhausted, idxs whose one-time consent was consumed}
# (the caller records the last in PostgreSQL, ``push.consent_usage``).
PLAN_LUA = """
local band, bor, bnot, rshift = bit.band, bit.bor, bit.bnot, bit.rshift
local cid, ch = ARGV[1], ARGV[2]
local dry = ARGV[3] == '1'
local use_consent = ARGV[4] == '1'
local allowance = tonumber(ARGV[5])
local n_freq, n_other, max_per = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local deferred, batch = tonumber(ARGV[9]), tonumber(ARGV[10])
local b0, b1, shard_base = tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15])
local freq_base, other_base = 8, 8 + n_freq
local cand = redis.call('getrange', KEYS[8], b0, b1 - 1)
local len = #cand
if len == 0 then return {0, 0, 0, 0, 0, {}} end
local function slice(key) return redis.call('getrange', key, b0, b0 + len - 1) end
local function at(s, i) if i <= #s then return string.byte(s, i) end return 0 end
local planned = slice(KEYS[1])
local has = ''
if use_consent then has = slice(KEYS[6]) end
local freq, others = {}, {}
for l = 1, n_freq do freq[l] = slice(KEYS[freq_base + l]) end
for k = 1, 3 do others[k] = '' end
for k = 1, n_other do others[k] = slice(KEYS[other_base + k]) end
local pop = {}
for v = 0, 255 do
  local n, x = 0, v
  while x > 0 do n = n + band(x, 1); x = rshift(x, 1) end
  pop[v] = n
end
local accepted, consumed = {}, {}
local out_planned, out_mark, out_freq = {}, {}, {}
for l = 1, n_freq do out_freq[l] = {} end
local dup, capped, unsubscribed, exhausted = 0, 0, 0, 0
local changed = false
for i = 1, len do
  local c = string.byte(cand, i)
  local p = at(planned, i)
  if c ~= 0 then
    local d = band(c, p)
    if d ~= 0 then dup = dup + pop[d]; c = band(c, bnot(p)) end
    if c ~= 0 and (max_per > 0 or n_freq > 0) then
      local block = 0
      if max_per > 0 then
        local a, b, e = at(others[1], i), at(others[2], i), at(others[3], i)
        if max_per == 1 then block = bor(a, b, e)
        elseif max_per == 2 then block = bor(band(a, b), band(a, e), band(b, e))
        else block = band(a, b, e) end
      end
      if n_freq > 0 then block = bor(block, at(freq[n_freq], i)) end
      local x = band(c, block)
      if x ~= 0 then capped = capped + pop[x]; c = band(c, bnot(block)) end
    end
    if c ~= 0 and use_consent then
      local h = at(has, i)
      local x = band(c, bnot(h))
      if x ~= 0 then unsubscribed = unsubscribed + pop[x]; c = band(c, h) end
    end
    if c ~= 0 then
      local base = (b0 + i - 1) * 8 + shard_base
      for bitpos = 0, 7 do
        local mask = rshift(128, bitpos)
        if band(c, mask) ~= 0 then
          local idx = base + bitpos
          local ok, reason = true, nil
          -- the channel quota first, so a citizen's one-time subscription is not spent on a message
          -- the quota then refuses
          if allowance >= 0 and #accepted + 1 > allowance then ok, reason = false, 'exhausted' end
          if ok and use_consent and not dry then
            local v = redis.call('hget', KEYS[5], idx)
            if v == '-1' then
              -- long-term: nothing to consume
            elseif v and tonumber(v) >= 1 then
              if tonumber(v) == 1 then
                redis.call('hdel', KEYS[5], idx)
                redis.call('setbit', KEYS[6], idx - shard_base, 0)
              else
                redis.call('hincrby', KEYS[5], idx, -1)
              end
              consumed[#consumed + 1] = idx
            else
              ok, reason = false, 'unsubscribed'
            end
          end
          if ok then
            accepted[#accepted + 1] = idx
          else
            if reason == 'exhausted' then exhausted = exhausted + 1 else unsubscribed = unsubscribed + 1 end
            c = band(c, bnot(mask))
          end
        end
      end
    end
    if c ~= 0 then changed = true end
  end
  out_planned[i] = string.char(bor(p, c))
  out_mark[i] = string.char(c)
  if n_freq > 0 then
    local prev = 255
    for l = 1, n_freq do
      local old = at(freq[l], i)
      out_freq[l][i] = string.char(bor(old, band(c, prev)))
      prev = old
    end
  end
end
local n = #accepted
if changed then
  redis.call('setrange', KEYS[1], b0, table.concat(out_planned))
  redis.call('setrange', KEYS[7], b0, table.concat(out_mark))
  if not dry then
    for l = 1, n_freq do
      redis.call('setrange', KEYS[freq_base + l], b0, table.concat(out_freq[l]))
      redis.call('expire', KEYS[freq_base + l], ARGV[12])
    end
  end
end
if not dry then
  if n > 0 then
    for s = 1, n, batch do
      local ids = table.concat(accepted, ',', s, math.min(s + batch - 1, n))
      if deferred > 0 then
        redis.call('zadd', KEYS[3], deferred, cjson.encode({c = cid, ch = ch, ids = ids, n = 0}))
      else
        redis.call('xadd', KEYS[2], '*', 'c', cid, 'ch', ch, 'ids', ids, 'n', '0')
      end
    end
    redis.call('hincrby', KEYS[4], 'planned:' .. ch, n)
    redis.call('hincrby', KEYS[4], 'outstanding', n)
    if deferred > 0 then redis.call('hincrby', KEYS[4], 'deferred:' .. ch, n) end
  end
  redis.call('expire', KEYS[1], ARGV[11])
end
return {n, dup, capped, unsubscribed, exhausted, consumed}
"""

_RENEW_LOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end return 0"
_RELEASE_LOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


@dataclass
class ChannelPlan:
    channel: str
    candidates: int = 0  # audience members considered for this channel
    enqueued: int = 0
    deferred_until: float | None = None
    skipped: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "candidates": self.candidates, "enqueued": self.enqueued,
                "deferred_until": self.deferred_until, "skipped": {r: self.skipped.get(r, 0) for r in SKIP_REASONS}}


@dataclass
class PlanResult:
    campaign_id: str
    audience: int
    reach: int  # citizens with at least one message
    channels: list[ChannelPlan]
    seconds: float
    dry_run: bool

    @property
    def skipped(self) -> dict[str, int]:
        total: Counter = Counter()
        for channel in self.channels:
            total.update(channel.skipped)
        return {reason: total.get(reason, 0) for reason in SKIP_REASONS}

    @property
    def enqueued(self) -> int:
        return sum(channel.enqueued for channel in self.channels)

    @property
    def quiet_hours_deferred(self) -> int:
        return sum(channel.enqueued for channel in self.channels if channel.deferred_until)

    def to_dict(self) -> dict[str, Any]:
        return {"campaign_id": self.campaign_id, "audience": self.audience, "reach": self.reach,
                "enqueued": self.enqueued, "quiet_hours_deferred": self.quiet_hours_deferred,
                "skipped": self.skipped, "channels": {c.channel: c.to_dict() for c in self.channels},
                "seconds": round(self.seconds, 3), "dry_run": self.dry_run}


class PlanBusy(RuntimeError):
    """Another worker is planning this campaign right now."""


class Planner:
    def __init__(self, redis_client: redis.Redis, campaigns: CampaignStore, audience: AudienceResolver,
                 settings: PushSettings, clock: Clock | None = None, usage: ConsentUsage | None = None) -> None:
        self._redis = redis_client
        self._usage = usage
        self._campaigns = campaigns
        self._audience = audience
        self._settings = settings
        self._clock = clock or SystemClock()
        self._stats = Stats(redis_client)
        self._plan = redis_client.register_script(PLAN_LUA)
        self._renew = redis_client.register_script(_RENEW_LOCK)
        self._release = redis_client.register_script(_RELEASE_LOCK)

    def plan(self, campaign: Campaign) -> PlanResult:
        """Enqueue the campaign's messages. Only for running campaigns; idempotent (dedupe bits)."""
        if campaign.status not in (RUNNING, PAUSED):
            raise ValueError(f"campaign {campaign.id} is {campaign.status}, not running")
        owner = secrets.token_hex(8)
        lock = keys.plan_lock(campaign.id)
        if not self._redis.set(lock, owner, nx=True, ex=keys.PLAN_LOCK_TTL):
            raise PlanBusy(campaign.id)
        try:
            self._campaigns.set_fields(campaign.id, {"plan_state": "planning"}, action="plan_started")
            result = self._run(campaign, dry_run=False, renew=lambda: self._renew(keys=[lock], args=[owner, keys.PLAN_LOCK_TTL]))
            self._redis.hset(keys.stats(campaign.id), mapping={"audience": result.audience, "reach": result.reach})
            self._stats.add_series(campaign.id, "planned", result.enqueued, self._clock.now())
            self._campaigns.set_fields(campaign.id, {"plan_state": "planned", "planned_at": repr(self._clock.now())},
                                       action="plan_finished")
            log.info("campaign planned", extra={"fields": {"campaign": campaign.id, "audience": result.audience,
                                                            "enqueued": result.enqueued, "seconds": round(result.seconds, 3)}})
            return result
        finally:
            self._release(keys=[lock], args=[owner])

    def preview(self, campaign: Campaign) -> PlanResult:
        """Audience and per-channel counts after opt-outs, caps, consent and quotas, consuming nothing."""
        return self._run(campaign, dry_run=True, renew=lambda: None)

    # --- the run ------------------------------------------------------------------------------------

    def _run(self, campaign: Campaign, *, dry_run: bool, renew: Any) -> PlanResult:
        started = time.perf_counter()
        now = self._clock.now()
        run = _Run(campaign, dry_run, secrets.token_hex(6), now, renew)
        for ch in run.channels:
            run.plans[ch] = ChannelPlan(ch)
            deferred = quiet_until(now, self._settings.quiet_start, self._settings.quiet_end) if ch in PUSH_CHANNELS else None
            run.plans[ch].deferred_until = deferred
            run.send_day[ch] = day_key(deferred or now)
            if dry_run and self._settings.quotas.get(ch):
                run.dry_quota_used[ch] = int(self._redis.get(keys.channel_quota(ch, run.send_day[ch])) or 0)
        audience = reach = 0
        for shard in shards_in_use(self._redis):
            shard_audience, shard_reach = self._run_shard(run, shard)
            audience += shard_audience
            reach += shard_reach
        plans = [run.plans[ch] for ch in run.channels]
        for plan in plans:
            plan.candidates = audience
        if not dry_run:  # the latest run's picture: a re-plan replaces, never adds up
            self._redis.hset(keys.stats(campaign.id), mapping={f"skipped:{reason}:{plan.channel}": plan.skipped[reason]
                                                               for plan in plans for reason in SKIP_REASONS})
        return PlanResult(campaign.id, audience, reach, plans, time.perf_counter() - started, dry_run)

    def _run_shard(self, run: "_Run", shard: int) -> tuple[int, int]:
        """Plan one shard of the citizen index; (audience, reach) in it. Every key is in the shard's slot
        except the channel quota's (reserved in blocks, ``_reserve``)."""
        campaign, dry_run = run.campaign, run.dry_run
        scratch = [keys.scratch(f"{run.run_id}:{name}", shard) for name in ("aud", "cand", "part")]
        audience_key, candidates_key, part_key = scratch
        try:
            self._audience.resolve(campaign.audience, china_today(self._clock), shard, dest=audience_key)
            audience = self._redis.bitcount(audience_key)
            if not audience:
                return 0, 0
            channels = run.channels
            planned_keys = {ch: keys.planned(shard, campaign.id, ch) for ch in channels}
            if dry_run:  # scratch copies: the dry run marks them as if it had planned
                for ch in channels:
                    copy = keys.scratch(f"{run.run_id}:planned:{ch}", shard)
                    self._redis.delete(copy)
                    self._redis.copy(planned_keys[ch], copy)
                    planned_keys[ch] = copy
                    scratch.append(copy)
            marks = [keys.scratch(f"{run.run_id}:mark:{ch}", shard) for ch in channels]
            scratch.extend(marks)
            for position, ch in enumerate(channels):
                plan = run.plans[ch]
                forced = campaign.forced(ch)
                pipe = self._redis.pipeline(transaction=False)
                pipe.delete(candidates_key)
                pipe.copy(audience_key, candidates_key, replace=True)
                if campaign.category != "service":
                    bitop(pipe, "AND", part_key, candidates_key, keys.seg_opt_out(shard, campaign.category, ch))
                    bitop(pipe, "XOR", candidates_key, candidates_key, part_key)
                opted_out = audience - self._count(pipe, candidates_key)
                pipe = self._redis.pipeline(transaction=False)
                if ch != "inbox":
                    bitop(pipe, "AND", candidates_key, candidates_key, keys.seg_address(shard, ch))
                remaining = audience - opted_out
                reachable = self._count(pipe, candidates_key)
                plan.skipped["opted_out"] += opted_out
                plan.skipped["no_channel_address"] += remaining - reachable
                deferred = plan.deferred_until
                send_day = run.send_day[ch]
                capped = ch in PUSH_CHANNELS and campaign.category in ("marketing", "policy") and not forced
                n_freq = self._settings.daily_cap if capped else 0
                others = [planned_keys[o] for o in run.capped_channels if o != ch] if (run.max_per and not forced) else []
                content = campaign.content.get(ch, {})
                use_consent = ch in CONSENT_CHANNELS
                template = content.get("template_id", "-") if use_consent else "-"
                quota = int(self._settings.quotas.get(ch) or 0)
                lua_keys = [planned_keys[ch], keys.stream(shard, ch), keys.delayed(shard), keys.stats(campaign.id, shard),
                            keys.consent(shard, ch, template), keys.consent_has(shard, ch, template), marks[position],
                            candidates_key]
                lua_keys += [keys.frequency(shard, ch, send_day, level) for level in range(1, n_freq + 1)]
                lua_keys += others
                fixed = [campaign.id, ch, "1" if dry_run else "0", "1" if use_consent else "0"]
                rest = [n_freq, len(others), run.max_per if others else 0, int(deferred or 0), STREAM_BATCH,
                        keys.MESSAGE_STATE_TTL, keys.FREQUENCY_TTL]
                length = self._redis.strlen(candidates_key) if reachable else 0
                for start in range(0, length, SLICE_BYTES):
                    end = start + SLICE_BYTES
                    allowance = -1
                    if quota:
                        wanted = int(self._redis.bitcount(candidates_key, start, end - 1))
                        if not wanted:
                            continue
                        allowance = self._allowance(run, ch, quota, wanted)
                    n, dup, cap, unsubscribed, exhausted, consumed = self._plan(
                        keys=lua_keys, args=fixed + [allowance] + rest + [start, end, keys.shard_base(shard)])
                    if quota:
                        self._settle_allowance(run, ch, allowance, n)
                    if consumed and self._usage is not None:  # one statement per slice; logged, not raised, on failure
                        self._usage.consumed(ch, template, consumed, source="planner", campaign_id=campaign.id)
                    plan.enqueued += n
                    plan.skipped["duplicate"] += dup
                    plan.skipped["frequency_cap"] += cap
                    plan.skipped["not_subscribed"] += unsubscribed
                    plan.skipped["quota_exhausted"] += exhausted
                    run.renew()
            self._redis.bitop("OR", part_key, *marks)
            return audience, int(self._redis.bitcount(part_key))
        finally:
            self._redis.delete(*scratch)

    # The daily channel quota is one counter for every shard, and a shard's script cannot touch it (another
    # slot). So each slice first reserves as many messages as it has candidates with one INCRBY (atomic:
    # concurrent planners of other campaigns or shards never get the same units), the script accepts at
    # most that allowance, and what it did not use goes back with DECRBY. The counter can thus only run
    # ahead of what was really planned, never behind: the quota is never exceeded, and a planner killed
    # between the reservation and the return loses at most one slice's block (16 384) of today's quota.
    # A block per slice rather than per shard keeps the units held by one call small, so another campaign
    # near the limit is not refused for long by units this one will give back.
    def _allowance(self, run: "_Run", ch: str, quota: int, wanted: int) -> int:
        if run.dry_run:  # nothing reserved: count against what the run would have taken so far
            return max(0, min(wanted, quota - run.dry_quota_used.get(ch, 0)))
        return _reserve(self._redis, keys.channel_quota(ch, run.send_day[ch]), quota, wanted)

    def _settle_allowance(self, run: "_Run", ch: str, allowance: int, used: int) -> None:
        if run.dry_run:
            run.dry_quota_used[ch] = run.dry_quota_used.get(ch, 0) + used
        elif allowance > used:
            self._redis.decrby(keys.channel_quota(ch, run.send_day[ch]), allowance - used)

    @staticmethod
    def _count(pipe: Any, key: str) -> int:
        pipe.bitcount(key)
        return int(pipe.execute()[-1])


def _reserve(client: redis.Redis, quota_key: str, quota: int, wanted: int) -> int:
    """Take up to ``wanted`` units of a global daily quota; returns how many were granted."""
    pipe = client.pipeline(transaction=False)
    pipe.incrby(quota_key, wanted)
    pipe.expire(quota_key, keys.FREQUENCY_TTL)
    total = int(pipe.execute()[0])
    granted = max(0, min(wanted, quota - (total - wanted)))
    if granted < wanted:
        client.decrby(quota_key, wanted - granted)
    return granted


class _Run:
    """One plan or preview run: what every shard of it shares."""

    def __init__(self, campaign: Campaign, dry_run: bool, run_id: str, now: float, renew: Any) -> None:
        self.campaign, self.dry_run, self.run_id, self.now, self.renew = campaign, dry_run, run_id, now, renew
        self.channels = campaign.effective_channels
        self.capped_channels = [ch for ch in self.channels if not campaign.forced(ch)]
        self.max_per = campaign.max_per_citizen if campaign.max_per_citizen < len(self.capped_channels) else 0
        self.plans: dict[str, ChannelPlan] = {}
        self.send_day: dict[str, str] = {}
        self.dry_quota_used: dict[str, int] = {}
