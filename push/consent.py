"""The subscription ledger: per (citizen, channel, template), how many sends the citizen allowed.

WeChat and Alipay refuse a subscribe message unless the user tapped "accept" for that template:
a **one-time** template grants exactly one send per accept (N accepts = N sends, no expiry), a
**long-term** template (政务民生 and a few other categories) allows sends until cancelled (notes §7).

Storage (per shard of the citizen index, ``push.keys``): ``consent:<channel>:<template>`` hash idx ->
remaining one-time sends, or -1 for a long-term accept; ``consent:has:…`` bitmap (bit ``keys.bit_of``)
mirrors "has quota" for previews. Every change is a
Lua script, so grant, consume (by the planner, one per planned message), refund (a message that
finally failed without reaching WeChat) and zero (43101, ``subscribe_msg_change_event``, a "ban")
never race.

An accept can reach us twice: the mini-program reports ``wx.requestSubscribeMessage``'s result
(``POST /v1/subscriptions``) and WeChat pushes ``subscribe_msg_popup_event`` for the same tap. Each
source leaves a marker for CONSENT_MATCH_TTL seconds; an accept from one source that finds an
unmatched marker of the other is the same tap and is not counted again.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from push import keys
from push.errors import InvalidInput
from push.profiles import CitizenIndex
from push.settings import CONSENT_CHANNELS
from push.templates import LONG_TERM, TemplateRegistry

SOURCES = ("client", "event")
# wx.requestSubscribeMessage per-template results; Alipay's my.requestSubscribeMessage uses accept/reject.
RESULTS = ("accept", "reject", "ban", "filter")

# KEYS (one shard): ledger, has, recent. ARGV: idx, source, other source, kind, match ttl, bit.
_GRANT = """
local other = tonumber(redis.call('hget', KEYS[3], ARGV[3]) or '0')
if other > 0 then
  redis.call('hincrby', KEYS[3], ARGV[3], -1)
  return {0, redis.call('hget', KEYS[1], ARGV[1]) or '0'}
end
if ARGV[4] == 'long_term' then
  redis.call('hset', KEYS[1], ARGV[1], -1)
else
  local current = redis.call('hget', KEYS[1], ARGV[1])
  if current ~= '-1' then redis.call('hincrby', KEYS[1], ARGV[1], 1) end
end
redis.call('setbit', KEYS[2], ARGV[6], 1)
redis.call('hincrby', KEYS[3], ARGV[2], 1)
redis.call('expire', KEYS[3], ARGV[5])
return {1, redis.call('hget', KEYS[1], ARGV[1])}
"""

# KEYS: ledger, has (one shard). ARGV: idx, bit. Removes every quota (one-time and long-term).
_ZERO = """
local had = redis.call('hdel', KEYS[1], ARGV[1])
redis.call('setbit', KEYS[2], ARGV[2], 0)
return had
"""

# KEYS: ledger, has (one shard). ARGV: idx, bit. One send back (not for long-term; not after a zero).
REFUND_LUA = """
local current = redis.call('hget', KEYS[1], ARGV[1])
if current == '-1' then return 0 end
redis.call('hincrby', KEYS[1], ARGV[1], 1)
redis.call('setbit', KEYS[2], ARGV[2], 1)
return 1
"""

# KEYS: ledger, has (one shard). ARGV: idx, bit. Consume one send: 1 ok, 0 none left.
_CONSUME = """
local v = redis.call('hget', KEYS[1], ARGV[1])
if not v then return 0 end
if v == '-1' then return 1 end
local n = tonumber(v)
if n <= 1 then
  redis.call('hdel', KEYS[1], ARGV[1])
  redis.call('setbit', KEYS[2], ARGV[2], 0)
  if n < 1 then return 0 end
else
  redis.call('hincrby', KEYS[1], ARGV[1], -1)
end
return 1
"""


@dataclass(frozen=True)
class Subscription:
    channel: str
    template_id: str
    title: str
    kind: str
    remaining: int | None  # one-time sends left; None for long-term
    active: bool

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "template_id": self.template_id, "title": self.title, "kind": self.kind,
                "remaining": self.remaining, "active": self.active}


class ConsentLedger:
    def __init__(self, redis_client: redis.Redis, templates: TemplateRegistry, index: CitizenIndex) -> None:
        self._redis = redis_client
        self._templates = templates
        self._index = index
        self._grant = redis_client.register_script(_GRANT)
        self._zero = redis_client.register_script(_ZERO)
        self._refund = redis_client.register_script(REFUND_LUA)
        self._consume = redis_client.register_script(_CONSUME)

    @staticmethod
    def _ledger(idx: int, channel: str, template_id: str) -> list[str]:
        shard = keys.shard_of(idx)
        return [keys.consent(shard, channel, template_id), keys.consent_has(shard, channel, template_id)]

    def record(self, account_id: str, channel: str, results: Mapping[str, str], *, source: str = "client") -> list[Subscription]:
        """Apply the per-template results of one subscription popup (``POST /v1/subscriptions``)."""
        if channel not in CONSENT_CHANNELS:
            raise InvalidInput("channel", "仅微信、支付宝渠道需要订阅授权")
        if source not in SOURCES:
            raise ValueError(source)
        if not isinstance(results, Mapping) or not 1 <= len(results) <= 5:
            raise InvalidInput("results", "一次最多提交 5 个模板的订阅结果")
        checked = []
        for template_id, result in results.items():
            template = self._templates.get(channel, template_id)
            if result not in RESULTS:
                raise InvalidInput("results", "订阅结果须为 accept、reject、ban 或 filter")
            checked.append((template, result))
        idx = self._index.ensure(account_id)
        for template, result in checked:
            self.apply(idx, channel, template.template_id, result, source=source)
        return self.list(account_id, channel=channel)

    def apply(self, idx: int, channel: str, template_id: str, result: str, *, source: str) -> None:
        template = self._templates.get(channel, template_id)
        if result == "accept":
            other = "event" if source == "client" else "client"
            self._redis.sadd(keys.CONSENT_TEMPLATES, f"{channel}:{template_id}")  # another slot: written alone
            self._grant(keys=[*self._ledger(idx, channel, template_id), keys.consent_recent(channel, template_id, idx)],
                        args=[idx, source, other, template.kind, keys.CONSENT_MATCH_TTL, keys.bit_of(idx)])
        elif result == "ban" or (result == "reject" and template.kind == LONG_TERM):
            # "ban": the user switched this off for good. A one-time "reject" leaves earlier accepts:
            # each popup stands on its own upstream.
            self.zero(idx, channel, template_id)

    def zero(self, idx: int, channel: str, template_id: str) -> bool:
        return bool(self._zero(keys=self._ledger(idx, channel, template_id), args=[idx, keys.bit_of(idx)]))

    def refund(self, idx: int, channel: str, template_id: str) -> bool:
        return bool(self._refund(keys=self._ledger(idx, channel, template_id), args=[idx, keys.bit_of(idx)]))

    def consume(self, idx: int, channel: str, template_id: str) -> bool:
        """One send (the planner consumes in bulk inside its own script; this is for single sends)."""
        return bool(self._consume(keys=self._ledger(idx, channel, template_id), args=[idx, keys.bit_of(idx)]))

    def remaining(self, idx: int, channel: str, template_id: str) -> int | None:
        """Sends left: a count, -1 for long-term, 0 for none."""
        value = self._redis.hget(keys.consent(keys.shard_of(idx), channel, template_id), idx)
        return int(value) if value is not None else 0

    def list(self, account_id: str, channel: str | None = None) -> list[Subscription]:
        idx = self._index.find(account_id)
        templates = self._templates.all() if channel is None else self._templates.all(channel)
        templates = [t for t in templates if t.channel in CONSENT_CHANNELS]
        values = [None] * len(templates)
        if idx is not None and templates:
            pipe = self._redis.pipeline(transaction=False)
            for template in templates:
                pipe.hget(keys.consent(keys.shard_of(idx), template.channel, template.template_id), idx)
            values = pipe.execute()
        result = []
        for template, value in zip(templates, values):
            count = int(value) if value is not None else 0
            long_term = count == -1
            result.append(Subscription(template.channel, template.template_id, template.title, template.kind,
                                       None if long_term else count, long_term or count > 0))
        return result
