"""The in-app inbox: our own channel, in Redis (list, unread count, mark read).

Per account: a zset of message ids by time, a hash of message bodies and a set of unread ids, all
expiring INBOX_TTL after the last delivery and trimmed to the newest INBOX_KEEP. Delivery is one
Lua script keyed by the deterministic message id, so delivering twice changes nothing. Marking a
message read counts it as ``opened`` for its campaign.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from kernel.clock import Clock, SystemClock
from push import keys
from push.campaigns import Campaign
from push.errors import InvalidInput, MessageNotFound
from push.senders.base import ABANDONED, SENT, Outbound, Outcome, parse_message_id
from push.stats import Stats

# KEYS: order zset, bodies hash, unread set. ARGV: message id, created_at, body JSON, keep, ttl.
_DELIVER = """
if redis.call('hexists', KEYS[2], ARGV[1]) == 1 then return 0 end
redis.call('hset', KEYS[2], ARGV[1], ARGV[3])
redis.call('zadd', KEYS[1], ARGV[2], ARGV[1])
redis.call('sadd', KEYS[3], ARGV[1])
local extra = redis.call('zcard', KEYS[1]) - tonumber(ARGV[4])
if extra > 0 then
  local old = redis.call('zrange', KEYS[1], 0, extra - 1)
  redis.call('zrem', KEYS[1], unpack(old))
  redis.call('hdel', KEYS[2], unpack(old))
  redis.call('srem', KEYS[3], unpack(old))
end
for i = 1, 3 do redis.call('expire', KEYS[i], ARGV[5]) end
return 1
"""


@dataclass(frozen=True)
class InboxPage:
    items: list[dict[str, Any]]
    unread: int
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items, "unread": self.unread, "next_cursor": self.next_cursor}


class Inbox:
    def __init__(self, redis_client: redis.Redis, stats: Stats, clock: Clock | None = None) -> None:
        self._redis = redis_client
        self._stats = stats
        self._clock = clock or SystemClock()
        self._deliver = redis_client.register_script(_DELIVER)

    def deliver(self, account_id: str, message: dict[str, Any]) -> bool:
        return bool(self._deliver(
            keys=[keys.inbox(account_id), keys.inbox_messages(account_id), keys.inbox_unread(account_id)],
            args=[message["id"], repr(message["at"]), json.dumps(message, ensure_ascii=False), keys.INBOX_KEEP, keys.INBOX_TTL]))

    def list(self, account_id: str, *, limit: int = 20, cursor: str | None = None) -> InboxPage:
        """Newest first. The cursor names the last message served (delivery time and id), so messages
        delivered in the same instant are neither skipped nor repeated across pages."""
        limit = max(1, min(int(limit), 100))
        key = keys.inbox(account_id)
        if cursor is None:
            ids = self._redis.zrevrangebyscore(key, "+inf", "-inf", start=0, num=limit + 1, withscores=True)
        else:
            score, last_id = _parse_cursor(cursor)
            # Ties are ordered by id, descending: those at or after the last served id were served.
            ties = int(self._redis.zcount(key, score, score))
            ids = self._redis.zrevrangebyscore(key, score, "-inf", start=0, num=limit + 1 + ties, withscores=True)
            ids = [(mid, at) for mid, at in ids if not (at == score and mid >= last_id)][:limit + 1]
        page, more = ids[:limit], len(ids) > limit
        pipe = self._redis.pipeline(transaction=False)
        pipe.hmget(keys.inbox_messages(account_id), [mid for mid, _ in page] or ["-"])
        pipe.smembers(keys.inbox_unread(account_id))
        bodies, unread = pipe.execute()
        items = []
        for (mid, _), body in zip(page, bodies if page else []):
            if body is None:
                continue
            item = json.loads(body)
            item["read"] = mid not in unread
            items.append(item)
        next_cursor = f"{page[-1][1]!r}|{page[-1][0]}" if more and page else None
        return InboxPage(items, len(unread), next_cursor)

    def unread_count(self, account_id: str) -> int:
        return int(self._redis.scard(keys.inbox_unread(account_id)))

    def mark_read(self, account_id: str, message_ids: Iterable[str] | None = None) -> int:
        """Mark the given messages (all when None) read; returns how many were unread."""
        if message_ids is None:
            ids = list(self._redis.smembers(keys.inbox_unread(account_id)))
        else:
            ids = list(message_ids)
            if not ids or len(ids) > 100 or not all(isinstance(m, str) and len(m) <= 128 for m in ids):
                raise InvalidInput("message_ids")
            known = self._redis.hmget(keys.inbox_messages(account_id), ids)
            if any(body is None for body in known):
                raise MessageNotFound(details={"message_ids": [m for m, b in zip(ids, known) if b is None][:10]})
        if not ids:
            return 0
        pipe = self._redis.pipeline(transaction=False)
        for mid in ids:
            pipe.srem(keys.inbox_unread(account_id), mid)
        newly = [mid for mid, removed in zip(ids, pipe.execute()) if removed]
        now = self._clock.now()
        for mid in newly:
            parsed = parse_message_id(mid)
            if parsed:
                self._stats.bump(parsed[0], "opened", 1, now)
        return len(newly)


class InboxSender:
    channel = "inbox"

    def __init__(self, inbox: Inbox, clock: Clock | None = None) -> None:
        self._inbox = inbox
        self._clock = clock or SystemClock()

    def render(self, campaign: Campaign, address: Any = None) -> dict[str, Any]:
        content = campaign.content["inbox"]
        return {"title": content["title"], "text": content["text"], "page": campaign.page,
                "category": campaign.category, "campaign": campaign.id}

    def send(self, message: Outbound) -> Outcome:
        body = {"id": message.message_id, **self.render(message.campaign), "at": self._clock.now()}
        if not message.on_wire():
            return Outcome(ABANDONED, "abandoned")
        self._inbox.deliver(message.account_id, body)
        return Outcome(SENT, "ok")


def _parse_cursor(cursor: str) -> tuple[float, str]:
    score, separator, message_id = cursor.partition("|")
    try:
        value = float(score)
    except ValueError:
        raise InvalidInput("cursor") from None
    if not separator or not message_id or value != value or value in (float("inf"), float("-inf")):
        raise InvalidInput("cursor")
    return value, message_id
