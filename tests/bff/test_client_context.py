"""Client context: channel, mode and language from headers (and preferences: tests/bff/home)."""
from __future__ import annotations

import pytest

from bff.client_context import ClientContext, negotiate_language


@pytest.mark.parametrize("header,expected", [
    ("mn", "mn"), ("mn-Mong", "mn"), ("mn-CN", "mn"), ("MN-mong", "mn"),
    ("zh-CN", "zh"), ("zh-Hans-CN", "zh"), ("*", "zh"),
    ("zh-CN,mn;q=0.9", "zh"), ("mn;q=0.5, zh;q=0.8", "zh"), ("zh;q=0.5, mn-Mong;q=0.9", "mn"),
    ("en-US, mn;q=0.3", "mn"), ("mn, zh", "mn"),
    ("en", None), ("", None), (None, None), ("mn;q=0", None), ("§§§", None), ("mn;q=abc, zh;q=2", None),
])
def test_accept_language_negotiation(header, expected):
    assert negotiate_language(header) == expected


def test_variant_defaults_the_dimensions_an_answer_does_not_depend_on():
    context = ClientContext(channel="wechat", mode="elder", language="mn")
    assert context.variant().channel == "wechat"
    assert context.variant(("mode", "language")) == context.variant(("mode", "language", "x"))
    assert context.variant(("language",)).mode == "standard"
    assert context.variant(()).channel == "app"


@pytest.mark.parametrize("path", ["/v1/home", "/v1/items/search?q=社保", "/v1/items/hot", "/v1/themes"])
@pytest.mark.parametrize("header,value,error", [
    ("X-Client-Channel", "douyin", "invalid_client_channel"),
    ("X-Client-Mode", "senior", "invalid_client_mode"),
])
def test_bad_client_headers_are_400_in_the_envelope(client, path, header, value, error):
    response = client.get(path, headers={header: value})
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "error", "errors"}
    assert body["error"] == error and header in body["errors"]


def test_header_values_are_case_insensitive_and_blank_means_default(client):
    body = client.get("/v1/home", headers={"X-Client-Channel": " WeChat ", "X-Client-Mode": "ELDER"}).get_json()
    assert (body["channel"], body["mode"]) == ("wechat", "elder")
    body = client.get("/v1/home", headers={"X-Client-Channel": "", "Accept-Language": "fr"}).get_json()
    assert (body["channel"], body["language"]) == ("app", "zh")


def test_channel_reaches_the_access_log(client, caplog):
    caplog.set_level("INFO", logger="msb.request")
    client.get("/v1/home", headers={"X-Client-Channel": "alipay"})
    assert [r.fields["channel"] for r in caplog.records if r.name == "msb.request"] == ["alipay"]
