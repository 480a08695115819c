"""Audience rules and their resolution into one bitmap with a few ``BITOP``s.

Rules (all optional; AND across rules, OR inside a list):

| rule | meaning |
| --- | --- |
| ``regions`` | home region in any of these codes; a 盟市 code means the 盟市 itself and all its 旗县; the province code means everyone |
| ``age_min`` / ``age_max`` | age from the verified ID, month precision; citizens without a verified ID are excluded when set |
| ``subject`` | ``any`` (default), ``person`` (everyone: every account is a natural person), ``enterprise`` (has an active 法人 link) |
| ``themes`` | touched any of these 一件事 themes |
| ``handled`` | finished (办结) any of these items |
| ``not_handled`` | finished none of these items |
| ``started_not_finished`` | started any of these items and finished none of them |

Any other rule (``tags`` included: nothing in the system can tag a citizen, so the rule was removed) is
refused with 422 ``invalid_input`` naming it. A campaign stored before a rule was removed resolves to
nobody rather than to a wider audience than the one approved.

"X and not Y" is computed as ``X XOR (X AND Y)``: ``BITOP NOT`` would flip only up to Y's length,
wrongly dropping citizens with a higher index than any bit of Y.
"""
from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date
from typing import Any

import redis

from catalog.model import ReferenceData
from catalog.regions import CITY, PROVINCE, RegionTree
from push import keys
from push.errors import InvalidInput, UnknownItem, UnknownRegion
from push.redisutil import bitop, scratch_name, shards_in_use

SUBJECTS = ("any", "person", "enterprise")
LIST_RULES = ("regions", "themes", "handled", "not_handled", "started_not_finished")
KNOWN_RULES = frozenset((*LIST_RULES, "age_min", "age_max", "subject"))
MAX_LIST = 200
AGE_LIMIT = 130


def validate_rules(raw: object, reference: ReferenceData) -> dict[str, Any]:
    """Normalised rules, or InvalidInput naming the bad field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise InvalidInput("audience")
    unknown = set(raw) - KNOWN_RULES
    if unknown:
        raise InvalidInput(f"audience.{sorted(unknown)[0]}", "不支持的受众规则")
    rules: dict[str, Any] = {}
    for name in LIST_RULES:
        values = raw.get(name)
        if values is None:
            continue
        if not isinstance(values, list) or len(values) > MAX_LIST or not all(isinstance(v, str) for v in values):
            raise InvalidInput(f"audience.{name}")
        values = sorted(set(values))
        for value in values:
            if name == "regions" and not reference.regions.is_known(value):
                raise UnknownRegion(f"audience.{name}")
            if name == "themes" and value not in {t.code for t in reference.themes}:
                raise InvalidInput(f"audience.{name}", "未知的一件事主题")
            if name in ("handled", "not_handled", "started_not_finished"):
                try:
                    reference.item(value)
                except Exception:
                    raise UnknownItem(f"audience.{name}") from None
        if values:
            rules[name] = values
    for bound in ("age_min", "age_max"):
        value = raw.get(bound)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= AGE_LIMIT:
            raise InvalidInput(f"audience.{bound}")
        rules[bound] = value
    if rules.get("age_min", 0) > rules.get("age_max", AGE_LIMIT):
        raise InvalidInput("audience.age_max", "年龄上限不能小于下限")
    subject = raw.get("subject", "any")
    if subject not in SUBJECTS:
        raise InvalidInput("audience.subject")
    if subject != "any":
        rules["subject"] = subject
    return rules


def expand_regions(codes: list[str], tree: RegionTree) -> list[str] | None:
    """Region codes to OR together; None means no region filter (the province)."""
    expanded: set[str] = set()
    for code in codes:
        region = tree.get(code)
        if region.level == PROVINCE:
            return None
        expanded.add(code)
        if region.level == CITY:
            expanded.update(county.code for county in tree.counties(code))
    return sorted(expanded)


def birth_months(today: date, age_min: int, age_max: int) -> list[str]:
    """``YYYYMM`` months whose births can be aged [age_min, age_max] today (month precision: a
    boundary month is included when any birthday in it falls inside)."""
    months = []
    year, month = today.year - age_max - 1, today.month
    end = (today.year - age_min, today.month)
    while (year, month) <= end:
        last_day = calendar.monthrange(year, month)[1]
        oldest = _age(date(year, month, 1), today)
        youngest = _age(date(year, month, last_day), today)
        if oldest >= age_min and youngest <= age_max:
            months.append(f"{year:04d}{month:02d}")
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return months


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


class AudienceResolver:
    def __init__(self, redis_client: redis.Redis, reference: ReferenceData) -> None:
        self._redis = redis_client
        self._reference = reference

    def resolve(self, rules: Mapping[str, Any], today: date, shard: int, dest: str | None = None) -> str:
        """Write the audience bitmap of one shard of the citizen index to ``dest`` (a scratch key of the
        shard by default) and return its name. Every key is in the shard's slot."""
        dest = dest or keys.scratch(scratch_name("aud"), shard)
        temp = keys.scratch(scratch_name("aud-part"), shard)
        pipe = self._redis.pipeline(transaction=False)
        pipe.delete(dest)
        pipe.copy(keys.seg_all(shard), dest, replace=True)

        def union(sources: list[str]) -> None:
            bitop(pipe, "OR", temp, *sources) if sources else pipe.delete(temp)

        def restrict(sources: list[str]) -> None:
            union(sources)
            bitop(pipe, "AND", dest, dest, temp)

        def exclude(sources: list[str]) -> None:
            if not sources:
                return
            union(sources)
            bitop(pipe, "AND", temp, dest, temp)
            bitop(pipe, "XOR", dest, dest, temp)

        if "regions" in rules:
            codes = expand_regions(rules["regions"], self._reference.regions)
            if codes is not None:
                restrict([keys.seg_region(shard, code) for code in codes])
        if "age_min" in rules or "age_max" in rules:
            months = birth_months(today, rules.get("age_min", 0), rules.get("age_max", AGE_LIMIT))
            restrict([keys.seg_birth_month(shard, m) for m in months])
        if rules.get("subject") == "enterprise":
            restrict([keys.seg_enterprise(shard)])
        if "themes" in rules:
            restrict([keys.seg_theme(shard, code) for code in rules["themes"]])
        if "handled" in rules:
            restrict([keys.seg_item(shard, code, "finish") for code in rules["handled"]])
        if "not_handled" in rules:
            exclude([keys.seg_item(shard, code, "finish") for code in rules["not_handled"]])
        if "started_not_finished" in rules:
            codes = rules["started_not_finished"]
            restrict([keys.seg_item(shard, code, "start") for code in codes])
            exclude([keys.seg_item(shard, code, "finish") for code in codes])
        if set(rules) - KNOWN_RULES:  # a rule since removed (``tags``): never widen what was approved
            restrict([])
        pipe.delete(temp)
        pipe.expire(dest, keys.SCRATCH_TTL)
        pipe.execute()
        return dest

    def reach(self, rules: Mapping[str, Any], today: date, category: str | None,
              channels: tuple[str, ...]) -> dict[str, Any]:
        """Audience size and, per channel, how many have an address there and (for marketing/policy)
        have not opted out. Scratch bitmaps only, deleted after; shard by shard, summed."""
        audience = 0
        reachable = {channel: 0 for channel in channels}
        for shard in shards_in_use(self._redis):
            audience_key = self.resolve(rules, today, shard)
            part = keys.scratch(scratch_name("estimate"), shard)
            opted = keys.scratch(scratch_name("estimate-opt"), shard)
            try:
                pipe = self._redis.pipeline(transaction=False)
                pipe.bitcount(audience_key)
                queued, counted = 1, []
                for channel in channels:
                    if channel == "inbox":
                        pipe.copy(audience_key, part, replace=True)
                    else:
                        bitop(pipe, "AND", part, audience_key, keys.seg_address(shard, channel))
                    if category in ("marketing", "policy"):
                        bitop(pipe, "AND", opted, part, keys.seg_opt_out(shard, category, channel))
                        bitop(pipe, "XOR", part, part, opted)
                        queued += 2
                    pipe.bitcount(part)
                    counted.append(queued + 1)
                    queued += 2
                results = pipe.execute()
            finally:
                self._redis.delete(audience_key, part, opted)
            audience += int(results[0])
            for channel, position in zip(channels, counted):
                reachable[channel] += int(results[position])
        return {"audience": audience, "reachable": reachable}
