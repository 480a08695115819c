"""The catalogue over HTTP: contract shapes, region behaviour, caching headers and bad input."""
from __future__ import annotations

import pytest

BAOTOU_COUNTY = "150203"  # 昆都仑区, 包头市
HULUNBUIR_COUNTY = "150702"  # 海拉尔区, 呼伦贝尔市
HIT_FIELDS = {
    "basic_code", "implementation_code", "name", "local_name", "short_name", "department",
    "region_code", "online_depth", "visits", "promised_days", "highlight",
}


def search(client, **params):
    response = client.get("/v1/items/search", query_string=params)
    assert response.status_code == 200, response.json
    return response.json


def codes(result):
    return [hit["basic_code"] for hit in result["items"]]


def test_search_contract_shape(client):
    result = search(client, q="身份证")
    assert set(result) >= {"query", "total", "items", "facets"}
    assert result["query"] == "身份证" and result["total"] >= 5
    assert HIT_FIELDS <= set(result["items"][0])
    assert set(result["facets"]) >= {"department", "item_type", "theme", "online_depth"}
    assert result["facets"]["department"]["公安厅"] >= 5


@pytest.mark.parametrize(
    "query, expected",
    [
        ("居民身份证换领", "B0002"),  # official name, exact match first
        ("换身份证", "B0002"),  # short name
        ("shenfenzheng", "B0001"),  # full pinyin
        ("身份證", "B0001"),  # traditional characters
    ],
)
def test_query_kinds_find_the_item(client, query, expected):
    found = codes(search(client, q=query, page_size=10))
    assert expected in found


def test_exact_name_comes_first(client):
    assert codes(search(client, q="居民身份证换领"))[0] == "B0002"


@pytest.mark.parametrize("query", ["sfz", "身份正", "办sfz"])
def test_initials_typos_and_mixed_queries_reach_id_card_items(client, query):
    hits = search(client, q=query, page_size=10)["items"]
    assert any(hit["basic_code"] in {"B0001", "B0002", "B0003"} for hit in hits[:5]), [h["name"] for h in hits]


def test_colloquial_birth_reaches_birth_certificate(client):
    found = codes(search(client, q="生孩子", page_size=20))
    assert {"B0165", "B0007"} & set(found[:10])


def test_one_entry_per_basic_item(client):
    result = search(client, q="身份证", region=BAOTOU_COUNTY, page_size=50)
    found = codes(result)
    assert len(found) == len(set(found))


def test_local_names_follow_the_region(client):
    baotou = search(client, q="农药经营许可", region=BAOTOU_COUNTY)["items"]
    hulunbuir = search(client, q="农药经营许可", region=HULUNBUIR_COUNTY)["items"]
    baotou_hit = next(hit for hit in baotou if hit["basic_code"] == "B0356")
    hulunbuir_hit = next(hit for hit in hulunbuir if hit["basic_code"] == "B0356")
    assert baotou_hit["local_name"] == "限制使用农药的定点经营许可证首次申请"
    assert hulunbuir_hit["local_name"] == "普通农药经营许可证首次申请"
    # The local name itself finds the basic item in that region.
    assert "B0356" in codes(search(client, q="限制使用农药的定点经营许可证首次申请", region=BAOTOU_COUNTY))[:3]


def test_filters_narrow_results_and_facets(client):
    everything = search(client, q="证", page_size=50)
    licences = search(client, q="证", item_type="行政许可", page_size=50)
    assert 0 < licences["total"] <= everything["total"]
    assert set(licences["facets"]["item_type"]) == {"行政许可"}
    online = search(client, q="证", online_depth=4, page_size=50)
    assert all(hit["online_depth"] == 4 for hit in online["items"])


def test_pagination_is_stable(client):
    first = codes(search(client, q="证明", page=1, page_size=5))
    second = codes(search(client, q="证明", page=2, page_size=5))
    assert len(first) == 5 and not set(first) & set(second)


def test_suggest_completes_prefixes(client):
    response = client.get("/v1/items/suggest", query_string={"q": "身份"})
    assert response.status_code == 200
    suggestions = response.json["suggestions"]
    assert 0 < len(suggestions) <= 10
    assert any("身份证" in s["text"] for s in suggestions)
    pinyin = client.get("/v1/items/suggest", query_string={"q": "shenf"}).json["suggestions"]
    assert any("身份证" in s["text"] for s in pinyin)


def test_item_detail_for_a_region(client):
    response = client.get("/v1/items/B0356", query_string={"region": BAOTOU_COUNTY})
    assert response.status_code == 200
    detail = response.json
    assert detail["basic_code"] == "B0356" and detail["materials"]
    assert detail["local_name"] == "限制使用农药的定点经营许可证首次申请"
    assert detail["region_code"] == BAOTOU_COUNTY or detail["region_code"] == "150200"
    assert detail["conditions"] and detail["address"] and detail["phone"]
    assert detail["is_online"] is True and detail["promised_days"] <= detail["legal_days"]
    assert response.headers["Cache-Control"].startswith("public")


def test_themes_and_theme_detail(client):
    themes = client.get("/v1/themes").json["themes"]
    assert {"T01", "T13"} <= {theme["code"] for theme in themes}
    birth = client.get("/v1/themes/T01", query_string={"region": "150102"}).json
    assert birth["name"] == "新生儿出生一件事" and len(birth["items"]) >= 4


def test_hot_items_for_a_region(client):
    items = client.get("/v1/items/hot", query_string={"region": BAOTOU_COUNTY, "limit": 5}).json["items"]
    assert len(items) == 5


def test_catalogue_answers_are_public_and_revalidate_with_304(client):
    first = client.get("/v1/items/search", query_string={"q": "护照"})
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    etag = first.headers["ETag"]
    for sent in (etag, f"W/{etag}"):
        again = client.get("/v1/items/search", query_string={"q": "护照"}, headers={"If-None-Match": sent})
        assert again.status_code == 304
        assert again.headers["Cache-Control"] == first.headers["Cache-Control"]


@pytest.mark.parametrize(
    "path, params, status, error",
    [
        ("/v1/items/search", {}, 422, "validation_failed"),
        ("/v1/items/search", {"q": ""}, 422, "validation_failed"),
        ("/v1/items/search", {"q": "   "}, 422, "validation_failed"),  # empty = not given, q is required
        ("/v1/items/search", {"q": "？！"}, 400, "invalid_query"),
        ("/v1/items/search", {"q": "证" * 51}, 422, "validation_failed"),
        ("/v1/items/search", {"q": "证", "page": 0}, 422, "validation_failed"),
        ("/v1/items/search", {"q": "证", "page": "abc"}, 422, "validation_failed"),
        ("/v1/items/search", {"q": "证", "region": "99"}, 422, "validation_failed"),
        ("/v1/items/search", {"q": "证", "region": "159999"}, 400, "unknown_region"),
        ("/v1/items/search", {"q": "证", "department": "不存在的厅"}, 400, "unknown_department"),
        ("/v1/items/B9999", {}, 404, "item_not_found"),
        ("/v1/themes/T99", {}, 404, "theme_not_found"),
    ],
)
def test_bad_input_gets_a_clear_4xx(client, path, params, status, error):
    response = client.get(path, query_string=params)
    assert response.status_code == status, response.json
    assert response.json["error"] == error
    assert response.json["message"]
