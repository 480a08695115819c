from __future__ import annotations

import base64
import re
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient

RID_SUFFIX = re.compile(r" rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$")


def make_user(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/_drive/wechat/users", json=fields)
    assert response.status_code == 201
    return response.json


def login_code(client: FlaskClient, user: dict[str, Any]) -> str:
    return client.post("/_drive/wechat/login-code", json={"user_id": user["user_id"]}).json["code"]


def code2session(client: FlaskClient, known: SimpleNamespace, code: str, **overrides: str) -> dict[str, Any]:
    params = {"appid": known.wechat_appid, "secret": known.wechat_secret, "js_code": code, "grant_type": "authorization_code"}
    params.update(overrides)
    response = client.get("/sns/jscode2session", query_string=params)
    assert response.status_code == 200  # WeChat answers errors with HTTP 200 too
    return response.json


def stable_token(client: FlaskClient, known: SimpleNamespace, force: bool = False) -> dict[str, Any]:
    body = {"grant_type": "client_credential", "appid": known.wechat_appid, "secret": known.wechat_secret, "force_refresh": force}
    return client.post("/cgi-bin/stable_token", json=body).json


def phone_number(client: FlaskClient, token: str, code: str) -> dict[str, Any]:
    return client.post(f"/wxa/business/getuserphonenumber?access_token={token}", json={"code": code}).json


def assert_errcode(body: dict[str, Any], errcode: int) -> None:
    assert body["errcode"] == errcode, body
    assert RID_SUFFIX.search(body["errmsg"]), body["errmsg"]


# ---- code2Session ----


def test_code2session_returns_openid_session_key_and_unionid(client: FlaskClient, known: SimpleNamespace) -> None:
    user = make_user(client)
    body = code2session(client, known, login_code(client, user))
    assert "errcode" not in body  # successes carry no errcode
    assert body["openid"] == user["openids"][known.wechat_appid]
    assert body["unionid"] == user["unionid"]
    assert len(base64.b64decode(body["session_key"])) == 16


def test_no_unionid_when_user_has_none_or_app_not_bound(client: FlaskClient, known: SimpleNamespace, make_app) -> None:
    assert "unionid" not in code2session(client, known, login_code(client, make_user(client, unionid=False)))

    unbound = make_app(wechat_apps={known.wechat_appid: {"secret": known.wechat_secret, "open_platform_bound": False}})
    unbound_client = unbound.test_client()
    assert "unionid" not in code2session(unbound_client, known, login_code(unbound_client, make_user(unbound_client)))


def test_new_login_replaces_session_key(client: FlaskClient, known: SimpleNamespace) -> None:
    user = make_user(client)
    first = code2session(client, known, login_code(client, user))["session_key"]
    second = code2session(client, known, login_code(client, user))["session_key"]
    assert first != second


def test_login_code_is_single_use(client: FlaskClient, known: SimpleNamespace) -> None:
    code = login_code(client, make_user(client))
    code2session(client, known, code)
    assert_errcode(code2session(client, known, code), 40163)


def test_login_code_expires_after_five_minutes(client: FlaskClient, known: SimpleNamespace) -> None:
    user = make_user(client)
    fresh, stale = login_code(client, user), login_code(client, user)
    client.post("/_drive/clock", json={"advance_seconds": 299})
    assert "openid" in code2session(client, known, fresh)
    client.post("/_drive/clock", json={"advance_seconds": 1})
    assert_errcode(code2session(client, known, stale), 40029)


@pytest.mark.parametrize(
    ("overrides", "errcode"),
    [
        ({"js_code": "not-a-code"}, 40029),
        ({"appid": "wx_unknown"}, 40013),
        ({"secret": "wrong"}, 40125),
        ({"grant_type": "client_credential"}, 40002),
        ({"js_code": ""}, 41008),
    ],
)
def test_code2session_errors(client: FlaskClient, known: SimpleNamespace, overrides: dict[str, str], errcode: int) -> None:
    code = login_code(client, make_user(client))
    assert_errcode(code2session(client, known, code, **overrides), errcode)


def test_phone_code_is_not_a_login_code(client: FlaskClient, known: SimpleNamespace) -> None:
    user = make_user(client, phone="13912345678")
    phone_code = client.post("/_drive/wechat/phone-code", json={"user_id": user["user_id"]}).json["code"]
    assert_errcode(code2session(client, known, phone_code), 40029)


def test_risky_user_is_blocked(client: FlaskClient, known: SimpleNamespace) -> None:
    user = make_user(client, risky=True)
    assert_errcode(code2session(client, known, login_code(client, user)), 40226)
    client.patch(f"/_drive/wechat/users/{user['user_id']}", json={"risky": False})
    assert "openid" in code2session(client, known, login_code(client, user))


def test_rate_limit_flag_and_per_user_minute_quota(client: FlaskClient, known: SimpleNamespace, make_app) -> None:
    user = make_user(client)
    client.patch(f"/_drive/wechat/users/{user['user_id']}", json={"rate_limited": True})
    code = login_code(client, user)
    assert_errcode(code2session(client, known, code), 45011)
    client.patch(f"/_drive/wechat/users/{user['user_id']}", json={"rate_limited": False})
    assert "openid" in code2session(client, known, code)  # a refused call leaves the code usable

    tight = make_app(wechat_user_minute_quota=2).test_client()
    user = make_user(tight)
    for _ in range(2):
        assert "openid" in code2session(tight, known, login_code(tight, user))
    assert_errcode(code2session(tight, known, login_code(tight, user)), 45011)
    tight.post("/_drive/clock", json={"advance_seconds": 61})
    assert "openid" in code2session(tight, known, login_code(tight, user))


def test_login_code_by_openid(client: FlaskClient, known: SimpleNamespace) -> None:
    user = make_user(client)
    openid = user["openids"][known.wechat_appid]
    code = client.post("/_drive/wechat/login-code", json={"openid": openid}).json["code"]
    assert code2session(client, known, code)["openid"] == openid


# ---- stable_token ----


def test_stable_token_normal_mode_returns_same_token(client: FlaskClient, known: SimpleNamespace, clock) -> None:
    first = stable_token(client, known)
    assert first["expires_in"] == 7200 and len(first["access_token"]) >= 100
    clock.now += 1000
    second = stable_token(client, known)
    assert second["access_token"] == first["access_token"]
    assert second["expires_in"] == 6200


def test_stable_token_renews_five_minutes_early_with_overlap(client: FlaskClient, known: SimpleNamespace, clock) -> None:
    old = stable_token(client, known)["access_token"]
    clock.now += 7200 - 299  # inside the last 5 minutes
    renewed = stable_token(client, known)
    assert renewed["access_token"] != old and renewed["expires_in"] == 7200
    phone_code = _phone_code(client)
    assert phone_number(client, old, phone_code)["errcode"] == 0  # old still valid until its natural expiry
    clock.now += 299
    assert_errcode(phone_number(client, old, _phone_code(client)), 42001)
    assert phone_number(client, renewed["access_token"], _phone_code(client))["errcode"] == 0


def test_force_refresh_invalidates_previous_and_is_rate_limited(client: FlaskClient, known: SimpleNamespace, clock) -> None:
    old = stable_token(client, known)["access_token"]
    forced = stable_token(client, known, force=True)["access_token"]
    assert forced != old
    assert_errcode(phone_number(client, old, _phone_code(client)), 40001)
    # Within 30 s of the last forced refresh nothing is refreshed.
    clock.now += 10
    assert stable_token(client, known, force=True)["access_token"] == forced
    for _ in range(19):
        clock.now += 31
        stable_token(client, known, force=True)
    clock.now += 31
    assert_errcode(stable_token(client, known, force=True), 45009)
    clock.now += 86_400  # quota resets the next (Beijing) day
    assert "access_token" in stable_token(client, known, force=True)


def test_force_refresh_grace_is_configurable(make_app, known: SimpleNamespace, clock) -> None:
    client = make_app(wechat_stable_force_refresh_grace_seconds=300).test_client()
    old = stable_token(client, known)["access_token"]
    stable_token(client, known, force=True)
    assert phone_number(client, old, _phone_code(client))["errcode"] == 0
    clock.now += 300
    assert_errcode(phone_number(client, old, _phone_code(client)), 40001)


def test_stable_token_errors(client: FlaskClient, known: SimpleNamespace) -> None:
    assert_errcode(client.post("/cgi-bin/stable_token", data="grant_type=client_credential").json, 47001)
    body = {"grant_type": "client_credential", "appid": known.wechat_appid, "secret": "wrong"}
    assert_errcode(client.post("/cgi-bin/stable_token", json=body).json, 40125)
    assert_errcode(client.post("/cgi-bin/stable_token", json={**body, "appid": "wx_nope"}).json, 40013)
    assert_errcode(client.post("/cgi-bin/stable_token", json={**body, "grant_type": "password"}).json, 40002)


def test_token_endpoint_calls_are_counted(client: FlaskClient, known: SimpleNamespace) -> None:
    for _ in range(3):
        stable_token(client, known)
    counters = client.get("/_drive/counters").json["counters"]
    assert counters["wechat.stable_token"] == 3
    assert counters["wechat.access_tokens_issued"] == 1
    client.delete("/_drive/counters")
    assert client.get("/_drive/counters").json["counters"] == {}


# ---- classic token ----


def test_classic_token_each_call_supersedes_previous_after_overlap(client: FlaskClient, known: SimpleNamespace, clock) -> None:
    params = {"grant_type": "client_credential", "appid": known.wechat_appid, "secret": known.wechat_secret}
    first = client.get("/cgi-bin/token", query_string=params).json
    second = client.get("/cgi-bin/token", query_string=params).json
    assert first["access_token"] != second["access_token"] and second["expires_in"] == 7200
    assert phone_number(client, first["access_token"], _phone_code(client))["errcode"] == 0
    clock.now += 300
    assert_errcode(phone_number(client, first["access_token"], _phone_code(client)), 40001)
    assert phone_number(client, second["access_token"], _phone_code(client))["errcode"] == 0
    # The two families are isolated: a classic fetch does not touch the stable token.
    stable = stable_token(client, known)["access_token"]
    client.get("/cgi-bin/token", query_string=params)
    clock.now += 301
    assert phone_number(client, stable, _phone_code(client))["errcode"] == 0


def test_classic_token_wrong_secret_is_40001(client: FlaskClient, known: SimpleNamespace) -> None:
    params = {"grant_type": "client_credential", "appid": known.wechat_appid, "secret": "nope"}
    assert_errcode(client.get("/cgi-bin/token", query_string=params).json, 40001)


# ---- getuserphonenumber ----


def _phone_code(client: FlaskClient, phone: str = "13912345678", country_code: str = "86") -> str:
    user = make_user(client, phone=phone, country_code=country_code)
    return client.post("/_drive/wechat/phone-code", json={"user_id": user["user_id"]}).json["code"]


def test_getuserphonenumber_happy_path(client: FlaskClient, known: SimpleNamespace) -> None:
    token = stable_token(client, known)["access_token"]
    body = phone_number(client, token, _phone_code(client))
    assert body["errcode"] == 0 and body["errmsg"] == "ok"
    info = body["phone_info"]
    assert info["phoneNumber"] == info["purePhoneNumber"] == "13912345678"
    assert info["countryCode"] == "86"
    assert info["watermark"] == {"timestamp": int(known.start), "appid": known.wechat_appid}


def test_getuserphonenumber_non_mainland_number_carries_area_code(client: FlaskClient, known: SimpleNamespace) -> None:
    token = stable_token(client, known)["access_token"]
    info = phone_number(client, token, _phone_code(client, phone="61234567", country_code="852"))["phone_info"]
    assert info["phoneNumber"] == "+85261234567" and info["purePhoneNumber"] == "61234567"


def test_getuserphonenumber_errors(client: FlaskClient, known: SimpleNamespace, clock) -> None:
    token = stable_token(client, known)["access_token"]
    code = _phone_code(client)
    assert_errcode(phone_number(client, "bogus", code), 40001)
    phone_number(client, token, code)
    assert_errcode(phone_number(client, token, code), 40163)
    assert_errcode(phone_number(client, token, "bad-code"), 40029)
    login = login_code(client, make_user(client, phone="13900000000"))
    assert_errcode(phone_number(client, token, login), 40029)  # a wx.login code is not a phone code
    assert_errcode(client.post("/wxa/business/getuserphonenumber", json={"code": code}).json, 41001)
    stale = _phone_code(client)
    clock.now += 7200
    assert_errcode(phone_number(client, token, stale), 42001)
    fresh_token = stable_token(client, known)["access_token"]
    assert_errcode(phone_number(client, fresh_token, stale), 40029)  # the phone code expired too


def test_phone_code_needs_a_phone(client: FlaskClient) -> None:
    user = make_user(client)
    assert client.post("/_drive/wechat/phone-code", json={"user_id": user["user_id"]}).status_code == 400
