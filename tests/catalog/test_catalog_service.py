import json
import os

import pytest

from catalog.__main__ import main as cli
from catalog.build import ensure_index
from catalog.errors import IndexUnavailable, InvalidQuery, ItemNotFound, ThemeNotFound, UnknownRegion
from catalog.service import Catalogue


# -- suggest -------------------------------------------------------------------

def test_suggest_completes_names_aliases_and_pinyin(cat):
    assert "B0002" in {s.basic_code for s in cat.suggest("身份")}
    assert {s.basic_code for s in cat.suggest("sfz")} >= {"B0001", "B0002", "B0003"}
    pinyin = cat.suggest("shenfenz")
    # names spelled from their start come first; pinyin inside aliases (电子身份证) follows
    assert len(pinyin) >= 3 and all("身份证" in s.text for s in pinyin[:3])
    assert {s.kind for s in cat.suggest("shenfenz")} <= {"pinyin", "alias"}


def test_suggest_is_limited_and_one_per_item(cat):
    suggestions = cat.suggest("证", limit=10)
    assert len(suggestions) == 10
    assert len({s.basic_code for s in suggestions}) == 10
    assert len(cat.suggest("证", limit=3)) == 3


def test_suggest_uses_the_regions_local_name(cat):
    baotou = cat.suggest("农药", region="150203")[0]
    hulunbuir = cat.suggest("农药", region="150702")[0]
    assert baotou.basic_code == hulunbuir.basic_code == "B0356"
    assert baotou.text == "限制使用农药的定点经营许可证首次申请"
    assert hulunbuir.text == "普通农药经营许可证首次申请"
    assert cat.suggest("限制使用", region="150203")[0].kind == "local_name"
    # Baotou's wording is not offered in Hulunbuir: search finds the item under the local name there
    elsewhere = cat.suggest("限制使用", region="150702")
    assert all(s.text != "限制使用农药的定点经营许可证首次申请" and s.kind != "local_name" for s in elsewhere)


def test_suggest_accepts_traditional_input(cat):
    assert cat.suggest("結婚")[0].basic_code in {"B0070", "B0071"}


def test_suggest_validation(cat):
    with pytest.raises(InvalidQuery):
        cat.suggest(" ")
    with pytest.raises(UnknownRegion):
        cat.suggest("身份", region="123456")


# -- detail --------------------------------------------------------------------

def test_detail_of_the_serving_implementation(cat, ref):
    detail = cat.item_detail("B0356", region="150203")
    assert (detail.level, detail.region_code, detail.region_name) == ("county", "150203", "昆都仑区")
    assert detail.local_name == "限制使用农药的定点经营许可证首次申请"
    assert detail.materials == ref.item("B0356").materials
    assert (detail.legal_days, detail.promised_days, detail.fee) == (20, 10, None)
    assert detail.address == "昆都仑区政务服务中心农牧局窗口"
    assert detail.phone.startswith("0472-")
    assert detail.department_full == "昆都仑区农牧局"
    assert detail.handle_items[0].name == "首次申请"
    assert detail.implementation_code == detail.handle_items[0].implementation_code
    assert detail.is_online and detail.online_url.endswith(detail.implementation_code)
    assert detail.conditions and detail.office_hours
    assert [t.code for t in detail.themes] == ["T23"]
    json.dumps(detail.to_dict(), ensure_ascii=False)


def test_detail_without_region_is_the_region_level_entry(cat):
    detail = cat.item_detail("B0356")
    assert (detail.level, detail.local_name, detail.department_full) == (
        "province", "农药经营许可", "内蒙古自治区农牧厅")
    assert detail.phone.startswith("0471-")


def test_detail_of_an_item_served_from_the_city(cat):
    detail = cat.item_detail("B0163", region="150102")
    assert (detail.level, detail.region_code) == ("city", "150100")
    assert detail.local_name == "长期护理保险失能等级评估申请"


def test_detail_of_a_guide_only_item_is_not_online(cat, ref):
    guide_only = next(i for i in ref.items if i.online_depth == 1)
    detail = cat.item_detail(guide_only.basic_code, region="150203")
    assert not detail.is_online and detail.online_url is None and detail.mobile_path is None


def test_detail_errors(cat):
    with pytest.raises(ItemNotFound) as err:
        cat.item_detail("B9999")
    assert err.value.code == "item_not_found"
    with pytest.raises(UnknownRegion):
        cat.item_detail("B0356", region="000000")


# -- themes and hot --------------------------------------------------------------

def test_themes(cat, ref):
    themes = cat.themes()
    assert [t.code for t in themes] == [f"T{n:02d}" for n in range(1, 24)]
    assert themes[0].item_count == len(ref.theme("T01").items)
    json.dumps([t.to_dict() for t in themes], ensure_ascii=False)


def test_theme_items_resolved_for_a_region(cat, ref):
    theme = cat.theme("T23", region="150702")
    assert [i.basic_code for i in theme.items] == list(ref.theme("T23").items)
    farm_shop = {i.basic_code: i for i in theme.items}["B0356"]
    assert farm_shop.local_name == "普通农药经营许可证首次申请"
    assert theme.to_dict()["items"][0]["basic_code"] == theme.items[0].basic_code


def test_unknown_theme(cat):
    with pytest.raises(ThemeNotFound) as err:
        cat.theme("T99")
    assert err.value.code == "theme_not_found"


def test_hot_items_for_a_region(cat):
    hot = cat.hot(region="150902", limit=10)
    assert len(hot) == 10
    assert [h.popularity for h in hot] == sorted((h.popularity for h in hot), reverse=True)
    by_code = {h.basic_code: h for h in hot}
    assert by_code["B0002"].local_name == "居民身份证换领（有效期满）"  # 集宁区's own name
    assert [h.basic_code for h in cat.hot()] == [h.basic_code for h in hot]
    assert cat.hot()[0].local_name == cat.hot()[0].name


# -- builds: open, atomic swap, reload ---------------------------------------------

def test_open_without_an_index(tmp_path):
    with pytest.raises(IndexUnavailable) as err:
        Catalogue.open(tmp_path)
    assert isinstance(err.value, FileNotFoundError)  # callers treat it as "not built yet"


def test_rebuild_swaps_atomically_and_readers_reload(tmp_path):
    first = ensure_index(tmp_path, scale=0.005)
    assert not first.reused
    again = ensure_index(tmp_path, scale=0.005)
    assert again.reused and again.build_id == first.build_id and again.entries == first.entries
    catalogue = Catalogue.open(tmp_path)
    assert catalogue.version == first.build_id
    assert catalogue.reload_if_changed() is False
    before = catalogue.search("身份证", region="150203")

    assert cli(["build", "--scale", "0.005", "--out", str(tmp_path)]) == 0
    link = tmp_path / "current"
    assert link.is_symlink()
    second_id = os.path.basename(os.readlink(link))
    assert second_id != first.build_id
    assert (tmp_path / "builds" / first.build_id).is_dir()  # kept for readers still on it
    assert catalogue.version == first.build_id             # nothing changes until asked

    assert catalogue.reload_if_changed() is True
    assert catalogue.version == second_id
    assert catalogue.reload_if_changed() is False
    assert catalogue.search("身份证", region="150203").items == before.items
    assert not list(tmp_path.glob(".current*"))

    (tmp_path / "current").unlink()  # a reader keeps its build if the link is unreadable
    assert catalogue.reload_if_changed() is False and catalogue.version == second_id


def test_build_report(catalog_build):
    _, report = catalog_build
    assert report.entries > report.searchable_entries > 0
    assert report.bytes > 0 and report.seconds > 0
