"""GET /v1/home: one request per channel, elder mode, Mongolian, shared vs personal parts."""
from __future__ import annotations

import itertools
import json

import pytest

from accessibility import find_marketing
from bff.caching.response_entries import decode as _decode
from tests.bff.home.conftest import ARABIC_DIGIT, bearer, gzip_size, walk

REGION = "150102"  # 新城区, 呼和浩特市
CHANNELS = ("app", "wechat", "alipay")
MODES = ("standard", "elder")
LANGUAGES = (("zh", "zh-CN"), ("mn", "mn-Mong"))


def home(client, *, region=REGION, channel=None, mode=None, language=None, token=None, **headers):
    if channel:
        headers["X-Client-Channel"] = channel
    if mode:
        headers["X-Client-Mode"] = mode
    if language:
        headers["Accept-Language"] = language
    if token:
        headers.update(bearer(token))
    query = f"?region={region}" if region else ""
    return client.get(f"/v1/home{query}", headers=headers)


def test_anonymous_home_has_every_section_and_is_public(client):
    response = home(client)
    assert response.status_code == 200
    body = response.get_json()
    assert body["channel"] == "app" and body["mode"] == "standard" and body["language"] == "zh"
    assert body["region"] == {"code": REGION, "name": "新城区"}
    assert body["hot"] and body["themes"] and body["recommendations"]
    assert {r["reason"] for r in body["recommendations"]} == {"本地区热门"}
    assert not {r["basic_code"] for r in body["recommendations"]} & {h["basic_code"] for h in body["hot"]}
    assert body["notices"] == [] and body["personal"] is False and body["me"] is None and body["inbox"] is None
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert set(response.headers["Vary"].split(", ")) == {"X-Client-Channel", "X-Client-Mode", "Accept-Language", "Authorization"}
    assert response.headers["ETag"]
    assert response.headers["X-Cache"] == "miss"
    assert home(client).headers["X-Cache"] in ("local", "hit")


def test_links_and_fields_follow_the_channel(client):
    app_body = home(client, channel="app").get_json()
    wechat_body = home(client, channel="wechat").get_json()
    alipay_body = home(client, channel="alipay").get_json()
    first = app_body["hot"][0]
    assert first["link"] == f"msb://item/{first['basic_code']}?region={REGION}"
    assert {"department", "full_name", "online_depth"} <= set(first)
    assert app_body["themes"][0]["link"].startswith("msb://theme/")
    for body in (wechat_body, alipay_body):
        entry = body["hot"][0]
        assert set(entry) == {"basic_code", "name", "link"}
        assert entry["link"] == f"/pages/item/detail?code={entry['basic_code']}&region={REGION}"
        assert body["themes"][0]["link"].startswith("/pages/theme/detail?code=")
        assert len(body["hot"]) < len(app_body["hot"]) and len(body["themes"]) < len(app_body["themes"])
    assert wechat_body["channel"] == "wechat" and alipay_body["channel"] == "alipay"
    # Same service, same name on every channel (WCAG 3.2.4).
    names = {entry["basic_code"]: entry["name"] for entry in app_body["hot"]}
    assert all(names[e["basic_code"]] == e["name"] for e in wechat_body["hot"])


@pytest.mark.parametrize("channel,mode,language", list(itertools.product(CHANNELS, MODES, LANGUAGES)),
                         ids=lambda v: v if isinstance(v, str) else v[0])
def test_every_variant_fits_in_8_kb_gzipped(client, fake_push, channel, mode, language):
    response = home(client, channel=channel, mode=mode, language=language[1])
    assert response.status_code == 200
    body = response.get_json()
    assert (body["channel"], body["mode"], body["language"]) == (channel, mode, language[0])
    assert gzip_size(response.get_data()) <= 8 * 1024
    if channel != "app":  # mini-programs get a small payload
        assert len(response.get_data()) < len(home(client, channel="app", mode=mode, language=language[1]).get_data())


@pytest.mark.parametrize("channel", CHANNELS)
def test_elder_home_is_tiles_help_and_no_marketing(client, fake_push, channel):
    body = home(client, channel=channel, mode="elder").get_json()
    assert body["mode"] == "elder"
    assert 1 <= len(body["tiles"]) <= 8
    assert {"hot", "themes", "recommendations"}.isdisjoint(body)
    assert body["tiles"][0]["basic_code"] == "B0096"  # 养老金资格认证 first
    assert {"B0096", "B0255", "B0083", "B0174"} <= {t["basic_code"] for t in body["tiles"]}
    assert all(t.get("region_code", REGION) in (REGION, "150100", "150000") for t in body["tiles"])  # region-aware
    assert body["help"]["contacts"][0]["phone"] == "12345"
    assert body["presentation"]["max_tiles"] == 8 and body["presentation"]["no_popups"] is True
    assert find_marketing(body) == []
    assert [n["id"] for n in body["notices"]] == ["n1"]  # policy only, promoted and marketing dropped
    for spoken in walk(body, "speech_text"):
        assert spoken and not ARABIC_DIGIT.search(spoken), spoken
    prefix = "msb://item/" if channel == "app" else "/pages/item/detail?code="
    assert all(t["link"].startswith(prefix) for t in body["tiles"])


def test_standard_home_shows_policy_notices_only(client, fake_push):
    body = home(client, channel="wechat").get_json()
    assert [n["id"] for n in body["notices"]] == ["n1"]
    assert body["notices"][0]["link"] == "/pages/notice/detail?id=n1"
    assert find_marketing(body["notices"]) == []
    assert body["recommendations"][0] == {"basic_code": "B0174", "name": "老年人优待证办理", "reason": "新城区居民近期常办",
                                          "reason_code": "popular_region",
                                          "link": f"/pages/item/detail?code=B0174&region={REGION}"}
    # Topped up with regional popularity, never repeating the hot list.
    assert len(body["recommendations"]) == 4
    assert {r["reason"] for r in body["recommendations"][1:]} == {"本地区热门"}
    assert not {r["basic_code"] for r in body["recommendations"]} & {h["basic_code"] for h in body["hot"]}


def test_mongolian_home_tags_every_localized_string(client):
    body = home(client, region="150000", language="mn-Mong, zh-CN;q=0.5").get_json()
    assert body["language"] == "mn" and body["lang"] == "mn-Mong"
    local = body["region"]["name_local"]
    assert local["lang"] == "mn-Mong" and local["fallback"] is False and "\u1800" <= local["text"][0] <= "\u18af"
    assert body["region"]["name"] == "内蒙古自治区"  # Chinese stays beside it
    item = body["hot"][0]["name_local"]
    assert item["lang"] == "zh-Hans" and item["fallback"] is True  # no Mongolian item names: marked fallback
    chinese = home(client, region="150000", language="zh-CN").get_json()
    assert "name_local" not in chinese["region"] and "name_local" not in chinese["hot"][0]


def test_signed_in_home_adds_the_personal_part_privately(client, citizen, fake_push, redis_client):
    token = citizen.sms_login("13700471031")["access_token"]
    anonymous = home(client, channel="app")
    response = home(client, token=token)
    assert response.status_code == 200
    body = response.get_json()
    assert body["personal"] is True and body["channel"] == "app"
    assert body["me"]["realname_level"] >= 1 and body["me"]["bindings_count"] >= 1
    assert body["inbox"] == {"unread": 3}
    assert body["recommendations"][0]["reason"] == "您已年满80周岁，可申领高龄津贴"
    assert response.headers["Cache-Control"].startswith("private")
    assert "Authorization" in response.headers["Vary"]
    assert response.headers["X-Cache"] in ("local", "hit")  # the shared part came from the cache
    # The shared entries hold nothing personal, and the anonymous answer is unchanged.
    keys = list(redis_client.scan_iter("bff:c:v*:home:*"))
    assert keys
    for key in keys:
        entry = _decode(_raw(redis_client, key))
        assert entry is not None
        stored = json.loads(entry.body)
        assert stored["personal"] is False and stored["me"] is None and stored["inbox"] is None
    assert home(client, channel="app").get_data() == anonymous.get_data()
    # 304 works for the private answer too.
    again = home(client, token=token, **{"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.headers["Cache-Control"].startswith("private")


def _raw(redis_client, key):
    from kernel.redis import with_bytes_responses

    raw_client = with_bytes_responses(redis_client)  # the same server (or cluster), answering bytes
    try:
        return raw_client.get(key)
    finally:
        raw_client.close()


def test_preferences_fill_in_what_the_headers_leave_open(client, citizen):
    token = citizen.sms_login("13700471032")["access_token"]
    put = client.put("/v1/me/preferences", json={"mode": "elder", "language": "mn", "home_region": "150203"},
                     headers=bearer(token))
    assert put.status_code == 200
    body = home(client, region=None, token=token).get_json()
    assert (body["mode"], body["language"], body["region"]["code"]) == ("elder", "mn", "150203")
    assert set(body["me"]) == {"name_masked", "realname_level", "realname_level_name"}  # minimum in elder mode
    # X-Client-Mode (set by the app) wins over the preference; the chosen language wins over the
    # phone's automatic Accept-Language; the token's audience wins over X-Client-Channel.
    body = home(client, region=None, token=token, mode="standard", language="zh-CN", channel="wechat").get_json()
    assert (body["mode"], body["language"], body["channel"]) == ("standard", "mn", "app")


def test_bad_token_is_401_and_bad_headers_400(client):
    assert home(client, token="not-a-token").status_code == 401
    for header, value, error in (("X-Client-Channel", "qq", "invalid_client_channel"),
                                 ("X-Client-Mode", "big", "invalid_client_mode")):
        response = client.get("/v1/home", headers={header: value})
        assert response.status_code == 400
        assert response.get_json()["error"] == error


def test_unknown_region_is_a_client_error(client):
    assert home(client, region="159999").status_code == 422
    assert home(client, region="abc").status_code == 422


def test_push_sources_adapter_and_null_sources(app):
    from bff.home.sources import NullSources, PushSources
    from tests.bff.home.conftest import FakePush

    null = NullSources(app.extensions["services"].catalogue.get)
    assert null.notices(region=REGION, limit=3) == [] and null.unread_count("acc") == 0
    assert null.recommendations(region=REGION, limit=2, account_id="acc") is None
    assert [r["reason"] for r in null.recommendations(region=REGION, limit=2)] == ["本地区热门"] * 2
    fake = FakePush()
    push = PushSources(fake)
    assert [n["id"] for n in push.notices(region=REGION, limit=5)] == ["n1", "n3"]  # category filter here
    assert push.unread_count("acc") == 3
    fake.personal = []
    assert push.recommendations(region=REGION, limit=3, account_id="acc") is None


def test_push_sources_accept_a_lazy_getter():
    from bff.home.sources import PushSources
    from tests.bff.home.conftest import FakePush

    fake = FakePush()
    assert PushSources(lambda: fake).unread_count("acc") == 3
