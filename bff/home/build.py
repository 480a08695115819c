"""The home screen per channel, mode and language: pure functions over the catalogue and the sources.

``anonymous_home`` is the shared part (cached per variant); ``personal_parts`` is computed per request
for a signed-in citizen and merged in by the view. Shapes:

* channel: the APP gets more entries and fields and ``msb://`` deep links; the mini-programs get
  what they render (fewer entries, short fields) with their page paths
  (``/pages/item/detail?code=…``). Target ≤ 8 KB gzipped (tests/bff/home, bench/http_home.py).
* mode ``elder``: ≤ 8 tiles of ``accessibility.elder_home`` (region-aware, plain names, speech
  text), the help block, presentation tokens, policy notices with marketing stripped; no hot list,
  no 一件事 grid, no recommendations.
* language ``mn``: Mongolian region names, every localized string tagged, Chinese fallback marked.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from accessibility import MongolianNames, elder_candidates, elder_home, names_for, strip_marketing
from accessibility.mongolian import language_tag
from bff.home.schemas import InboxSummarySchema, MeSummarySchema, RecommendationSchema
from bff.home.sources import NOTICE_CATEGORY, HomeSources, NullSources, guarded

DEFAULT_REGION = "150000"  # 内蒙古自治区: the whole region
_REGION = re.compile(r"^15\d{4}$")


@dataclass(frozen=True)
class ChannelProfile:
    hot: int
    themes: int
    recommendations: int
    notices: int
    rich: bool  # the APP renders more fields per entry
    item_link: str
    theme_link: str
    notice_link: str


_MINI_PROGRAM = dict(hot=8, themes=4, recommendations=4, notices=3, rich=False,
                     item_link="/pages/item/detail?code={code}&region={region}",
                     theme_link="/pages/theme/detail?code={code}&region={region}",
                     notice_link="/pages/notice/detail?id={id}")
PROFILES: dict[str, ChannelProfile] = {
    "app": ChannelProfile(hot=12, themes=8, recommendations=6, notices=5, rich=True,
                          item_link="msb://item/{code}?region={region}",
                          theme_link="msb://theme/{code}?region={region}",
                          notice_link="msb://notice/{id}"),
    "wechat": ChannelProfile(**_MINI_PROGRAM),
    "alipay": ChannelProfile(**_MINI_PROGRAM),
}


def default_region(requested: str | None, home_region: str | None) -> str:
    """The query's region, else the citizen's home region (if it is in Inner Mongolia), else 150000."""
    if requested:
        return requested
    if home_region and _REGION.match(home_region):
        return home_region
    return DEFAULT_REGION


def _link(template: str, **values: str) -> str:
    return template.format(**{k: quote(str(v), safe="") for k, v in values.items()})


def _item(summary: Any, profile: ChannelProfile, region: str) -> dict[str, Any]:
    entry = {"basic_code": summary.basic_code, "name": summary.short_name or summary.name,
             "link": _link(profile.item_link, code=summary.basic_code, region=region)}
    if profile.rich:
        entry.update(full_name=summary.local_name or summary.name, department=summary.department,
                     online_depth=summary.online_depth, visits=summary.visits)
    return entry


def _recommendation(entry: dict[str, Any], profile: ChannelProfile, region: str) -> dict[str, Any]:
    return {"basic_code": entry["basic_code"], "name": entry["name"], "reason": entry["reason"],
            "reason_code": entry.get("reason_code"),
            "link": _link(profile.item_link, code=entry["basic_code"], region=region)}


def _notice(notice: dict[str, Any], profile: ChannelProfile) -> dict[str, Any]:
    return {"id": str(notice["id"]), "title": notice["title"], "summary": notice.get("summary"),
            "category": NOTICE_CATEGORY, "published_at": notice.get("published_at"),
            "link": notice.get("link") or _link(profile.notice_link, id=notice["id"])}


def _region_block(catalogue: Any, region: str, language: str) -> dict[str, Any]:
    name = catalogue.regions.get(region).name  # unknown code: UnknownRegion (400)
    block: dict[str, Any] = {"code": region, "name": name}
    if language != "zh":
        block["name_local"] = names_for(catalogue.ref).region_name(region, language, zh_name=name)
    return block


def _policy_notices(sources: HomeSources, region: str, limit: int) -> list[dict[str, Any]]:
    found = guarded("notices", lambda: sources.notices(region=region, limit=limit), [])
    return [n for n in strip_marketing(found) if n.get("category", NOTICE_CATEGORY) == NOTICE_CATEGORY][:limit]


def anonymous_home(catalogue: Any, sources: HomeSources, *, region: str, channel: str, mode: str,
                   language: str) -> dict[str, Any]:
    """The shared part of the home screen (the view dumps it through ``HomeSchema``): the same for
    every citizen of this variant and region, so it is what the response cache stores."""
    profile = PROFILES[channel]
    body: dict[str, Any] = {
        "channel": channel, "mode": mode, "language": language, "lang": language_tag(language),
        "region": _region_block(catalogue, region, language),
    }
    notices = [_notice(n, profile) for n in _policy_notices(sources, region, profile.notices)]
    if mode == "elder":
        elder = elder_home(elder_candidates(catalogue, region=region), region=region, notices=notices)
        for tile in elder["tiles"]:
            tile["link"] = _link(profile.item_link, code=tile["basic_code"], region=region)
            if not profile.rich:  # the region is in the header block; mini-programs get the small payload
                tile.pop("region_code", None)
                tile.pop("region_name", None)
        body.update(tiles=elder["tiles"], help=elder["help"], presentation=elder["presentation"],
                    speech_text=elder["speech_text"], notices=elder["notices"])
    else:
        hot = catalogue.hot(region=region, limit=profile.hot)
        shown = {item.basic_code for item in hot}
        wanted = profile.recommendations + len(shown)
        shared = guarded("recommendations",
                         lambda: sources.recommendations(region=region, limit=wanted), None) or []
        picked = [r for r in shared if r["basic_code"] not in shown][:profile.recommendations]
        if len(picked) < profile.recommendations:  # top up with regional popularity beyond the hot list
            taken = shown | {r["basic_code"] for r in picked}
            picked += [r for r in NullSources(lambda: catalogue).recommendations(region=region, limit=wanted)
                       if r["basic_code"] not in taken][:profile.recommendations - len(picked)]
        body.update(
            hot=[_item(item, profile, region) for item in hot],
            themes=[_theme(theme, profile, region) for theme in catalogue.themes()[:profile.themes]],
            recommendations=[_recommendation(r, profile, region) for r in picked],
            notices=notices,
        )
    body.update(personal=False, me=None, inbox=None)
    if language != "zh":
        body = names_for(catalogue.ref).localize(body, language)
    return body


def _theme(theme: Any, profile: ChannelProfile, region: str) -> dict[str, Any]:
    entry = {"code": theme.code, "name": theme.name, "link": _link(profile.theme_link, code=theme.code, region=region)}
    if profile.rich:
        entry["item_count"] = theme.item_count
    return entry


def personal_parts(account: Any, sources: HomeSources, *, account_id: str, region: str, channel: str,
                   mode: str, language: str, names: MongolianNames) -> dict[str, Any]:
    """What only this citizen sees, dumped: summary (masked), unread count, personal recommendations.

    Elder mode keeps personal data to the minimum (MIIT "最小必要", B15): name and level only.
    """
    profile = PROFILES[channel]
    summary = {"name_masked": account.name_masked, "realname_level": account.realname_level,
               "realname_level_name": account.to_dict()["realname_level_name"]}
    if mode != "elder":
        summary.update(bindings_count=len(account.bindings), enterprises_count=len(account.enterprises))
    unread = guarded("inbox", lambda: sources.unread_count(account_id), None)
    parts: dict[str, Any] = {
        "personal": True,
        "me": MeSummarySchema().dump(summary),
        "inbox": InboxSummarySchema().dump({"unread": unread}) if unread is not None else None,
    }
    if mode != "elder":
        found = guarded("recommendations", lambda: sources.recommendations(
            region=region, limit=profile.recommendations, account_id=account_id), None)
        if found:
            entries = [_recommendation(r, profile, region) for r in found][:profile.recommendations]
            if language != "zh":
                entries = names.localize(entries, language)
            parts["recommendations"] = RecommendationSchema(many=True).dump(entries)
    return parts


__all__ = ["DEFAULT_REGION", "PROFILES", "ChannelProfile", "default_region", "anonymous_home",
           "personal_parts"]
