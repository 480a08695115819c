"""猜你想办: per-citizen recommendations, each with a human-readable Chinese reason.

Sources, strongest first (score in brackets; recency of the triggering event scales it down):

1. **in progress** [100]: items the citizen started and has not finished — "您已开始办理“X”，尚未办结".
2. **what they searched** [70]: the item a search most likely meant — "您最近搜索了“出生医学证明”".
3. **一件事 continuation** [60]: the other items of every theme the citizen touched (search, view,
   start, finish, theme view) — "您最近搜索了“出生医学证明”，新生儿出生一件事还包括“出生登记”".
   This is where life events of the household show: a newborn (T01 items), a child starting school
   (T02), a marriage (T20), a house sale (T14)…
4. **life stage from the verified ID** [55/50/80]: 55–59 → 退休一件事 ("您即将到达退休年龄"); 60+ →
   老年人服务 ("您已年满60周岁"); 80+ → 高龄津贴 ("您已年满80周岁").
5. **regional popularity** [≤ 30]: what citizens of the same 旗县/盟市 view and handle
   (``push:pop:<region>``), then the catalogue's hot list (``Catalogue.hot`` when a catalogue is
   given) — "呼和浩特市新城区居民近期常办", "新城区热门服务".

Items the citizen already finished are never recommended. Anonymous callers get 5 only, for the
region they pass. Names are the region's local names (catalogue local-name rule).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import redis

from catalog.model import ReferenceData
from kernel.clock import Clock, SystemClock, china_today
from push import keys
from push.errors import UnknownRegion
from push.events import Events, match_query
from push.profiles import Profiles

MAX_RECOMMENDATIONS = 20
RETIREMENT_THEME, ELDER_THEME, HIGH_AGE_ALLOWANCE = "T05", "T22", "B0083"


@dataclass(frozen=True)
class Recommendation:
    basic_code: str
    name: str
    reason: str
    reason_code: str  # in_progress | search | theme | life_stage | popular_region | popular
    theme: dict[str, str] | None
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Recommender:
    def __init__(self, redis_client: redis.Redis, reference: ReferenceData, profiles: Profiles, events: Events,
                 *, catalogue: Any = None, clock: Clock | None = None) -> None:
        self._redis = redis_client
        self._reference = reference
        self._profiles = profiles
        self._events = events
        self._catalogue = catalogue
        self._clock = clock or SystemClock()
        self._themes = {theme.code: theme for theme in reference.themes}

    def recommend(self, account_id: str | None, *, region: str | None = None, limit: int = 10) -> list[Recommendation]:
        limit = max(1, min(int(limit), MAX_RECOMMENDATIONS))
        if region is not None and not self._reference.regions.is_known(region):
            raise UnknownRegion("region")
        profile = self._profiles.for_account(account_id) if account_id else None
        region = (profile.region if profile and profile.region else None) or region
        candidates: dict[str, Recommendation] = {}

        def offer(code: str, score: float, reason: str, reason_code: str, theme: str | None = None) -> None:
            current = candidates.get(code)
            if current is None or score > current.score:
                theme_ref = {"code": theme, "name": self._themes[theme].name} if theme else None
                candidates[code] = Recommendation(code, self._name(code, region), reason, reason_code, theme_ref, round(score, 2))

        if profile is not None:
            history = self._events.history(profile.idx)
            self._from_history(history, offer)
            self._from_life_stage(profile.age(china_today(self._clock)), offer)
        self._from_popularity(region, offer)
        finished = self._finished(profile.idx, list(candidates)) if profile is not None else set()
        ranked = sorted((r for code, r in candidates.items() if code not in finished),
                        key=lambda r: (-r.score, r.basic_code))
        return ranked[:limit] if profile is not None else ranked[:min(limit, 5)]

    # --- sources ------------------------------------------------------------------------------------

    def _from_history(self, history: list[dict[str, Any]], offer: Any) -> None:
        seen_started: dict[str, float] = {}
        finished_in_history = {e["item"] for e in history if e.get("t") == "finish" and "item" in e}
        for rank, event in enumerate(history):
            weight = 1.0 / (1.0 + 0.05 * rank)
            kind = event.get("t")
            if kind == "start" and event["item"] not in finished_in_history:
                seen_started.setdefault(event["item"], weight)
            triggers: list[str] = []
            if kind == "search":
                triggers = [event["item"]] if "item" in event else list(event.get("items") or match_query(event["q"], self._reference))
                if triggers:
                    offer(triggers[0], 70 * weight, f"您最近搜索了“{event['q']}”", "search")
            elif kind in ("view", "start", "finish"):
                triggers = [event["item"]]
            themes: list[tuple[str, str | None]] = []
            for code in triggers:
                themes.extend((theme, code) for theme in self._reference.item(code).themes)
            if kind == "view_theme":
                themes.append((event["theme"], None))
            for theme_code, trigger in themes:
                theme = self._themes.get(theme_code)
                if theme is None:
                    continue
                lead = self._lead(kind, event, trigger)
                for position, code in enumerate(theme.items):
                    if code == trigger:
                        continue
                    reason = f"{lead}，{theme.name}还包括“{self._reference.item(code).name}”" if lead else \
                        f"您关注了“{theme.name}”，其中包括“{self._reference.item(code).name}”"
                    offer(code, 60 * weight - position * 0.1, reason, "theme", theme_code)
        for code, weight in seen_started.items():
            offer(code, 100 * weight, f"您已开始办理“{self._reference.item(code).name}”，尚未办结，可继续办理", "in_progress")

    def _lead(self, kind: str, event: dict[str, Any], trigger: str | None) -> str | None:
        if kind == "search":
            return f"您最近搜索了“{event['q']}”"
        if trigger is None:
            return None
        name = self._reference.item(trigger).name
        return {"view": f"您最近查看了“{name}”", "start": f"您正在办理“{name}”", "finish": f"您已办理“{name}”"}.get(kind)

    def _from_life_stage(self, age: int | None, offer: Any) -> None:
        if age is None:
            return
        if 55 <= age < 60:
            theme = self._themes[RETIREMENT_THEME]
            for position, code in enumerate(theme.items):
                offer(code, 55 - position * 0.1, f"您即将到达退休年龄，{theme.name}可一次办好“{self._reference.item(code).name}”等手续",
                      "life_stage", RETIREMENT_THEME)
        if age >= 60:
            theme = self._themes[ELDER_THEME]
            elder = sorted((self._reference.item(code) for code in theme.items), key=lambda i: (-i.hot, i.basic_code))[:6]
            for position, item in enumerate(elder):
                offer(item.basic_code, 50 - position * 0.1, f"您已年满60周岁，可办理老年人服务“{item.name}”", "life_stage", ELDER_THEME)
        if age >= 80:
            offer(HIGH_AGE_ALLOWANCE, 80, "您已年满80周岁，可申领高龄津贴", "life_stage", ELDER_THEME)

    def _from_popularity(self, region: str | None, offer: Any) -> None:
        region_name = self._region_name(region)
        if region:
            for place in self._events.popularity_regions(region):  # county first, then its 盟市
                place_name = self._region_name(place)
                for position, (code, _) in enumerate(self._redis.zrevrange(keys.popularity(place), 0, 9, withscores=True)):
                    offer(code, 30 - position * 0.5, f"{place_name}居民近期常办", "popular_region")
        if self._catalogue is not None:
            try:
                hot = [summary.basic_code for summary in self._catalogue.hot(region=region, limit=10)]
            except Exception:
                hot = []
        else:
            hot = [item.basic_code for item in sorted(self._reference.items, key=lambda i: (-i.hot, i.basic_code))[:10]]
        for position, code in enumerate(hot):
            offer(code, 20 - position * 0.5, f"{region_name}热门服务", "popular")

    # --- helpers ---------------------------------------------------------------------------------

    def _finished(self, idx: int, codes: list[str]) -> set[str]:
        if not codes:
            return set()
        pipe = self._redis.pipeline(transaction=False)
        for code in codes:
            pipe.getbit(keys.seg_item(keys.shard_of(idx), code, "finish"), keys.bit_of(idx))
        return {code for code, bit in zip(codes, pipe.execute()) if bit}

    def _name(self, code: str, region: str | None) -> str:
        return self._reference.local_name(code, region)

    def _region_name(self, region: str | None) -> str:
        if not region:
            return "内蒙古"
        chain = self._reference.regions.chain(region)
        return "".join(r.name for r in reversed(chain) if r.parent is not None) or chain[0].name
