import json

import pytest

from catalog.errors import InvalidPagination, InvalidQuery, UnknownFilterValue, UnknownRegion

HIT_KEYS = {"basic_code", "implementation_code", "name", "local_name", "short_name", "plain_name",
            "department", "item_type", "region_code", "region_name", "online_depth", "visits",
            "promised_days", "highlight"}


def codes(result):
    return [hit.basic_code for hit in result.items]


# -- what people type --------------------------------------------------------

def test_official_name(cat):
    result = cat.search("内地居民结婚登记")
    assert codes(result)[0] == "B0070"
    assert result.items[0].highlight == "<em>内地居民结婚登记</em>"


def test_short_name(cat):
    assert codes(cat.search("换身份证"))[0] == "B0002"


def test_colloquial_phrase_reaches_birth_items(cat, ref):
    top = codes(cat.search("生孩子", page_size=5))
    assert {"B0165", "B0007"} <= set(top)  # 出生医学证明, 出生登记
    assert all("T01" in ref.item(code).themes for code in top)


def test_exact_colloquial_phrase_ranks_its_items_first(cat, ref):
    birth_theme = set(ref.theme("T01").items)
    assert set(codes(cat.search("生孩子办什么", page_size=len(birth_theme)))) == birth_theme


def test_lexicon_maps_colloquial_words_to_official_ones(cat):
    top = cat.search("驾照到期", page_size=3).items
    assert any("驾驶证" in hit.name for hit in top)


def test_full_pinyin(cat):
    top = cat.search("shenfenzheng", page_size=5).items
    assert top[0].basic_code == "B0002"
    assert all("身份证" in hit.name for hit in top)
    assert "<em>身份证</em>" in top[0].highlight


def test_initials(cat):
    top = cat.search("sfz", page_size=5).items
    assert all("身份证" in hit.name for hit in top)
    assert "<em>身份证</em>" in top[0].highlight


def test_one_character_typo(cat):
    top = cat.search("身份正", page_size=3).items
    assert all("身份证" in hit.name for hit in top)


def test_typo_in_a_full_name(cat):
    assert codes(cat.search("居民身份正换领"))[0] == "B0002"


def test_traditional_characters(cat):
    traditional, simplified = cat.search("身份證"), cat.search("身份证")
    assert traditional.query == "身份证"
    assert codes(traditional) == codes(simplified)


def test_mixed_han_and_initials(cat):
    assert codes(cat.search("办sfz"))[0] == "B0001"  # 居民身份证首次申领 (办身份证)


def test_exact_names_come_first_even_when_unpopular(cat, ref):
    assert ref.item("B0268").hot == 2
    assert codes(cat.search("中国税收居民身份证明开具"))[0] == "B0268"
    assert codes(cat.search("税收居民证明"))[0] == "B0268"


def test_every_official_and_short_name_finds_its_item_first(cat, ref):
    for item in ref.items:
        for name in (item.name, item.short_name):
            assert codes(cat.search(name, page_size=1)) == [item.basic_code], name


# -- regions and local names --------------------------------------------------

@pytest.mark.parametrize("region, local_name", [
    ("150203", "限制使用农药的定点经营许可证首次申请"),  # 包头 county inherits 包头市's name
    ("150702", "普通农药经营许可证首次申请"),          # 呼伦贝尔 county inherits 呼伦贝尔市's
    ("150102", "农药经营许可证核发（其他农药）"),       # a county with its own variant
    ("150200", "限制使用农药的定点经营许可证首次申请"),
])
def test_same_basic_item_under_each_local_name(cat, region, local_name):
    hit = cat.search("农药经营许可", region=region).items[0]
    assert (hit.basic_code, hit.name, hit.local_name) == ("B0356", "农药经营许可", local_name)
    assert hit.region_code == region
    assert local_name[:2] in hit.highlight.replace("<em>", "").replace("</em>", "")


def test_without_region_the_official_name_of_the_region_level_entry(cat):
    hit = cat.search("农药经营许可").items[0]
    assert (hit.local_name, hit.region_code) == ("农药经营许可", "150000")


def test_local_name_is_an_exact_match_where_it_is_used(cat):
    assert codes(cat.search("普通农药经营许可证首次申请", region="150702"))[0] == "B0356"
    assert codes(cat.search("普通农药经营许可证首次申请"))[0] == "B0356"


def test_county_is_served_by_city_implementation_when_it_has_none(cat, ref):
    assert ref.item("B0163").levels == ("city",)
    hit = cat.search("长期护理保险", region="150102").items[0]
    assert (hit.basic_code, hit.region_code) == ("B0163", "150100")
    assert hit.local_name == "长期护理保险失能等级评估申请"


def test_township_only_item_is_served_by_a_township(cat):
    hit = cat.search("农村宅基地建房", region="150121").items[0]
    assert hit.basic_code == "B0372"
    assert len(hit.region_code) == 9 and hit.region_code.startswith("150121")
    assert hit.local_name == "农村宅基地和建房（规划许可）审批"


def test_township_entries_never_serve_county_queries(cat):
    result = cat.search("身份证", region="150203", page_size=50)
    assert result.items and all(len(hit.region_code) == 6 for hit in result.items)


def test_county_outside_a_reduced_build_is_answered_like_its_city(cat, catalog_index_dir):
    meta = json.loads((catalog_index_dir / "current" / "meta.json").read_text())
    dropped = next(c for c in cat.regions.all_counties() if c.code not in meta["counties"])
    hit = cat.search("农药经营许可", region=dropped.code).items[0]
    assert hit.region_code in (dropped.parent, "150000")


def test_province_region_is_the_region_wide_view(cat):
    assert cat.search("身份证", region="150000") == cat.search("身份证")


def test_unknown_region(cat):
    for region in ("999999", "1502", "150271"):  # 150271 is a development zone, not a division
        with pytest.raises(UnknownRegion) as err:
            cat.search("身份证", region=region)
        assert err.value.code == "unknown_region"


# -- grouping, pagination, facets, filters -----------------------------------

@pytest.mark.parametrize("region", [None, "150203", "150100"])
def test_one_entry_per_basic_item_across_pages(cat, region):
    first = cat.search("登记", region=region, page_size=50)
    seen = [hit.basic_code for page in range(1, first.total // 50 + 2)
            for hit in cat.search("登记", region=region, page=page, page_size=50).items]
    assert len(seen) == len(set(seen)) == first.total > 50


def test_page_past_the_end_is_empty(cat):
    result = cat.search("身份证", page=99)
    assert result.items == () and result.total > 0


def test_facets_count_distinct_basic_items(cat):
    result = cat.search("证", page_size=1)
    facets = result.facets
    assert sum(facets.department.values()) == result.total
    assert sum(facets.item_type.values()) == result.total
    assert sum(facets.online_depth.values()) == result.total
    assert set(facets.online_depth) <= {"1", "2", "3", "4"}
    assert all(count <= result.total for count in facets.theme.values())


@pytest.mark.parametrize("kwargs, check", [
    ({"department": "公安厅"}, lambda item: item.department == "公安厅"),
    ({"item_type": "行政许可"}, lambda item: item.item_type == "行政许可"),
    ({"audience": "法人"}, lambda item: "法人" in item.audience),
    ({"online_depth": 4}, lambda item: item.online_depth == 4),
    ({"online_depth": "2"}, lambda item: item.online_depth == 2),
    ({"theme": "T01"}, lambda item: "T01" in item.themes),
])
def test_filters(cat, ref, kwargs, check):
    result = cat.search("登记", region="150203", page_size=50, **kwargs)
    unfiltered = cat.search("登记", region="150203", page_size=1)
    assert 0 < result.total < unfiltered.total
    assert all(check(ref.item(hit.basic_code)) for hit in result.items)
    if "department" in kwargs:
        assert result.facets.department == {"公安厅": result.total}


@pytest.mark.parametrize("kwargs, code", [
    ({"department": "农业农村厅"}, "unknown_department"),
    ({"item_type": "行政处罚"}, "unknown_item_type"),
    ({"audience": "外国人"}, "unknown_audience"),
    ({"online_depth": 5}, "unknown_online_depth"),
    ({"theme": "T99"}, "unknown_theme"),
])
def test_unknown_filter_values(cat, kwargs, code):
    with pytest.raises(UnknownFilterValue) as err:
        cat.search("登记", **kwargs)
    assert err.value.code == code
    assert err.value.details["allowed"]


@pytest.mark.parametrize("q", ["", "   ", "！？。", "证" * 51, None])
def test_invalid_queries(cat, q):
    with pytest.raises(InvalidQuery) as err:
        cat.search(q)
    assert err.value.code == "invalid_query" and err.value.message


def test_fifty_characters_is_still_a_query(cat):
    assert cat.search("  " + "身份证" * 16 + "换领  ").total > 0


@pytest.mark.parametrize("page, page_size", [(0, 10), (1, 0), (1, 51), ("2", 10)])
def test_invalid_pagination(cat, page, page_size):
    with pytest.raises(InvalidPagination) as err:
        cat.search("身份证", page=page, page_size=page_size)
    assert err.value.code == "invalid_pagination"


def test_result_shape_is_json_ready(cat):
    data = cat.search("身份证", region="150203", page_size=3).to_dict()
    assert set(data) == {"query", "total", "page", "page_size", "items", "facets", "understood", "match",
                         "did_you_mean", "themes", "help"}
    assert data["match"] == "exact" and data["help"] is None and data["did_you_mean"] is None
    assert set(data["facets"]) == {"department", "item_type", "theme", "online_depth"}
    assert all(set(item) == HIT_KEYS for item in data["items"])
    json.dumps(data, ensure_ascii=False)
