"""Dead letters for operators: read the shards' dead-letter streams and re-queue a dead letter's messages
once, safely. An entry's id is ``<shard>.<stream id>`` (each shard of the citizen index has its own
stream, in the slot of the messages' state).

A message is dead-lettered when its retries are exhausted (``COMPLETE_LUA``): its done bit is set, it
counts as failed and dead, its one-time subscription was refunded (it never reached the citizen), and its
``dead`` bit marks it as the one kind of terminal message a retry may revive. Malformed entries and
batches that raised are dead-lettered without that bit: retrying a bug does not fix it.

A retry is one Lua script over that campaign × channel's message state in the entry's shard, run while
the campaign's row is locked in PostgreSQL (``CampaignStore.audited``), so it is all-or-nothing and races
neither a dispatcher, a second retry nor a pause or cancel:

* the campaign must be ``running`` or ``paused`` (a paused campaign parks the messages until resumed);
* the entry is marked retried first-come (a second retry is 409 ``already_retried``);
* per message: only with the dead bit set, done, not sent, not ``unknown`` (the never-duplicate rule:
  an unknown outcome may have reached the phone) and not in flight; a one-time template's subscription
  is consumed again (the dead letter refunded it), and without one left the message stays dead (the
  consumption is recorded in PostgreSQL's consent ledger afterwards, ``push.consent_usage``);
* revived messages lose their done and dead bits, go back to ``outstanding`` (their failed/dead counts
  are taken back) and onto the channel's stream as a fresh batch (attempt 0: another full round);
* the campaign's audit trail gets a ``retry_dead_letter`` entry with the operator, in the transaction
  that held the lock (if that commit fails after the script ran, the messages are re-queued without
  their audit entry: the retry marker still names the operator).

From then on the dispatcher's claim (done bit, in-flight hash) keeps every message to one send.
"""
from __future__ import annotations

import json
import re
from typing import Any

import redis

from kernel.clock import Clock
from push import keys
from push.consent_usage import ConsentUsage
from push.campaigns import APPROVER, EDITOR, PAUSED, RUNNING, Campaign, CampaignStore, Operator, require_any_role
from push.errors import (CampaignStateConflict, DeadLetterAlreadyRetried, DeadLetterNotFound,
                         DeadLetterNotRetryable, InvalidInput)
from push.redisutil import shards_in_use
from push.settings import CHANNELS, CONSENT_CHANNELS
from push.templates import ONE_TIME, TemplateRegistry

ENTRY_ID = re.compile(r"^([0-9]{1,7})\.([0-9]{1,20}-[0-9]{1,20})$")
RETRY_ACTION = "retry_dead_letter"
SCAN_LIMIT = 20_000  # entries read at most per shard and listing (each stream keeps ~100 k)

# KEYS (one shard): 1 retried marker, 2 done, 3 sent, 4 unknown, 5 dead bitmap, 6 inflight, 7 stats,
#       8 channel stream, 9 consent ledger, 10 consent bitmap
# ARGV: 1 cid, 2 ch, 3 now, 4 actor, 5 entry id, 6 failure code, 7 one-time ('1'|'0'), 8 shard base,
#       9 state ttl, then the message idxs
# Returns {'ok', n, reasons JSON, idxs whose one-time consent was consumed} | {'retried'} | {'none', reasons JSON}
RETRY_LUA = """
local cid, ch = ARGV[1], ARGV[2]
local base = tonumber(ARGV[8])
if redis.call('exists', KEYS[1]) == 1 then return {'retried'} end
local revived, reasons, skipped, consumed = {}, {}, 0, {}
local function skip(reason)
  reasons[reason] = (reasons[reason] or 0) + 1
  skipped = skipped + 1
end
for i = 10, #ARGV do
  local idx = ARGV[i]
  local bit = tonumber(idx) - base
  if redis.call('getbit', KEYS[5], bit) == 0 or redis.call('getbit', KEYS[2], bit) == 0 then
    skip('not_dead')
  elseif redis.call('getbit', KEYS[3], bit) == 1 then
    skip('sent')
  elseif redis.call('getbit', KEYS[4], bit) == 1 then
    skip('unknown')
  elseif redis.call('hexists', KEYS[6], cid .. '|' .. ch .. '|' .. idx) == 1 then
    skip('in_flight')
  else
    local ok = true
    if ARGV[7] == '1' then
      local v = redis.call('hget', KEYS[9], idx)
      if v == '-1' then
        -- long-term since: nothing to consume
      elseif v and tonumber(v) >= 1 then
        if tonumber(v) == 1 then
          redis.call('hdel', KEYS[9], idx)
          redis.call('setbit', KEYS[10], bit, 0)
        else
          redis.call('hincrby', KEYS[9], idx, -1)
        end
        consumed[#consumed + 1] = idx
      else
        ok = false
        skip('no_consent')
      end
    end
    if ok then
      redis.call('setbit', KEYS[2], bit, 0)
      redis.call('setbit', KEYS[5], bit, 0)
      revived[#revived + 1] = idx
    end
  end
end
local reasons_json = skipped > 0 and cjson.encode(reasons) or '{}'
local n = #revived
if n == 0 then return {'none', reasons_json} end
redis.call('hincrby', KEYS[7], 'outstanding', n)
redis.call('hincrby', KEYS[7], 'failed:' .. ch, -n)
redis.call('hincrby', KEYS[7], 'dead:' .. ch, -n)
redis.call('hincrby', KEYS[7], 'failed_code:' .. ch .. ':' .. ARGV[6], -n)
redis.call('hincrby', KEYS[7], 'dead_retried:' .. ch, n)
redis.call('xadd', KEYS[8], '*', 'c', cid, 'ch', ch, 'ids', table.concat(revived, ','), 'n', '0')
redis.call('set', KEYS[1], cjson.encode({at = ARGV[3], actor = ARGV[4], requeued = n}), 'EX', ARGV[9])
for k = 2, 5 do redis.call('expire', KEYS[k], ARGV[9]) end
return {'ok', n, reasons_json, consumed}
"""


def _idxs(raw: str) -> list[str]:
    return [part for part in str(raw or "").split(",") if part.isdigit()]


class DeadLetters:
    def __init__(self, redis_client: redis.Redis, campaigns: CampaignStore, templates: TemplateRegistry, clock: Clock,
                 usage: ConsentUsage | None = None) -> None:
        self._redis = redis_client
        self._usage = usage
        self._campaigns = campaigns
        self._templates = templates
        self._clock = clock
        self._retry = redis_client.register_script(RETRY_LUA)

    def list(self, actor: Operator, *, campaign_id: str | None = None, channel: str | None = None,
             limit: int = 100) -> list[dict[str, Any]]:
        """Newest first: ``[{id, campaign_id, channel, code, attempts, at, messages, retried}]`` where
        ``retried`` is ``{at, actor, requeued}`` or None."""
        require_any_role(actor, (EDITOR, APPROVER))
        if channel is not None and channel not in CHANNELS:
            raise InvalidInput("channel")
        limit = max(1, min(int(limit), 1000))
        found: list[tuple[int, str, dict[str, str]]] = []
        for shard in shards_in_use(self._redis):
            found.extend((shard, entry_id, f) for entry_id, f in self._scan(shard, campaign_id, channel, limit))
        found.sort(key=lambda entry: _stream_id(entry[1]), reverse=True)  # newest first across shards
        found = found[:limit]
        pipe = self._redis.pipeline(transaction=False)
        for shard, entry_id, _ in found:
            pipe.get(keys.dead_retried(shard, entry_id))
        markers = pipe.execute() if found else []
        return [{"id": f"{shard}.{entry_id}", "campaign_id": f.get("c", ""), "channel": f.get("ch", ""),
                 "code": f.get("code", ""), "attempts": int(f.get("attempts") or 0), "at": float(f.get("at") or 0),
                 "messages": len(_idxs(f.get("idx", ""))), "retried": _marker(marker)}
                for (shard, entry_id, f), marker in zip(found, markers)]

    def _scan(self, shard: int, campaign_id: str | None, channel: str | None, limit: int) -> list[tuple[str, dict[str, str]]]:
        found: list[tuple[str, dict[str, str]]] = []
        upper, scanned = "+", 0
        while len(found) < limit and scanned < SCAN_LIMIT:
            page = self._redis.xrevrange(keys.dead_letters(shard), max=upper, count=500)
            if upper != "+":
                page = page[1:]  # the bound itself was the last of the previous page
            if not page:
                break
            scanned += len(page)
            upper = page[-1][0]
            found.extend((entry_id, f) for entry_id, f in page
                         if (campaign_id is None or f.get("c") == campaign_id) and (channel is None or f.get("ch") == channel))
        return found[:limit]

    def retry(self, actor: Operator, entry_id: str) -> dict[str, Any]:
        """Re-queue the entry's messages for another round of attempts; ``{entry_id, campaign_id,
        channel, requeued, skipped{reason: n}, status}``. 404 dead_letter_not_found / campaign_not_found,
        409 campaign_state_conflict (not running or paused), already_retried, dead_letter_not_retryable."""
        require_any_role(actor, (EDITOR, APPROVER))
        parsed = ENTRY_ID.match(entry_id) if isinstance(entry_id, str) else None
        if parsed is None:
            raise DeadLetterNotFound(details={"entry_id": str(entry_id)[:40]})
        shard, stream_id = int(parsed.group(1)), parsed.group(2)
        entries = self._redis.xrange(keys.dead_letters(shard), min=stream_id, max=stream_id, count=1)
        if not entries:
            raise DeadLetterNotFound(details={"entry_id": entry_id})
        fields = entries[0][1]
        campaign = self._campaigns.get(fields.get("c", ""))
        channel = fields.get("ch", "")
        if campaign.status not in (RUNNING, PAUSED):  # checked again under the row lock below
            raise CampaignStateConflict(RETRY_ACTION, campaign.status, (RUNNING, PAUSED))
        if self._redis.exists(keys.dead_retried(shard, stream_id)):
            raise DeadLetterAlreadyRetried(entry_id)
        idxs = [idx for idx in _idxs(fields.get("idx", "")) if keys.shard_of(int(idx)) == shard]
        if channel not in CHANNELS or not idxs:
            raise DeadLetterNotRetryable(entry_id, {"not_dead": max(1, len(idxs))})
        now = self._clock.now()
        if campaign.end_at is not None and now > campaign.end_at:
            raise DeadLetterNotRetryable(entry_id, {"campaign_window_over": len(idxs)})
        template = campaign.content.get(channel, {}).get("template_id", "-")
        registered = self._templates.find(channel, template) if channel in CONSENT_CHANNELS else None
        one_time = registered is not None and registered.kind == ONE_TIME
        script_keys = [keys.dead_retried(shard, stream_id), keys.done(shard, campaign.id, channel),
                       keys.sent(shard, campaign.id, channel), keys.unknown(shard, campaign.id, channel),
                       keys.dead(shard, campaign.id, channel), keys.inflight(shard), keys.stats(campaign.id, shard),
                       keys.stream(shard, channel), keys.consent(shard, channel, template),
                       keys.consent_has(shard, channel, template)]
        args = [campaign.id, channel, repr(now), actor.account_id, entry_id, fields.get("code", ""),
                "1" if one_time else "0", keys.shard_base(shard), keys.MESSAGE_STATE_TTL, *idxs]

        def requeue(locked: Campaign) -> tuple[dict[str, Any] | None, list[Any]]:
            reply = self._retry(keys=script_keys, args=args)
            if reply[0] != "ok":
                return None, reply
            return {"entry_id": entry_id, "channel": channel, "code": fields.get("code", ""), "requeued": int(reply[1]),
                    "skipped": json.loads(reply[2])}, [*reply[:3], locked.status, reply[3]]

        # The row lock keeps the campaign running or paused until the messages are back and audited.
        reply = self._campaigns.audited(actor, campaign.id, RETRY_ACTION, (RUNNING, PAUSED), requeue)
        outcome = reply[0]
        if outcome == "retried":
            raise DeadLetterAlreadyRetried(entry_id)
        if outcome == "none":
            raise DeadLetterNotRetryable(entry_id, json.loads(reply[1]))
        if self._usage is not None and reply[4]:  # after the script and its audit: logged, not raised, on failure
            self._usage.consumed(channel, template, reply[4], source="dead_letter_retry", campaign_id=campaign.id)
        return {"entry_id": entry_id, "campaign_id": campaign.id, "channel": channel, "requeued": int(reply[1]),
                "skipped": json.loads(reply[2]), "status": reply[3]}


def _stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def _marker(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    data = json.loads(raw)
    return {"at": float(data["at"]), "actor": data["actor"], "requeued": int(data["requeued"])}
