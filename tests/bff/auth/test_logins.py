"""Each channel's login over HTTP, with the upstream codes coming from the live sandbox."""
from __future__ import annotations

import pytest

from bff import create_app
from tests.bff.auth.conftest import Citizen, assert_envelope, claims_of


def _assert_token_pair(body, *, channel_aud: str, bindings: list[str]) -> None:
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["refresh_token"].startswith("rt1.")
    account = body["account"]
    assert account["id"].startswith("acc_") and account["type"] == "person"
    assert account["realname_level"] == 2
    assert sorted(account["bindings"]) == sorted(bindings)
    claims = claims_of(body["access_token"])
    assert claims["aud"] == channel_aud and claims["sub"] == account["id"]


def test_wechat_login_opens_an_account_and_the_same_user_gets_it_again(citizen, drive):
    user = drive.wechat_user()
    response = citizen.post("/v1/auth/wechat/login", {"code": drive.wechat_login_code(user["user_id"])})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    first = response.get_json()
    _assert_token_pair(first, channel_aud="msb-wechat", bindings=["wechat"])
    again = citizen.wechat_login(user["user_id"])
    assert again["account"]["id"] == first["account"]["id"]
    assert again["refresh_token"] != first["refresh_token"]
    me = citizen.me(again["access_token"])
    assert me["id"] == first["account"]["id"]


def test_alipay_login(citizen, drive):
    user = drive.alipay_user()
    body = citizen.alipay_login(user["user_id"])
    _assert_token_pair(body, channel_aud="msb-alipay", bindings=["alipay"])
    assert citizen.alipay_login(user["user_id"])["account"]["id"] == body["account"]["id"]


def test_app_sms_login_reads_the_code_from_the_sms_outbox(citizen, drive):
    sent = citizen.post("/v1/auth/sms/send", {"phone": "138 0047 1002"})
    assert sent.status_code == 200 and sent.headers["Cache-Control"] == "no-store"
    assert sent.get_json() == {"expires_in": 300, "resend_after": 60}
    code = drive.sms_code("13800471002")
    body = citizen.ok(citizen.post("/v1/auth/app/login", {"phone": "+8613800471002", "sms_code": code}))
    _assert_token_pair(body, channel_aud="msb-app", bindings=["phone"])
    assert citizen.me(body["access_token"])["phones_masked"] == ["138****1002"]
    # single use
    reused = citizen.post("/v1/auth/app/login", {"phone": "13800471002", "sms_code": code})
    assert_envelope(reused, 401)


def test_wrong_sms_code_counts_down_and_resend_is_throttled(citizen, drive):
    citizen.ok(citizen.post("/v1/auth/sms/send", {"phone": "13800471003"}))
    code = drive.sms_code("13800471003")
    wrong = "000000" if code != "000000" else "111111"
    body = assert_envelope(citizen.post("/v1/auth/app/login", {"phone": "13800471003", "sms_code": wrong}), 401, "sms_code_invalid")
    assert body["errors"]["attempts_left"] == 4
    again = citizen.post("/v1/auth/sms/send", {"phone": "13800471003"})
    assert_envelope(again, 429, "rate_limited")
    assert int(again.headers["Retry-After"]) > 0


def test_wrong_sms_codes_burn_the_code_not_the_phone(citizen, drive):
    citizen.ok(citizen.post("/v1/auth/sms/send", {"phone": "13800471004"}))
    code = drive.sms_code("13800471004")
    wrong = "000000" if code != "000000" else "111111"
    statuses = [
        citizen.post("/v1/auth/app/login", {"phone": "13800471004", "sms_code": wrong}).get_json()["error"]
        for _ in range(5)
    ]
    assert statuses[:4] == ["sms_code_invalid"] * 4 and statuses[4] == "sms_code_exhausted"
    burnt = citizen.post("/v1/auth/app/login", {"phone": "13800471004", "sms_code": code})
    assert_envelope(burnt, 401, "sms_code_expired")  # the code is gone; the phone is not locked


@pytest.mark.parametrize(
    "path, field",
    [("/v1/auth/wechat/login", "code"), ("/v1/auth/alipay/login", "auth_code")],
)
def test_unknown_code_is_401_code_invalid(citizen, path, field):
    response = citizen.post(path, {field: "A" * 32})
    body = assert_envelope(response, 401, "code_invalid")
    assert response.headers["Cache-Control"] == "no-store"
    assert body["message"]


def test_used_wechat_code_is_401_code_used(citizen, drive):
    user = drive.wechat_user()
    code = drive.wechat_login_code(user["user_id"])
    citizen.ok(citizen.post("/v1/auth/wechat/login", {"code": code}))
    assert_envelope(citizen.post("/v1/auth/wechat/login", {"code": code}), 401, "code_used")


def test_expired_wechat_code_is_refused(citizen, drive):
    user = drive.wechat_user()
    code = drive.wechat_login_code(user["user_id"])
    drive.advance_clock(301)
    assert_envelope(citizen.post("/v1/auth/wechat/login", {"code": code}), 401, "code_invalid")


def test_risky_wechat_user_is_403_upstream_rejected(citizen, drive):
    user = drive.wechat_user(risky=True)
    code = drive.wechat_login_code(user["user_id"])
    assert_envelope(citizen.post("/v1/auth/wechat/login", {"code": code}), 403, "upstream_rejected")


def test_same_unionid_on_two_wechat_apps_is_one_account(settings, redis_client, drive):
    """The mini-program and a second app on the same Open Platform account (e.g. the 公众号)."""
    drive.call("PUT", "/wechat/apps/wx_second_app", {"secret": "wx_second_secret", "open_platform_bound": True})
    user = drive.wechat_user(unionid=True)
    first = Citizen(create_app(settings).test_client(), drive)
    second_settings = settings.with_changes(wechat_appid="wx_second_app", wechat_secret="wx_second_secret")
    second = Citizen(create_app(second_settings).test_client(), drive)
    code = drive.wechat_login_code(user["user_id"], appid="wx_sandbox_app")
    a = first.ok(first.post("/v1/auth/wechat/login", {"code": code}))
    code = drive.wechat_login_code(user["user_id"], appid="wx_second_app")
    b = second.ok(second.post("/v1/auth/wechat/login", {"code": code}))
    assert a["account"]["id"] == b["account"]["id"]
    # the first app verifies the second app's token: one key set in the shared Redis
    assert first.me(b["access_token"])["id"] == a["account"]["id"]


def test_login_limit_per_ip_is_keyed_on_the_proxied_client_address(settings, redis_client, drive):
    """Behind one trusted proxy hop each client's own address counts, not the proxy's."""
    proxied = create_app(settings.with_changes(trusted_proxy_hops=1)).test_client()
    for i in range(21):
        response = proxied.post("/v1/auth/wechat/login", json={"code": "B" * 32}, headers={"X-Forwarded-For": "203.0.113.7"})
    assert_envelope(response, 429, "rate_limited")
    other = proxied.post("/v1/auth/wechat/login", json={"code": "B" * 32}, headers={"X-Forwarded-For": "203.0.113.8"})
    assert_envelope(other, 401, "code_invalid")


def test_a_client_cannot_pick_its_address_without_a_trusted_proxy(client):
    for i in range(21):
        response = client.post("/v1/auth/wechat/login", json={"code": "C" * 32}, headers={"X-Forwarded-For": f"198.51.100.{i}"})
    assert_envelope(response, 429, "rate_limited")
