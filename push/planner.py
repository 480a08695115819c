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
   long-term one; none → ``not_subscribed``.
7. **daily channel quota** (Lua, atomic): WeChat 10 M/day, own caps elsewhere; used up →
   ``quota_exhausted``. Checked before the consent is consumed, so a refused message does not spend
   the citizen's one-time subscription.

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
from push.settings import CONSENT_CHANNELS, PUSH_CHANNELS, PushSettings
from push.stats import SKIP_REASONS, Stats

log = logging.getLogger("msb.push.planner")

SLICE_BYTES = 2048  # citizens per planning call: 16 384 (a few ms of Redis time each)
STREAM_BATCH = 100

# One slice of the candidates bitmap per call: bytes [b0, b1), i.e. citizens 8*b0 .. 8*b1-1. The
# bitmap checks (dedupe, campaign cap, daily cap, "has consent") run byte-wise on GETRANGE slices of
# the bitmaps and the results go back with SETRANGE, so only citizens that pass them cost a per-citizen
# command (the one-time consent decrement). Each call is atomic: no other planner can interleave
# between the check and the consume of a citizen.
# KEYS: 1 planned, 2 stream, 3 delayed, 4 stats, 5 consent, 6 consent_has, 7 quota, 8 mark, 9 candidates,
#       then n_freq frequency levels (1..N), then n_other planned bitmaps of the campaign's other channels.
# ARGV: 1 cid, 2 ch, 3 dry, 4 use_consent, 5 quota_limit, 6 n_freq, 7 n_other, 8 max_per,
#       9 deferred_until (0 = now), 10 stream batch, 11 state ttl, 12 freq ttl, 13 b0, 14 b1
PLAN_LUA = """
local band, bor, bnot, rshift = bit.band, bit.bor, bit.bnot, bit.rshift
local cid, ch = ARGV[1], ARGV[2]
local dry = ARGV[3] == '1'
local use_consent = ARGV[4] == '1'
local quota_limit = tonumber(ARGV[5])
local n_freq, n_other, max_per = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local deferred, batch = tonumber(ARGV[9]), tonumber(ARGV[10])
local b0, b1 = tonumber(ARGV[13]), tonumber(ARGV[14])
local freq_base, other_base = 9, 9 + n_freq
local cand = redis.call('getrange', KEYS[9], b0, b1 - 1)
local len = #cand
if len == 0 then return {0, 0, 0, 0, 0} end
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
local used = 0
if quota_limit > 0 then used = tonumber(redis.call('get', KEYS[7]) or '0') end
local accepted = {}
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
      local base = (b0 + i - 1) * 8
      for bitpos = 0, 7 do
        local mask = rshift(128, bitpos)
        if band(c, mask) ~= 0 then
          local idx = base + bitpos
          local ok, reason = true, nil
          -- the channel quota first, so a citizen's one-time subscription is not spent on a message
          -- the quota then refuses
          if quota_limit > 0 and used + #accepted + 1 > quota_limit then ok, reason = false, 'exhausted' end
          if ok and use_consent and not dry then
            local v = redis.call('hget', KEYS[5], idx)
            if v == '-1' then
              -- long-term: nothing to consume
            elseif v and tonumber(v) >= 1 then
              if tonumber(v) == 1 then
                redis.call('hdel', KEYS[5], idx)
                redis.call('setbit', KEYS[6], idx, 0)
              else
                redis.call('hincrby', KEYS[5], idx, -1)
              end
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
  redis.call('setrange', KEYS[8], b0, table.concat(out_mark))
  if not dry then
    for l = 1, n_freq do
      redis.call('setrange', KEYS[freq_base + l], b0, table.concat(out_freq[l]))
      redis.call('expire', KEYS[freq_base + l], ARGV[12])
    end
  end
end
if not dry then
  if n > 0 then
    if quota_limit > 0 then
      redis.call('incrby', KEYS[7], n)
      redis.call('expire', KEYS[7], ARGV[12])
    end
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
return {n, dup, capped, unsubscribed, exhausted}
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
                 settings: PushSettings, clock: Clock | None = None) -> None:
        self._redis = redis_client
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
        run_id = secrets.token_hex(6)
        scratch = [keys.scratch(f"{run_id}:{name}") for name in ("aud", "cand", "part")]
        audience_key, candidates_key, part_key = scratch
        self._audience.resolve(campaign.audience, china_today(self._clock), dest=audience_key)
        audience = self._redis.bitcount(audience_key)
        channels = campaign.effective_channels
        capped_channels = [ch for ch in channels if not campaign.forced(ch)]
        max_per = campaign.max_per_citizen if campaign.max_per_citizen < len(capped_channels) else 0
        planned_keys = {ch: keys.planned(campaign.id, ch) for ch in channels}
        if dry_run:  # scratch copies: the dry run marks them as if it had planned
            for ch in channels:
                copy = keys.scratch(f"{run_id}:planned:{ch}")
                self._redis.delete(copy)
                self._redis.copy(planned_keys[ch], copy)
                planned_keys[ch] = copy
                scratch.append(copy)
        marks = [keys.scratch(f"{run_id}:mark:{ch}") for ch in channels]
        scratch.extend(marks)
        plans: list[ChannelPlan] = []
        try:
            for position, ch in enumerate(channels):
                plan = ChannelPlan(ch)
                plans.append(plan)
                forced = campaign.forced(ch)
                pipe = self._redis.pipeline(transaction=False)
                pipe.delete(candidates_key)
                pipe.copy(audience_key, candidates_key, replace=True)
                if campaign.category != "service":
                    pipe.bitop("AND", part_key, candidates_key, keys.seg_opt_out(campaign.category, ch))
                    pipe.bitop("XOR", candidates_key, candidates_key, part_key)
                opted_out = audience - self._count(pipe, candidates_key)
                pipe = self._redis.pipeline(transaction=False)
                if ch != "inbox":
                    pipe.bitop("AND", candidates_key, candidates_key, keys.seg_address(ch))
                remaining = audience - opted_out
                reachable = self._count(pipe, candidates_key)
                plan.candidates = audience
                plan.skipped["opted_out"] += opted_out
                plan.skipped["no_channel_address"] += remaining - reachable
                deferred = None
                if ch in PUSH_CHANNELS:
                    deferred = quiet_until(now, self._settings.quiet_start, self._settings.quiet_end)
                plan.deferred_until = deferred
                send_day = day_key(deferred or now)
                capped = ch in PUSH_CHANNELS and campaign.category in ("marketing", "policy") and not forced
                n_freq = self._settings.daily_cap if capped else 0
                others = [planned_keys[o] for o in capped_channels if o != ch] if (max_per and not forced) else []
                content = campaign.content.get(ch, {})
                use_consent = ch in CONSENT_CHANNELS
                template = content.get("template_id", "-") if use_consent else "-"
                quota = int(self._settings.quotas.get(ch) or 0)
                lua_keys = [planned_keys[ch], keys.stream(ch), keys.DELAYED, keys.stats(campaign.id),
                            keys.consent(ch, template), keys.consent_has(ch, template), keys.channel_quota(ch, send_day),
                            marks[position], candidates_key]
                lua_keys += [keys.frequency(ch, send_day, level) for level in range(1, n_freq + 1)]
                lua_keys += others
                fixed = [campaign.id, ch, "1" if dry_run else "0", "1" if use_consent else "0", quota, n_freq,
                         len(others), max_per if others else 0, int(deferred or 0), STREAM_BATCH,
                         keys.MESSAGE_STATE_TTL, keys.FREQUENCY_TTL]
                length = self._redis.strlen(candidates_key) if reachable else 0
                for start in range(0, length, SLICE_BYTES):
                    n, dup, cap, unsubscribed, exhausted = self._plan(keys=lua_keys, args=fixed + [start, start + SLICE_BYTES])
                    plan.enqueued += n
                    plan.skipped["duplicate"] += dup
                    plan.skipped["frequency_cap"] += cap
                    plan.skipped["not_subscribed"] += unsubscribed
                    plan.skipped["quota_exhausted"] += exhausted
                    renew()
                if not dry_run:  # the latest run's picture: a re-plan replaces, never adds up
                    self._redis.hset(keys.stats(campaign.id),
                                     mapping={f"skipped:{reason}:{ch}": plan.skipped[reason] for reason in SKIP_REASONS})
            self._redis.bitop("OR", part_key, *marks)
            reach = self._redis.bitcount(part_key)
        finally:
            self._redis.delete(*scratch)
        return PlanResult(campaign.id, audience, reach, plans, time.perf_counter() - started, dry_run)

    @staticmethod
    def _count(pipe: Any, key: str) -> int:
        pipe.bitcount(key)
        return int(pipe.execute()[-1])
