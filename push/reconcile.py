"""Sends in doubt, reconciled with WeChat's ``subscribe_msg_sent_event``.

A WeChat send whose request was on the wire when its worker died (wire mark set, no outcome recorded)
is never re-sent: ``push.dispatcher``'s sweeper settles it ``unknown``. It did leave, so WeChat may
still tell us about it — but its sent event carries WeChat's ``MsgID``, which only the dead worker's
reply would have told us. What the event does carry is the recipient (``FromUserName``, the openid)
and the ``TemplateId``, so the wire mark records a **handle**: a keyed hash of openid + template
(no openid is stored). Either order of arrival is handled, each step atomic on the handle's two keys
(which share the handle's hash tag; the message's bitmaps are in its shard's slot, changed by a second
script once the handle step decided):

- the sweeper settles first: ``doubt:<handle>`` = ``cid|idx``; a later event claims it and turns the
  message's ``unknown`` into ``sent`` (and counts ``delivered`` / ``delivery_failed``);
- the event comes first (WeChat pushes it within seconds, the sweeper waits ``orphan_seconds``):
  ``seen:<handle>`` = the ErrorCode; the sweeper then settles the message ``sent``, not ``unknown``.

Real WeChat reports only asynchronous failures in sent events (notes §7), so there a failure event
turns ``unknown`` into ``sent`` + ``delivery_failed`` while a message that simply arrived stays
``unknown``: the stats never claim more than we know. A ``seen`` marker left by an event that raced
a live owner's reply expires after ``keys.WECHAT_DOUBT_TTL``.
"""
from __future__ import annotations

import logging

import redis

from kernel.clock import Clock, SystemClock
from kernel.crypto import Crypto
from push import keys
from push.stats import Stats

log = logging.getLogger("msb.push.reconcile")
PURPOSE = "push.wechat.doubt"


def doubt_handle(crypto: Crypto, openid: str, template_id: str) -> str:
    return crypto.keyed_hash(PURPOSE, f"{openid}\x1f{template_id}")


# The handle step of both arrival orders: claim the other side's marker, else leave ours for it.
# KEYS: 1 the other side's marker, 2 ours. ARGV: our value, ttl. Returns the other side's value (its key
# deleted: claimed) or false (ours set). The event calls it with (doubt, seen) and the error code: it gets
# the "cid|idx" of a send the sweeper settled first. The sweeper calls it with (seen, doubt) and "cid|idx":
# it gets the ErrorCode of a sent event that came first.
CLAIM_OR_LEAVE_LUA = """
local theirs = redis.call('get', KEYS[1])
if theirs then
  redis.call('del', KEYS[1])
  return theirs
end
redis.call('set', KEYS[2], ARGV[1], 'EX', ARGV[2])
return false
"""

# KEYS (the message's shard): 1 unknown bitmap, 2 sent bitmap, 3 stats. ARGV: bit, channel, delivery metric.
UNKNOWN_TO_SENT_LUA = """
if redis.call('getbit', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('setbit', KEYS[1], ARGV[1], 0)
redis.call('setbit', KEYS[2], ARGV[1], 1)
redis.call('hincrby', KEYS[3], 'unknown:' .. ARGV[2], -1)
redis.call('hincrby', KEYS[3], 'sent:' .. ARGV[2], 1)
redis.call('hincrby', KEYS[3], ARGV[3] .. ':' .. ARGV[2], 1)
return 1
"""


class DoubtReconciler:
    def __init__(self, redis_client: redis.Redis, crypto: Crypto, stats: Stats, clock: Clock | None = None) -> None:
        self._redis = redis_client
        self._crypto = crypto
        self._stats = stats
        self._clock = clock or SystemClock()
        self._claim_or_leave = redis_client.register_script(CLAIM_OR_LEAVE_LUA)
        self._flip = redis_client.register_script(UNKNOWN_TO_SENT_LUA)

    def swept(self, handle: str, campaign_id: str, idx: int) -> bool:
        """The sweeper settled this WeChat send ``unknown``: confirm it now if its sent event came first
        (True), else leave it waiting for the event. A crash between the settling and this step leaves
        the send ``unknown`` (the stats never claim more than we know)."""
        code = self._claim_or_leave(keys=[keys.wechat_seen(handle), keys.wechat_doubt(handle)],
                                    args=[f"{campaign_id}|{idx}", keys.WECHAT_DOUBT_TTL])
        if code is None or code is False:
            return False
        return self._confirm(campaign_id, int(idx), "delivered" if str(code) == "0" else "delivery_failed")

    def sent_event(self, openid: str, template_id: str, error_code: int) -> bool:
        """A sent event no msgid could attribute: settle the send in doubt it names, now or when swept."""
        handle = doubt_handle(self._crypto, openid, template_id)
        owner = self._claim_or_leave(keys=[keys.wechat_doubt(handle), keys.wechat_seen(handle)],
                                     args=[str(error_code), keys.WECHAT_DOUBT_TTL])
        if not owner:
            return False
        campaign_id, _, idx = str(owner).partition("|")
        return self._confirm(campaign_id, int(idx), "delivered" if error_code == 0 else "delivery_failed")

    def confirm(self, campaign_id: str, idx: int, metric: str) -> bool:
        """Turn a send settled ``unknown`` into ``sent`` and count ``metric``; False if it was not unknown."""
        return self._confirm(campaign_id, idx, metric)

    def _confirm(self, campaign_id: str, idx: int, metric: str) -> bool:
        shard = keys.shard_of(idx)
        flipped = self._flip(keys=[keys.unknown(shard, campaign_id, "wechat"), keys.sent(shard, campaign_id, "wechat"),
                                   keys.stats(campaign_id, shard)], args=[keys.bit_of(idx), "wechat", metric])
        if flipped:
            self._stats.add_series(campaign_id, "sent", 1, self._clock.now())
            self._stats.add_series(campaign_id, metric, 1, self._clock.now())
            log.info("send in doubt confirmed by WeChat", extra={"fields": {"campaign": campaign_id}})
        return bool(flipped)
