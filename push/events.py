"""Behaviour events from the apps: small validated batches feeding segments and recommendations.

A batch holds at most MAX_BATCH events of known types:

| type | fields | effect |
| --- | --- | --- |
| ``search`` | ``query`` (≤ 50 chars), optional ``item`` (the result picked) | items matching the query (or the picked one) get the ``search`` bit and their themes; history |
| ``view`` / ``start`` / ``finish`` | ``item`` (a basic code of the catalogue) | item bit (``finish`` = 办结, the "handled" segment), theme bits, history, regional popularity |
| ``view_theme`` | ``theme`` | theme bit, history |
| ``click`` | ``message_id`` (from a push or inbox message) | the campaign's ``clicked`` counter |

Everything for one batch goes in one pipeline. Anonymous batches (no account) only feed the regional
popularity of the given region. Times are the server's: a client clock is not trusted.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import redis

from catalog.model import ReferenceData
from kernel.clock import Clock, SystemClock
from push import keys
from push.errors import InvalidInput, TooManyEvents, UnknownItem, UnknownRegion
from push.profiles import Profiles
from push.senders.base import parse_message_id
from push.stats import Stats

EVENT_TYPES = ("search", "view", "start", "finish", "view_theme", "click")
ITEM_EVENTS = ("view", "start", "finish")
MAX_BATCH = 50
MAX_QUERY = 50
POPULARITY_WEIGHT = {"view": 1, "start": 2, "finish": 3}
SEARCH_MATCHES = 3


def match_query(query: str, reference: ReferenceData, limit: int = SEARCH_MATCHES) -> list[str]:
    """Items a search most likely meant (name, short name, plain name, aliases, tags), best first."""
    text = "".join(query.split())
    if not text:
        return []
    scored = []
    for item in reference.items:
        names = (item.name, item.short_name, item.plain_name, *item.aliases)
        score = 0
        if text in names:
            score = 4
        elif any(text in name for name in names):
            score = 3
        elif text in item.tags:
            score = 2
        elif any(len(name) >= 2 and name in text for name in names):
            score = 1
        if score:
            scored.append((-score, -item.hot, item.basic_code))
    return [code for _, _, code in sorted(scored)[:limit]]


class Events:
    def __init__(self, redis_client: redis.Redis, reference: ReferenceData, profiles: Profiles, stats: Stats,
                 clock: Clock | None = None) -> None:
        self._redis = redis_client
        self._reference = reference
        self._profiles = profiles
        self._stats = stats
        self._clock = clock or SystemClock()
        self._themes = {theme.code: theme for theme in reference.themes}

    def validate(self, events: object) -> list[dict[str, Any]]:
        if not isinstance(events, Sequence) or isinstance(events, (str, bytes)):
            raise InvalidInput("events")
        if len(events) > MAX_BATCH:
            raise TooManyEvents(MAX_BATCH)
        clean = []
        for position, event in enumerate(events):
            where = f"events[{position}]"
            if not isinstance(event, Mapping) or event.get("type") not in EVENT_TYPES:
                raise InvalidInput(f"{where}.type", f"事件类型须为 {'、'.join(EVENT_TYPES)} 之一")
            kind = event["type"]
            record: dict[str, Any] = {"t": kind}
            if kind in ITEM_EVENTS or (kind == "search" and event.get("item") is not None):
                record["item"] = self._item(event.get("item"), f"{where}.item")
            if kind == "search":
                query = event.get("query")
                if not isinstance(query, str) or not 1 <= len(query.strip()) <= MAX_QUERY:
                    raise InvalidInput(f"{where}.query", f"搜索词须为 1–{MAX_QUERY} 个字符")
                record["q"] = query.strip()
            if kind == "view_theme":
                if event.get("theme") not in self._themes:
                    raise InvalidInput(f"{where}.theme", "未知的一件事主题")
                record["theme"] = event["theme"]
            if kind == "click":
                parsed = parse_message_id(event.get("message_id"))  # type: ignore[arg-type]
                if parsed is None:
                    raise InvalidInput(f"{where}.message_id")
                record["mid"] = event["message_id"]
            clean.append(record)
        return clean

    def _item(self, code: object, field: str) -> str:
        try:
            return self._reference.item(code).basic_code  # type: ignore[arg-type]
        except Exception:
            raise UnknownItem(field) from None

    def record(self, account_id: str | None, events: object, *, region: str | None = None) -> dict[str, int]:
        clean = self.validate(events)
        if region is not None and not self._reference.regions.is_known(region):
            raise UnknownRegion("region")
        now = self._clock.now()
        idx = self._profiles.index.ensure(account_id) if account_id else None
        if idx is not None:
            profile = self._profiles.get(idx)
            region = (profile.region if profile and profile.region else None) or region
        shard, bit = (keys.shard_of(idx), keys.bit_of(idx)) if idx is not None else (0, 0)
        pipe = self._redis.pipeline(transaction=False)  # no transaction: the popularity keys are other slots
        clicks: list[str] = []
        for record in clean:
            record["at"] = now
            kind = record["t"]
            if kind == "search" and "item" not in record:
                record["items"] = match_query(record["q"], self._reference)
            if kind == "click":
                clicks.append(record["mid"])
            if region and kind in POPULARITY_WEIGHT:
                for place in self.popularity_regions(region):
                    pipe.zincrby(keys.popularity(place), POPULARITY_WEIGHT[kind], record["item"])
            if idx is None:
                continue
            items = [record["item"]] if "item" in record else record.get("items", [])
            bit_event = kind if kind != "view_theme" else None
            for code in items:
                if bit_event in ("search", "view", "start", "finish"):
                    pipe.setbit(keys.seg_item(shard, code, bit_event), bit, 1)
                for theme in self._reference.item(code).themes:
                    pipe.setbit(keys.seg_theme(shard, theme), bit, 1)
            if kind == "view_theme":
                pipe.setbit(keys.seg_theme(shard, record["theme"]), bit, 1)
            if kind != "click":
                pipe.lpush(keys.behaviour(idx), json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        if idx is not None:
            pipe.ltrim(keys.behaviour(idx), 0, keys.BEHAVIOUR_KEEP - 1)
            pipe.expire(keys.behaviour(idx), keys.BEHAVIOUR_TTL)
        pipe.execute()
        for mid in clicks:
            self._count_click(idx, mid, now)
        return {"accepted": len(clean)}

    def _count_click(self, idx: int | None, mid: str, now: float) -> None:
        """Once per message, and only for a message really sent to this citizen."""
        parsed = parse_message_id(mid)
        if idx is None or parsed is None or parsed[2] != idx:
            return
        campaign_id, channel, _ = parsed
        shard, bit = keys.shard_of(idx), keys.bit_of(idx)
        if not self._redis.getbit(keys.sent(shard, campaign_id, channel), bit):
            return
        if self._redis.setbit(keys.clicked(shard, campaign_id, channel), bit, 1) == 0:
            self._redis.expire(keys.clicked(shard, campaign_id, channel), keys.MESSAGE_STATE_TTL)
            self._stats.bump(campaign_id, "clicked", 1, now)

    def popularity_regions(self, region: str) -> list[str]:
        chain = self._reference.regions.chain(region)
        return [r.code for r in chain if r.parent is not None]  # county and 盟市, not the province

    def history(self, idx: int, limit: int = keys.BEHAVIOUR_KEEP) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self._redis.lrange(keys.behaviour(idx), 0, limit - 1)]
