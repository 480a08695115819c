"""The subscription ledger: per (citizen, channel, template), how many sends the citizen allowed.

WeChat and Alipay refuse a subscribe message unless the user tapped "accept" for that template:
a **one-time** template grants exactly one send per accept (N accepts = N sends, no expiry), a
**long-term** template (政务民生 and a few other categories) allows sends until cancelled (notes §7).

**The record** is PostgreSQL (``push.consent_records``): ``consent_state`` per (account, channel, template)
and the append-only ``consent_history`` a citizen's data export reads. A grant or revocation is written
there first (state row + history row, one transaction), then applied to Redis.

**Redis** keeps what the planner's atomic Lua consumes from, per shard of the citizen index
(``push.keys``): ``consent:<channel>:<template>`` hash idx -> remaining one-time sends, or -1 for a
long-term accept; ``consent:has:…`` bitmap (bit ``keys.bit_of``) mirrors "has quota" for previews;
``consent:ver:…`` hash idx -> the state row's ``version`` last applied. A recorded change is applied
idempotently (``_APPLY``): with that version, on top of the version before it (so sends consumed in
Redis and not yet recorded stay consumed); a replay of an applied version does nothing; after a gap (a
Redis write that failed after the commit, a flush) the record's remaining value is taken. So if Redis
fails after the commit, the next grant for that template or ``rebuild-targeting`` repairs it.
Consumption (planner), refunds (dead letters) and upstream zeroing (43101) happen in Redis scripts first,
atomic with the queues, and are recorded in bulk afterwards (``push.consent_usage``).

An accept can reach us twice: the mini-program reports ``wx.requestSubscribeMessage``'s result
(``POST /v1/subscriptions``) and WeChat pushes ``subscribe_msg_popup_event`` for the same tap. Each
source leaves a marker for CONSENT_MATCH_TTL seconds; an accept from one source that finds an
unmatched marker of the other is the same tap and is not counted again (a ``confirm`` history row).
A pushed event carries an ``event_ref``; its history row is unique, so an event delivered twice (WeChat
retrying after our error) changes the record once.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from kernel.clock import Clock, SystemClock
from kernel.postgres import Database
from push import consent_records as records
from push import keys
from push.errors import InvalidInput
from push.profiles import CitizenIndex
from push.settings import CONSENT_CHANNELS
from push.templates import LONG_TERM, TemplateRegistry

log = logging.getLogger("msb.push.consent")

SOURCES = ("client", "event")
HISTORY_SOURCE = {"client": "client", "event": "wechat_event"}
# wx.requestSubscribeMessage per-template results; Alipay's my.requestSubscribeMessage uses accept/reject.
RESULTS = ("accept", "reject", "ban", "filter")

# KEYS: recent (one shard). ARGV: source, other source, match ttl. 0 = the other source already reported
# this tap (its marker is used up), 1 = a new tap (our marker left for the other source).
_MATCH = """
local other = tonumber(redis.call('hget', KEYS[1], ARGV[2]) or '0')
if other > 0 then
  redis.call('hincrby', KEYS[1], ARGV[2], -1)
  return 0
end
redis.call('hincrby', KEYS[1], ARGV[1], 1)
redis.call('expire', KEYS[1], ARGV[3])
return 1
"""

# KEYS: ledger, has, versions (one shard). ARGV: idx, bit, version, op (add|long|zero|set), recorded remaining.
# Applies one recorded change (see the module docstring); 1 applied, 0 already applied.
_APPLY = """
local seen = tonumber(redis.call('hget', KEYS[3], ARGV[1]) or '0')
local version = tonumber(ARGV[3])
if seen >= version then return 0 end
local op, value = ARGV[4], tonumber(ARGV[5])
if seen == version - 1 and op ~= 'set' then
  if op == 'add' then
    local current = redis.call('hget', KEYS[1], ARGV[1])
    if current == '-1' then value = -1 else value = tonumber(current or '0') + 1 end
  elseif op == 'long' then value = -1
  else value = 0 end
end
if value == 0 then
  redis.call('hdel', KEYS[1], ARGV[1])
  redis.call('setbit', KEYS[2], ARGV[2], 0)
else
  redis.call('hset', KEYS[1], ARGV[1], value)
  redis.call('setbit', KEYS[2], ARGV[2], 1)
end
redis.call('hset', KEYS[3], ARGV[1], version)
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
    def __init__(self, redis_client: redis.Redis, templates: TemplateRegistry, index: CitizenIndex,
                 database: Database, clock: Clock | None = None) -> None:
        self._redis = redis_client
        self._templates = templates
        self._index = index
        self._database = database
        self._clock = clock or SystemClock()
        self._match = redis_client.register_script(_MATCH)
        self._apply = redis_client.register_script(_APPLY)

    @staticmethod
    def _ledger(idx: int, channel: str, template_id: str) -> list[str]:
        shard = keys.shard_of(idx)
        return [keys.consent(shard, channel, template_id), keys.consent_has(shard, channel, template_id),
                keys.consent_version(shard, channel, template_id)]

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
            self.apply(idx, account_id, channel, template.template_id, result, source=source)
        return self.list(account_id, channel=channel)

    def apply(self, idx: int, account_id: str, channel: str, template_id: str, result: str, *, source: str,
              event_ref: str | None = None) -> None:
        """One popup result for one template: recorded in PostgreSQL, then applied to the shard's ledger."""
        template = self._templates.get(channel, template_id)
        origin = HISTORY_SOURCE[source]
        now = self._clock.now()
        if result == "accept":
            if event_ref is not None and self._seen(account_id, channel, template_id, event_ref):
                self.resync(idx, account_id, channel, template_id)  # a redelivered event: Redis may lack it
                return
            other = "event" if source == "client" else "client"
            recent = keys.consent_recent(channel, template_id, idx)
            new_tap = bool(self._match(keys=[recent], args=[source, other, keys.CONSENT_MATCH_TTL]))
            try:
                with self._database.transaction() as conn:
                    if not new_tap:
                        records.note(conn, account_id, channel, template_id, action="confirm", source=origin, now=now,
                                     event_ref=event_ref)
                        return
                    row = records.grant(conn, account_id, channel, template_id, template.kind, source=origin, now=now,
                                        event_ref=event_ref)
            except records.EventAlreadyApplied:
                return  # the same event applied concurrently: it counted there
            except Exception:
                # Not recorded: give the match marker back, so the other source's report of this tap still counts.
                self._redis.hincrby(recent, other if not new_tap else source, 1 if not new_tap else -1)
                raise
            self._write_redis(idx, channel, template_id, row, "long" if template.kind == LONG_TERM else "add")
        elif result == "ban" or (result == "reject" and template.kind == LONG_TERM):
            # "ban": the user switched this off for good. A one-time "reject" leaves earlier accepts:
            # each popup stands on its own upstream.
            self.zero(idx, account_id, channel, template_id, action=result, source=origin, event_ref=event_ref)
        elif result == "reject":
            try:
                with self._database.transaction() as conn:
                    records.note(conn, account_id, channel, template_id, action="reject", source=origin, now=now,
                                 event_ref=event_ref)
            except records.EventAlreadyApplied:
                pass

    def zero(self, idx: int, account_id: str, channel: str, template_id: str, *, action: str = "revoke",
             source: str = "wechat_event", event_ref: str | None = None) -> None:
        """Every quota of the template gone (ban, long-term reject, cancelled in WeChat's settings)."""
        template = self._templates.get(channel, template_id)
        try:
            with self._database.transaction() as conn:
                row = records.zero(conn, account_id, channel, template_id, template.kind, action=action, source=source,
                                   now=self._clock.now(), event_ref=event_ref)
        except records.EventAlreadyApplied:
            self.resync(idx, account_id, channel, template_id)
            return
        self._write_redis(idx, channel, template_id, row, "zero")

    def resync(self, idx: int, account_id: str, channel: str, template_id: str) -> None:
        """Bring the shard's ledger to the recorded state (if it has not applied that version yet)."""
        with self._database.transaction() as conn:
            row = records.state(conn, account_id, channel, template_id)
        if row is not None:
            self._write_redis(idx, channel, template_id, row, "set")

    def _seen(self, account_id: str, channel: str, template_id: str, event_ref: str) -> bool:
        with self._database.transaction() as conn:
            return records.event_seen(conn, account_id, channel, template_id, event_ref)

    def _write_redis(self, idx: int, channel: str, template_id: str, row: Mapping[str, Any], op: str) -> None:
        # After the commit. If this write fails the record stands and the caller sees the error; the next
        # change of this template for the citizen (a gap in versions: the record's value is taken) or
        # ``python -m push rebuild-targeting`` repairs Redis.
        self._apply(keys=self._ledger(idx, channel, template_id),
                    args=[idx, keys.bit_of(idx), int(row["version"]), op, int(row["remaining"])])

    def history(self, account_id: str) -> list[dict[str, Any]]:
        """The citizen's consent ledger, oldest first (for the personal-data export)."""
        with self._database.transaction() as conn:
            return records.history(conn, account_id)

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
