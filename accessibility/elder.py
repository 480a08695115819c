"""Elder mode (长辈版) variants of the catalogue's response shapes: pure functions over dicts.

Inputs are the ``to_dict()`` shapes of ``catalog.results`` (``ItemSummary``, ``SearchHit``,
``SearchResult``, ``ItemDetail``) or those objects themselves; outputs are JSON-ready dicts.
Nothing here does I/O except ``elder_candidates``, which asks a ``Catalogue`` for its lists.

Rules (see accessibility/README.md for the sources):

* home: at most 8 large tiles (B3, MIIT §2.1), elder services first: the curated
  ``ELDER_PRIORITY`` list, then other ``elder_relevant`` items, then the rest, each group by
  popularity; only items that serve the region.
* search: the top 5 results, plain names, no facets, no highlight markup.
* detail: materials as a checklist, plain conditions, visits in words, where to go, whom to call.
* every elder payload carries ``speech_text`` (no Arabic digits: ``accessibility.spoken``), a
  ``help`` block (12345 first) and the ``presentation`` tokens.
* no marketing (MIIT §5.1.1 / §5.1.2): ``strip_marketing`` removes promo slots and any entry whose
  category is marketing; the builders never emit one.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from accessibility.presentation import PRESENTATION, help_block
from accessibility.spoken import cardinal, speech_text

__all__ = [
    "ELDER_PRIORITY", "ELDER_THEME", "MAX_TILES", "MAX_ELDER_RESULTS", "MARKETING_CATEGORIES",
    "PROMO_SLOTS", "item_path", "plain_text", "plain_summary", "visits_in_words", "elder_tiles",
    "elder_candidates", "elder_home", "elder_search", "elder_item_detail", "strip_marketing",
    "find_marketing",
]

MAX_TILES = 8
MAX_ELDER_RESULTS = 5
ELDER_THEME = "T22"  # 老年人服务一件事
ITEM_PATH = "/v1/items/{basic_code}"

# What elderly residents need most, in this order (养老金认证 first: it is yearly and blocks the
# pension when missed). All are ``elder_relevant`` in the reference data.
ELDER_PRIORITY: tuple[str, ...] = (
    "B0096",  # 养老保险待遇领取资格认证
    "B0433",  # 养老金发放明细查询
    "B0255",  # 城乡居民基本医疗保险费缴纳 (医保)
    "B0147",  # 异地就医备案（异地长期居住人员）
    "B0083",  # 高龄津贴发放
    "B0174",  # 老年人优待证办理
    "B0155",  # 门诊慢特病病种待遇认定
    "B0157",  # 零星医疗费用报销
    "B0341",  # 老年人公交乘车卡办理
    "B0419",  # 政务服务帮办代办
)
_PRIORITY_RANK = {code: rank for rank, code in enumerate(ELDER_PRIORITY)}

MARKETING_CATEGORIES = frozenset({"marketing", "ad", "ads", "advert", "advertisement", "promotion",
                                  "promo", "campaign", "banner", "sponsored"})
PROMO_SLOTS = frozenset({"banners", "ads", "adverts", "promotions", "promos", "campaigns",
                         "marketing", "popups", "sponsored"})
_CATEGORY_KEYS = ("category", "kind", "type", "slot")
_PROMO_FLAGS = ("marketing", "promoted", "is_ad", "sponsored")

# Official term → plain term (B5: name_plain, glossary). Applied longest first.
_COMMON_TERMS = {
    "居民身份证": "身份证",
    "居民户口簿": "户口本",
    "户口簿": "户口本",
    "社会保障卡": "社保卡",
    "机动车驾驶证": "驾驶证",
    "近期免冠照片": "近期正面照片（不戴帽子）",
    "自然人": "个人",
    "法人": "单位",
}
_CONDITION_TERMS = {
    **_COMMON_TERMS,
    "服务对象：": "谁可以办：",
    "申请人": "您",
    "法定条件": "规定的条件",
    "享受条件": "领取条件",
    "申请材料齐全、符合法定形式": "材料带齐、填写正确",
    "材料齐全": "材料带齐",
    "有效期届满": "到期",
    "届满": "到期",
    "办结": "办好",
    "如实申报": "如实说明",
}
_MATERIAL_TERMS = {**_COMMON_TERMS, "申请人": "本人", "申请书": "申请表"}
_TERMS = {"condition": _CONDITION_TERMS, "material": _MATERIAL_TERMS}
_TERM_ORDER = {context: sorted(terms, key=len, reverse=True) for context, terms in _TERMS.items()}


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise TypeError(f"expected a mapping or an object with to_dict(), got {type(value).__name__}")


def _elder_relevant(item: Mapping[str, Any]) -> bool:
    return bool(item.get("elder_relevant", False))


def _popularity(item: Mapping[str, Any]) -> int:
    for key in ("popularity", "hot"):
        if item.get(key) is not None:
            return int(item[key])
    return 0


def _region_path(code: str) -> str:
    """Administrative prefix: 150000 → 15, 150100 → 1501, 150102 → 150102, townships keep 9 digits."""
    if len(code) == 6:
        if code.endswith("0000"):
            return code[:2]
        if code.endswith("00"):
            return code[:4]
    return code


def _serves_region(item_region: str | None, region: str | None) -> bool:
    """The entry's region is the requested region, an ancestor, or a descendant (a city served by
    one of its counties): anything else belongs to another place and never becomes a tile."""
    if not region or not item_region:
        return True
    a, b = _region_path(item_region), _region_path(region)
    return a.startswith(b) or b.startswith(a)


def item_path(basic_code: str, region: str | None = None) -> str:
    path = ITEM_PATH.format(basic_code=basic_code)
    return f"{path}?region={region}" if region else path


def plain_text(text: str | None, *, context: str = "condition") -> str:
    """Official wording → plain wording (身份证, 户口本, 您 …); ``context`` is condition or material."""
    if not text:
        return ""
    terms = _TERMS[context]
    for term in _TERM_ORDER[context]:
        text = text.replace(term, terms[term])
    return text


def visits_in_words(visits: int) -> str:
    if visits <= 0:
        return "一次都不用跑，在手机上就能办"
    if visits == 1:
        return "只需要去窗口一次"
    count = "两" if visits == 2 else cardinal(visits)
    return f"需要去窗口{count}次"


def _duration_text(promised_days: int | None) -> str:
    if promised_days is None:
        return ""
    if promised_days <= 0:
        return "当场就能办好"
    return f"{promised_days}个工作日内办好"


def plain_summary(item: Mapping[str, Any] | Any) -> str:
    """One plain sentence: what it is, how many trips, how long."""
    item = _as_dict(item)
    title = item.get("plain_name") or item.get("short_name") or item.get("name", "")
    parts = [visits_in_words(int(item.get("visits", 1)))]
    duration = _duration_text(item.get("promised_days"))
    if duration:
        parts.append(duration)
    return f"{title}：{'，'.join(parts)}。"


def _entry(item: dict[str, Any], region: str | None) -> dict[str, Any]:
    title = item.get("plain_name") or item.get("short_name") or item["name"]
    summary = plain_summary(item)
    return {
        "basic_code": item["basic_code"],
        "title": title,
        "name": item.get("local_name") or item.get("name", title),
        "summary": summary,
        "speech_text": speech_text(summary),
        "a11y_label": f"打开：{title}",
        "path": item_path(item["basic_code"], region),
        "region_code": item.get("region_code"),
        "region_name": item.get("region_name"),
    }


def elder_tiles(items: Iterable[Mapping[str, Any] | Any], *, region: str | None,
                limit: int = MAX_TILES) -> list[dict[str, Any]]:
    """At most ``min(limit, 8)`` tiles: priority services, then elder-relevant, then the rest,
    each by popularity; one tile per basic item; only items serving ``region``."""
    limit = max(0, min(int(limit), MAX_TILES))
    seen: dict[str, dict[str, Any]] = {}
    for raw in items:
        item = _as_dict(raw)
        code = item.get("basic_code")
        if not code or code in seen or not _serves_region(item.get("region_code"), region):
            continue
        seen[code] = item

    def rank(item: dict[str, Any]) -> tuple[int, int, int, str]:
        code = item["basic_code"]
        priority = _PRIORITY_RANK.get(code, len(ELDER_PRIORITY))
        return (0 if _elder_relevant(item) else 1, priority, -_popularity(item), code)

    ranked = sorted(seen.values(), key=rank)[:limit]
    return [_entry(item, region) for item in ranked]


def elder_candidates(catalogue: Any, *, region: str | None) -> list[dict[str, Any]]:
    """Tile candidates from a ``catalog.service.Catalogue``: the 老年人服务 theme plus the hot list,
    each with ``elder_relevant`` filled in from the reference data."""
    from catalog.errors import CatalogError

    candidates: list[dict[str, Any]] = []
    try:
        candidates.extend(_as_dict(i) for i in catalogue.theme(ELDER_THEME, region=region).items)
    except CatalogError:
        pass
    candidates.extend(_as_dict(i) for i in catalogue.hot(region=region, limit=50))
    reference = catalogue.ref
    for item in candidates:
        basic = reference.item(item["basic_code"])
        item.setdefault("elder_relevant", basic.elder_relevant)
        item.setdefault("popularity", basic.hot)
    return candidates


def elder_home(items: Iterable[Mapping[str, Any] | Any], *, region: str | None,
               notices: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The elder home payload: tiles, non-marketing notices, help, presentation tokens."""
    tiles = elder_tiles(items, region=region)
    kept_notices = strip_marketing([dict(n) for n in notices])
    spoken = "；".join(f"第{cardinal(n)}个，{t['title']}" for n, t in enumerate(tiles, 1))
    return {
        "mode": "elder",
        "region": region,
        "tiles": tiles,
        "notices": kept_notices,
        "help": help_block(),
        "presentation": PRESENTATION,
        "speech_text": speech_text(f"常用服务有{cardinal(len(tiles))}个：{spoken}。") if tiles else "",
    }


def elder_search(result: Mapping[str, Any] | Any, *, region: str | None = None,
                 limit: int = MAX_ELDER_RESULTS) -> dict[str, Any]:
    """Top ``limit`` (≤ 5) search hits in the catalogue's order, plain names, no facets or markup."""
    data = _as_dict(result)
    limit = max(0, min(int(limit), MAX_ELDER_RESULTS))
    hits = [_as_dict(h) for h in data.get("items", [])][:limit]
    entries = [_entry(hit, region) for hit in hits]
    total = int(data.get("total", len(entries)))
    if entries:
        listed = "；".join(f"第{cardinal(n)}项，{e['title']}" for n, e in enumerate(entries, 1))
        spoken = speech_text(f"为您找到{cardinal(len(entries))}项最相关的服务：{listed}。")
    else:
        spoken = "没有找到相关的服务，可以拨打幺二三四五热线问一问。"
    return {
        "mode": "elder",
        "query": data.get("query", ""),
        "total": total,
        "shown": len(entries),
        "has_more": total > len(entries),
        "items": entries,
        "speech_text": spoken,
        "help": help_block(),
        "presentation": PRESENTATION,
    }


def _material(index: int, text: str) -> dict[str, Any]:
    plain = plain_text(text, context="material")
    optional = "如有" in text or "（换领时）" in text
    return {
        "index": index,
        "text": plain,
        "official": text,
        "optional": optional,
        "checked": False,
        "speech_text": speech_text(f"第{cardinal(index)}样，{plain}"),
    }


def elder_item_detail(detail: Mapping[str, Any] | Any) -> dict[str, Any]:
    """The elder variant of ``ItemDetail.to_dict()``."""
    d = _as_dict(detail)
    title = d.get("plain_name") or d.get("short_name") or d["name"]
    summary = plain_summary(d)
    visits = int(d.get("visits", 1))
    checklist = [_material(n, m) for n, m in enumerate(d.get("materials") or (), 1)]
    conditions = plain_text(d.get("conditions"))
    fee_text = f"收费：{d['fee']}" if d.get("fee") else "不收费"
    duration = _duration_text(d.get("promised_days"))
    address, hours = d.get("address") or "", d.get("office_hours") or ""
    where_text = f"去{address}办理。办公时间：{hours}" if address else ""
    phone, department = d.get("phone") or "", d.get("department_full") or d.get("department") or ""
    call = None
    if phone:
        call = {
            "department": department,
            "phone": phone,
            "tel": "tel:" + "".join(ch for ch in phone if ch.isdigit()),
            "a11y_label": f"拨打{department}电话，{phone}",
            "speech_text": f"{department}的电话是{speech_text(phone, kind='phone')}",
        }
    mobile_path = d.get("mobile_path") if d.get("is_online") else None
    materials_spoken = "、".join(m["text"] for m in checklist)
    page_parts = [
        f"{title}。",
        f"需要带{cardinal(len(checklist))}样材料：{materials_spoken}。" if checklist else "不需要带材料。",
        f"{visits_in_words(visits)}。",
        f"{duration}。" if duration else "",
        f"{fee_text}。",
        f"{where_text}。" if where_text else "",
        f"有问题可以打电话：{phone}。" if phone else "",
    ]
    return {
        "mode": "elder",
        "basic_code": d["basic_code"],
        "title": title,
        "name": d.get("local_name") or d["name"],
        "summary": summary,
        "checklist": checklist,
        "conditions": {"text": conditions, "speech_text": speech_text(conditions)},
        "visits": {"count": visits, "text": visits_in_words(visits),
                   "speech_text": speech_text(visits_in_words(visits))},
        "duration": {"promised_days": d.get("promised_days"), "text": duration,
                     "speech_text": speech_text(duration)},
        "fee": {"text": fee_text, "speech_text": speech_text(fee_text)},
        "where": {"address": address, "office_hours": hours, "text": where_text,
                  "speech_text": speech_text(where_text)},
        "call": call,
        "online": {"available": bool(mobile_path), "path": mobile_path,
                   "text": "可以在手机上办" if mobile_path else "需要到窗口办"},
        "region_code": d.get("region_code"),
        "region_name": d.get("region_name"),
        "speech_text": speech_text("".join(page_parts)),
        "help": help_block(department=department or None, phone=phone or None),
        "presentation": PRESENTATION,
    }


# -- no marketing -----------------------------------------------------------------------------

def _is_marketing(value: Any) -> bool:
    if not isinstance(value, Mapping):
        return False
    for key in _CATEGORY_KEYS:
        category = value.get(key)
        if isinstance(category, str) and category.strip().lower() in MARKETING_CATEGORIES:
            return True
    return any(value.get(flag) is True for flag in _PROMO_FLAGS)


def strip_marketing(payload: Any) -> Any:
    """A copy of ``payload`` without promo slots (``banners``, ``ads`` …) and without any list entry
    whose category/kind/type/slot is marketing or that is flagged ``marketing``/``promoted``/``is_ad``."""
    if isinstance(payload, Mapping):
        return {k: strip_marketing(v) for k, v in payload.items()
                if not (isinstance(k, str) and k.lower() in PROMO_SLOTS) and not _is_marketing(v)}
    if isinstance(payload, (list, tuple)):
        return [strip_marketing(v) for v in payload if not _is_marketing(v)]
    return payload


def find_marketing(payload: Any, path: str = "$") -> list[str]:
    """Paths of everything ``strip_marketing`` would remove; empty means the payload is clean."""
    found: list[str] = []
    if isinstance(payload, Mapping):
        if _is_marketing(payload):
            found.append(path)
        for key, value in payload.items():
            child = f"{path}.{key}"
            if isinstance(key, str) and key.lower() in PROMO_SLOTS:
                found.append(child)
            else:
                found.extend(find_marketing(value, child))
    elif isinstance(payload, (list, tuple)):
        for index, value in enumerate(payload):
            found.extend(find_marketing(value, f"{path}[{index}]"))
    return found
