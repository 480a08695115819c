"""Elder (长辈版) and Mongolian variants of the catalogue endpoints over HTTP."""
from __future__ import annotations

import re

from accessibility import find_marketing

ELDER = {"X-Client-Mode": "elder"}
DIGIT = re.compile(r"[0-9]")


def _speech(payload):
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "speech_text":
                yield value
            yield from _speech(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from _speech(value)


def test_elder_search_is_short_plain_and_spoken(client):
    standard = client.get("/v1/items/search?q=养老金&region=150102").get_json()
    response = client.get("/v1/items/search?q=养老金&region=150102", headers=ELDER)
    assert response.status_code == 200
    body = response.get_json()
    assert body["mode"] == "elder" and "facets" not in body
    assert 1 <= body["shown"] == len(body["items"]) <= 5
    assert body["total"] == standard["total"] and body["has_more"] == (standard["total"] > 5)
    # The standard answer's items (elder needs ranked first), plain names, no <em> markup.
    everything = client.get("/v1/items/search?q=养老金&region=150102&page_size=50").get_json()
    assert {i["basic_code"] for i in body["items"]} <= {i["basic_code"] for i in everything["items"]}
    assert all("<" not in item["title"] for item in body["items"])
    assert body["help"]["contacts"][0]["phone"] == "12345"
    assert find_marketing(body) == []
    for spoken in _speech(body):
        assert spoken and not DIGIT.search(spoken), spoken


def test_elder_search_pages_and_empty_results(client):
    page2 = client.get("/v1/items/search?q=养老金&page=2", headers=ELDER).get_json()
    assert page2["shown"] <= 5 and page2["has_more"] == (2 * 5 < page2["total"])
    none = client.get("/v1/items/search?q=zzzzqqqq", headers=ELDER).get_json()
    assert none["items"] == [] and none["speech_text"] and not DIGIT.search(none["speech_text"])


def test_elder_item_detail_is_a_checklist_with_help(client):
    response = client.get("/v1/items/B0083?region=150102", headers=ELDER)
    assert response.status_code == 200
    body = response.get_json()
    assert body["mode"] == "elder" and body["basic_code"] == "B0083"
    assert [entry["index"] for entry in body["checklist"]] == list(range(1, len(body["checklist"]) + 1))
    assert body["checklist"][0]["text"] == "身份证" and body["checklist"][0]["official"] == "居民身份证"
    assert [c["kind"] for c in body["help"]["contacts"]] == ["hotline", "department"]  # 12345 first
    assert body["call"]["tel"].startswith("tel:")
    assert find_marketing(body) == []
    for spoken in _speech(body):
        assert not DIGIT.search(spoken), spoken
    standard = client.get("/v1/items/B0083?region=150102").get_json()
    assert "mode" not in standard and standard["materials"]


def test_mongolian_names_are_tagged_and_fallbacks_marked(client):
    response = client.get("/v1/items/hot?region=150100&limit=3", headers={"Accept-Language": "mn"})
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "mn-Mong, zh-Hans"
    body = response.get_json()
    assert body["region_name_local"]["lang"] == "mn-Mong" and body["region_name_local"]["fallback"] is False
    for item in body["items"]:
        assert item["name_local"] == {"text": item["name"], "lang": "zh-Hans", "fallback": True}
        local = item["region_name_local"]
        assert local["fallback"] is (local["lang"] == "zh-Hans")
    chinese = client.get("/v1/items/hot?region=150100&limit=3", headers={"Accept-Language": "zh-CN"})
    assert chinese.headers["Content-Language"] == "zh-Hans"
    assert "region_name_local" not in chinese.get_json()


def test_mongolian_elder_detail_and_theme(client):
    detail = client.get("/v1/items/B0083?region=150100", headers={**ELDER, "Accept-Language": "mn-Mong"}).get_json()
    assert detail["mode"] == "elder" and detail["name_local"]["fallback"] is True
    theme = client.get("/v1/themes/T22?region=150100", headers={"Accept-Language": "mn"}).get_json()
    assert theme["region_name_local"]["lang"] == "mn-Mong"
    assert all(item["name_local"]["lang"] == "zh-Hans" for item in theme["items"])
