"""Elder variants: tiles, search, detail, home, and the no-marketing guarantee."""
from __future__ import annotations

import copy
import json
import re

import pytest

from accessibility.elder import (ELDER_PRIORITY, MAX_TILES, elder_candidates, elder_home,
                                 elder_item_detail, elder_search, elder_tiles, find_marketing,
                                 strip_marketing, visits_in_words)
from catalog.model import PACKAGED_DATA
from catalog.service import Catalogue

ARABIC = re.compile(r"[0-9]")
REFERENCE = {r["basic_code"]: r for r in json.loads((PACKAGED_DATA / "items.json").read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def catalogue(catalog_index_dir) -> Catalogue:
    return Catalogue.open(catalog_index_dir)


def summary(code: str, *, region_code: str = "150102", popularity: int | None = None, **extra) -> dict:
    """An ItemSummary.to_dict() shape with ``elder_relevant`` from the reference record, as
    ``elder_candidates`` fills it in from the catalogue's reference data."""
    r = REFERENCE[code]
    return {"basic_code": code, "implementation_code": f"{code}-x", "name": r["name"], "local_name": r["name"],
            "short_name": r["short_name"], "plain_name": r["plain_name"], "department": r["department"],
            "item_type": r["item_type"], "region_code": region_code, "region_name": "新城区",
            "online_depth": r["online_depth"], "visits": r["visits"], "promised_days": r["promised_days"],
            "popularity": r["hot"] if popularity is None else popularity,
            "elder_relevant": bool(r["elder_relevant"]), **extra}


def speech_fields(payload):
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "speech_text":
                yield value
            else:
                yield from speech_fields(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from speech_fields(value)


def assert_speakable(payload):
    texts = list(speech_fields(payload))
    assert texts, "payload has no speech_text"
    for text in texts:
        assert not ARABIC.search(text), text


# -- tiles ----------------------------------------------------------------------------------

def test_tiles_at_most_eight_even_when_more_are_asked():
    items = [summary(code) for code in REFERENCE if REFERENCE[code]["elder_relevant"]]
    assert len(items) > 8
    assert len(elder_tiles(items, region="150102", limit=50)) == MAX_TILES == 8
    assert len(elder_tiles(items, region="150102", limit=3)) == 3


def test_elder_relevant_first_even_against_more_popular_items():
    popular_not_elder = [summary(c, popularity=100) for c in ("B0001", "B0002")]
    assert not any(REFERENCE[c["basic_code"]]["elder_relevant"] for c in popular_not_elder)
    elder = [summary(c) for c in ("B0175", "B0444", "B0083")]
    tiles = elder_tiles(popular_not_elder + elder, region="150102")
    codes = [t["basic_code"] for t in tiles]
    relevant = [REFERENCE[c]["elder_relevant"] for c in codes]
    assert relevant == sorted(relevant, reverse=True), codes
    assert codes[:3] == ["B0083", "B0444", "B0175"]  # priority item first, then by popularity


def test_priority_services_lead_in_their_order():
    items = [summary(c) for c in reversed(ELDER_PRIORITY)]
    codes = [t["basic_code"] for t in elder_tiles(items, region="150102")]
    assert codes == list(ELDER_PRIORITY[:8])


def test_tiles_plain_names_summary_speech_path():
    tiles = elder_tiles([summary("B0083"), summary("B0083"), summary("B0096")], region="150102")
    assert [t["basic_code"] for t in tiles] == ["B0096", "B0083"]  # one tile per item
    for tile in tiles:
        assert tile["title"] == REFERENCE[tile["basic_code"]]["plain_name"]
        assert tile["name"] == REFERENCE[tile["basic_code"]]["name"]
        assert tile["summary"].startswith(tile["title"]) and tile["summary"].endswith("。")
        assert tile["summary"].count("。") == 1
        assert tile["path"] == f"/v1/items/{tile['basic_code']}?region=150102"
        assert tile["a11y_label"]
    assert tiles[1]["speech_text"].startswith("八十岁以上")  # 80岁以上老人领高龄补贴
    assert_speakable(tiles)


def test_tiles_only_for_items_serving_the_region():
    items = [summary("B0096", region_code="150203"),     # 包头 county: not for 新城区
             summary("B0083", region_code="150100"),     # its city
             summary("B0174", region_code="150000"),     # the province
             summary("B0147", region_code="150102001")]  # one of its townships
    codes = {t["basic_code"] for t in elder_tiles(items, region="150102")}
    assert codes == {"B0083", "B0174", "B0147"}
    assert len(elder_tiles(items, region=None)) == 4


def test_tiles_from_the_real_catalogue(catalogue):
    for region in ("150102", "150100", None):
        tiles = elder_tiles(elder_candidates(catalogue, region=region), region=region)
        codes = [t["basic_code"] for t in tiles]
        assert len(tiles) == 8
        assert codes[0] == "B0096"  # 养老保险待遇领取资格认证
        assert {"B0083", "B0174", "B0147"} <= set(codes)  # 高龄津贴, 优待证, 异地就医备案
        assert all(REFERENCE[c]["elder_relevant"] for c in codes)
        assert_speakable(tiles)


def test_visits_in_words():
    assert visits_in_words(0) == "一次都不用跑，在手机上就能办"
    assert visits_in_words(1) == "只需要去窗口一次"
    assert visits_in_words(2) == "需要去窗口两次"
    assert visits_in_words(3) == "需要去窗口三次"


# -- search and detail ----------------------------------------------------------------------

def test_elder_search_top_five_plain(catalogue):
    result = catalogue.search("养老金", region="150102", page_size=10)
    assert result.total > 5
    elder = elder_search(result, region="150102")
    assert elder["shown"] == 5 and len(elder["items"]) == 5 and elder["has_more"] is True
    assert [e["basic_code"] for e in elder["items"]] == [h.basic_code for h in result.items[:5]]
    for entry, hit in zip(elder["items"], result.items):
        assert entry["title"] == hit.plain_name
        assert "<em>" not in json.dumps(entry, ensure_ascii=False)
    assert "facets" not in elder
    assert [c["kind"] for c in elder["help"]["contacts"]] == ["hotline"]
    assert_speakable(elder)


def test_elder_search_nothing_found():
    elder = elder_search({"query": "火星护照", "total": 0, "items": [], "facets": {}})
    assert elder["items"] == [] and elder["has_more"] is False
    assert "幺二三四五" in elder["speech_text"]


def test_elder_detail(catalogue):
    detail = catalogue.item_detail("B0083", region="150102")
    elder = elder_item_detail(detail)
    assert elder["title"] == detail.plain_name
    assert [m["official"] for m in elder["checklist"]] == list(detail.materials)
    assert all(m["checked"] is False and m["speech_text"] for m in elder["checklist"])
    assert "身份证" in elder["checklist"][0]["text"] and "居民" not in elder["checklist"][0]["text"]
    assert elder["visits"] == {"count": detail.visits, "text": visits_in_words(detail.visits),
                               "speech_text": visits_in_words(detail.visits)}
    assert "自然人" not in elder["conditions"]["text"]
    assert elder["where"]["address"] == detail.address
    assert "九点" in elder["where"]["speech_text"] or "八点" in elder["where"]["speech_text"]
    assert elder["call"]["phone"] == detail.phone
    assert [c["kind"] for c in elder["help"]["contacts"]] == ["hotline", "department"]
    assert elder["help"]["contacts"][1]["phone"] == detail.phone
    assert elder["presentation"]["min_body_dp"] >= 18
    assert_speakable(elder)


def test_elder_detail_marks_optional_materials():
    detail = {"basic_code": "B0077", "name": "特困人员救助供养", "plain_name": "无依无靠的老人、孩子申请供养",
              "visits": 2, "promised_days": 20, "fee": "工本费20元", "is_online": False,
              "materials": ["申请书", "残疾人证或失能评估材料（如有）"], "conditions": "服务对象：自然人。",
              "address": "", "office_hours": "", "phone": ""}
    elder = elder_item_detail(detail)
    assert [m["optional"] for m in elder["checklist"]] == [False, True]
    assert elder["call"] is None and elder["online"]["available"] is False
    assert elder["visits"]["text"] == "需要去窗口两次"
    assert elder["fee"]["speech_text"] == "收费：工本费二十元"
    assert [c["kind"] for c in elder["help"]["contacts"]] == ["hotline"]
    assert_speakable(elder)


# -- no marketing ---------------------------------------------------------------------------

HOME_WITH_ADS = {
    "banners": [{"title": "双十一政务狂欢", "image": "https://x/1.png"}],
    "notices": [
        {"id": "n1", "category": "policy", "title": "2026年城乡居民医保缴费开始"},
        {"id": "n2", "category": "marketing", "title": "下载XX银行APP领红包"},
        {"id": "n3", "category": "Campaign", "title": "扫码抽奖"},
        {"id": "n4", "kind": "banner", "title": "活动"},
        {"id": "n5", "category": "service", "title": "养老认证提醒", "promoted": True},
    ],
    "hero": {"type": "ad", "title": "贷款优惠"},
    "sections": [{"items": [{"id": "s1", "category": "service"}, {"id": "s2", "is_ad": True}]}],
}


def test_strip_marketing_removes_every_promo_and_keeps_the_rest():
    original = copy.deepcopy(HOME_WITH_ADS)
    clean = strip_marketing(HOME_WITH_ADS)
    assert HOME_WITH_ADS == original  # input untouched
    assert find_marketing(clean) == []
    assert [n["id"] for n in clean["notices"]] == ["n1"]
    assert "banners" not in clean and "hero" not in clean
    assert clean["sections"] == [{"items": [{"id": "s1", "category": "service"}]}]
    assert set(find_marketing(HOME_WITH_ADS)) >= {"$.banners", "$.notices[1]", "$.notices[2]", "$.hero"}


def test_elder_home_has_no_marketing(catalogue):
    items = elder_candidates(catalogue, region="150102")
    home = elder_home(items, region="150102", notices=HOME_WITH_ADS["notices"])
    assert find_marketing(home) == []
    assert [n["id"] for n in home["notices"]] == ["n1"]
    text = json.dumps(home, ensure_ascii=False)
    for promo in ("红包", "抽奖", "贷款", "狂欢"):
        assert promo not in text
    assert len(home["tiles"]) == 8 and home["mode"] == "elder"
    assert home["help"]["contacts"][0]["phone"] == "12345"
    assert_speakable(home)
