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
        ("/v1/items/search", {"q": "？！"}, 422, "invalid_query"),
        ("/v1/items/search", {"q": "证" * 51}, 422, "validation_failed"),
        ("/v1/items/search", {"q": "证", "page": 0}, 422, "validation_failed"),
        ("/v1/items/search", {"q": "证", "page": "abc"}, 422, "validation_failed"),
        ("/v1/items/search", {"q": "证", "region": "99"}, 422, "validation_failed"),
        ("/v1/items/search", {"q": "证", "region": "159999"}, 422, "unknown_region"),
        ("/v1/items/search", {"q": "证", "department": "不存在的厅"}, 422, "unknown_department"),
        ("/v1/items/B9999", {}, 404, "item_not_found"),
        ("/v1/themes/T99", {}, 404, "theme_not_found"),
    ],
)
def test_bad_input_gets_a_clear_4xx(client, path, params, status, error):
    response = client.get(path, query_string=params)
    assert response.status_code == status, response.json
    assert response.json["error"] == error
    assert response.json["message"]


# -- empty parameters, the answer when little matches, elder ranking (issue 12) ------------------


@pytest.mark.parametrize("path, params", [
    ("/v1/items/search", {"q": "身份证", "region": ""}),
    ("/v1/items/search", {"q": "身份证", "region": "", "department": " ", "theme": ""}),
    ("/v1/items/suggest", {"q": "shenfen", "region": ""}),
    ("/v1/items/hot", {"region": ""}),
    ("/v1/items/B0002", {"region": ""}),
    ("/v1/themes/T01", {"region": ""}),
])
def test_an_empty_parameter_means_not_given(client, path, params):
    empty = client.get(path, query_string=params)
    absent = client.get(path, query_string={k: v for k, v in params.items() if v.strip()})
    assert empty.status_code == absent.status_code == 200, empty.json
    assert empty.json == absent.json


def test_suggest_without_region_shows_no_local_wording(client):
    suggestions = client.get("/v1/items/suggest", query_string={"q": "农药"}).json["suggestions"]
    assert suggestions and suggestions[0]["basic_code"] == "B0356"
    assert all(s["text"] != "限制使用农药的定点经营许可证首次申请" for s in suggestions)
    assert suggestions[0]["text"] == "农药经营许可"


def test_suggest_on_pinyin_inside_names(client):
    found = client.get("/v1/items/suggest", query_string={"q": "weizhang"}).json["suggestions"]
    assert found[0]["basic_code"] == "B0067" and found[0]["kind"] in {"pinyin", "initials"}


def test_exact_answer_shape(client):
    result = search(client, q="居民身份证换领")
    assert result["match"] == "exact" and result["help"] is None and result["themes"] == []
    assert result["understood"] == "居民身份证换领" and result["did_you_mean"] is None


def test_typo_answer_names_the_correction(client):
    result = search(client, q="公基金提取")
    assert result["did_you_mean"] == "公积金提取" and result["items"]
    assert result["items"][0]["basic_code"] in {"B0295", "B0296", "B0297", "B0298", "B0299", "B0469"}


def test_zero_result_answer_shape(client):
    """A filter that excludes every match: the closest items without it, themes and 12345."""
    result = search(client, q="结婚登记", department="税务局")
    assert result["match"] == "closest" and codes(result)[0] == "B0070"
    assert result["help"]["phone"] == "12345" and result["help"]["tel"] == "tel:12345" and result["help"]["text"]
    assert {"code": "T20", "name": "结婚一件事"} in result["themes"]
    nothing = search(client, q="zzzzqqqq")
    assert nothing["match"] == "none" and nothing["items"] == [] and nothing["help"]["phone"] == "12345"


def test_question_words_are_not_what_ranks(client):
    assert codes(search(client, q="护照过期了怎么办"))[0] == "B0033"
    assert codes(search(client, q="怎么办"))[0] == "B0416"


def test_elder_mode_boosts_what_elderly_people_need(client):
    from catalog.model import ReferenceData
    ref = ReferenceData.load()
    standard = codes(search(client, q="补贴", page_size=20))
    response = client.get("/v1/items/search", query_string={"q": "补贴"}, headers={"X-Client-Mode": "elder"})
    assert response.status_code == 200
    elder = [item["basic_code"] for item in response.json["items"]]
    assert elder and all(ref.item(code).elder_relevant for code in elder[:3])
    # 育儿补贴 leads the standard answer, not the one for a 70-year-old
    assert standard[0] == "B0170" and "B0170" not in elder[:3]
    assert response.json["match"] == "exact" and "did_you_mean" in response.json


def test_search_response_is_declared_in_openapi(client):
    spec = client.get("/openapi.json").json
    schema = spec["components"]["schemas"]["SearchResult"]["properties"]
    assert {"understood", "match", "did_you_mean", "themes", "help"} <= set(schema)
