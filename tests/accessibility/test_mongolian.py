"""Mongolian names with per-string fallback, match keys, and localize() over response shapes."""
from __future__ import annotations

import copy
import json

import pytest

from accessibility.elder import elder_candidates, elder_tiles
from accessibility.mongolian import CHINESE, MONGOLIAN, MongolianNames, language_tag, normalize
from catalog.model import PACKAGED_DATA, ReferenceData
from catalog.service import Catalogue

REGIONS = {r["code"]: r for r in json.loads((PACKAGED_DATA / "regions.json").read_text(encoding="utf-8"))}
FVS1, MVS, NNBSP = "\u180b", "\u180e", "\u202f"
# The names over the packaged reference data, as the composition root's catalogue hands it over.
NAMES = MongolianNames(ReferenceData.load())
region_name, item_name, localize = NAMES.region_name, NAMES.item_name, NAMES.localize


def is_mongolian(text: str) -> bool:
    return any("\u1800" <= ch <= "\u18af" or "\U00011660" <= ch <= "\U0001167f" for ch in text)


def same(a: str, b: str) -> bool:
    return normalize(a) == normalize(b)


def test_language_tags():
    assert language_tag("mn") == MONGOLIAN == "mn-Mong"
    assert language_tag("zh") == CHINESE == "zh-Hans"
    with pytest.raises(ValueError):
        language_tag("en")


def test_region_with_mongolian_name():
    assert region_name("150100", "mn") == {"text": "ᠬᠥᠬᠡᠬᠣᠲᠠ ᠬᠣᠲᠠ", "lang": "mn-Mong", "fallback": False}
    assert region_name("150100", "zh") == {"text": "呼和浩特市", "lang": "zh-Hans", "fallback": False}


def test_region_without_mongolian_name_falls_back_marked():
    assert REGIONS["150102"]["name_mn"] is None
    assert region_name("150102", "mn") == {"text": "新城区", "lang": "zh-Hans", "fallback": True}
    # township codes are not in the reference data: the Chinese name passed in is used
    assert region_name("150102001", "mn", zh_name="某街道") == {"text": "某街道", "lang": "zh-Hans", "fallback": True}
    assert region_name("999999", "mn") is None


def test_every_reference_mongolian_name_is_served_as_is():
    for code, record in REGIONS.items():
        local = region_name(code, "mn")
        if record["name_mn"]:
            assert local == {"text": record["name_mn"], "lang": "mn-Mong", "fallback": False}
            assert is_mongolian(local["text"])
        else:
            assert local == {"text": record["name"], "lang": "zh-Hans", "fallback": True}


def test_items_have_no_mongolian_data_so_they_fall_back():
    assert item_name("B0096", "养老保险待遇领取资格认证", "mn") == {
        "text": "养老保险待遇领取资格认证", "lang": "zh-Hans", "fallback": True}
    assert item_name("B0096", "养老保险待遇领取资格认证", "zh")["fallback"] is False


def test_normalize_strips_controls_and_folds_vowels():
    word = "ᠮᠣᠩᠭᠣᠯ"
    assert normalize(word + FVS1) == normalize(word)
    assert normalize("ᠠ" + MVS + "ᠠ") == normalize("ᠠᠠ")
    # suffix after NNBSP, after a plain space, or typed joined: one key
    assert same(f"ᠮᠣᠩᠭᠣᠯ{NNBSP}ᠤᠨ", "ᠮᠣᠩᠭᠣᠯ ᠤᠨ")
    assert same(f"ᠮᠣᠩᠭᠣᠯ{NNBSP}ᠤᠨ", "ᠮᠣᠩᠭᠣᠯᠤᠨ")
    # o/u and ö/ü share glyphs: folded
    assert same("ᠮᠣᠩᠭᠣᠯ", "ᠮᠤᠩᠭᠤᠯ")
    assert same("ᠥᠪᠥᠷ", "ᠦᠪᠦᠷ")
    assert not same("ᠣ", "ᠥ")  # but o/u stay distinct from ö/ü
    assert normalize("᠑᠒") == "12"
    assert normalize("Kökeqota") == "kokeqota"
    assert normalize("") == ""


def test_normalize_is_for_matching_not_display():
    name = REGIONS["150000"]["name_mn"]
    assert NNBSP in name  # the reference text keeps its NNBSP …
    assert region_name("150000", "mn")["text"] == name  # … and display never goes through normalize


@pytest.fixture(scope="module")
def catalogue(catalog_index_dir) -> Catalogue:
    return Catalogue.open(catalog_index_dir)


def test_localize_search_result(catalogue):
    payload = catalogue.search("养老", region="150105", page_size=3).to_dict()
    before = copy.deepcopy(payload)
    localized = localize(payload, "mn")
    assert payload == before  # input untouched
    for item, original in zip(localized["items"], payload["items"]):
        assert item["region_name"] == original["region_name"]  # the Chinese field stays
        expected = region_name(original["region_code"], "mn", zh_name=original["region_name"])
        assert item["region_name_local"] == expected
        assert item["name_local"] == {"text": original["name"], "lang": "zh-Hans", "fallback": True}
    langs = {item["region_name_local"]["lang"] for item in localized["items"]}
    assert langs <= {"mn-Mong", "zh-Hans"}


def test_localize_hot_detail_and_tiles(catalogue):
    hot = {"region": "150100", "items": [i.to_dict() for i in catalogue.hot(region="150100", limit=3)]}
    localized = localize(hot, "mn")
    assert localized["region_name_local"]["text"] == REGIONS["150100"]["name_mn"]
    assert all(i["region_name_local"]["lang"] in ("mn-Mong", "zh-Hans") for i in localized["items"])

    detail = localize(catalogue.item_detail("B0096", region="150102").to_dict(), "mn")
    assert detail["region_name_local"] == {"text": "新城区", "lang": "zh-Hans", "fallback": True}

    tiles = localize(elder_tiles(elder_candidates(catalogue, region="150100"), region="150100"), "mn")
    assert all("region_name_local" in t for t in tiles)


def test_localize_chinese_marks_nothing_as_fallback(catalogue):
    payload = catalogue.search("养老", region="150100", page_size=2).to_dict()
    for item in localize(payload, "zh")["items"]:
        assert item["region_name_local"]["fallback"] is False
        assert item["region_name_local"]["lang"] == "zh-Hans"
    with pytest.raises(ValueError):
        localize(payload, "en")
