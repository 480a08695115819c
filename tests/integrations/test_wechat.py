"""WeChatClient against the live sandbox: login codes and the phone-number button."""
from __future__ import annotations

import pytest

from integrations.errors import CodeInvalid, CodeUsed, RateLimited, UpstreamRejected, UpstreamUnavailable
from integrations.gateways import Gateways
from integrations.wechat import WeChatClient
from tests.integrations.conftest import WECHAT_APPID, Drive, counter


def test_login_returns_openid_unionid_and_session_key(gateways: Gateways, drive: Drive) -> None:
    user = drive.wechat_user(unionid=True)

    session = gateways.wechat.code_to_session(drive.wechat_login_code(user["user_id"]))

    assert session.openid == user["openids"][WECHAT_APPID]
    assert session.unionid == user["unionid"]
    assert len(session.session_key) == 24  # base64 of 16 bytes
    assert session.session_key not in repr(session)


def test_login_without_unionid(gateways: Gateways, drive: Drive) -> None:
    user = drive.wechat_user(unionid=False)

    session = gateways.wechat.code_to_session(drive.wechat_login_code(user["user_id"]))

    assert session.openid == user["openids"][WECHAT_APPID]
    assert session.unionid is None


def test_used_code_is_code_used(gateways: Gateways, drive: Drive) -> None:
    code = drive.wechat_login_code(drive.wechat_user()["user_id"])
    gateways.wechat.code_to_session(code)

    with pytest.raises(CodeUsed):
        gateways.wechat.code_to_session(code)


def test_unknown_empty_and_expired_codes_are_code_invalid(gateways: Gateways, drive: Drive) -> None:
    with pytest.raises(CodeInvalid):
        gateways.wechat.code_to_session("0a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P")
    with pytest.raises(CodeInvalid):
        gateways.wechat.code_to_session("")

    code = drive.wechat_login_code(drive.wechat_user()["user_id"])
    drive.advance_clock(301)
    with pytest.raises(CodeInvalid):  # WeChat answers an expired code with 40029 as well
        gateways.wechat.code_to_session(code)


def test_risky_user_is_rejected(gateways: Gateways, drive: Drive) -> None:
    code = drive.wechat_login_code(drive.wechat_user(risky=True)["user_id"])

    with pytest.raises(UpstreamRejected) as raised:
        gateways.wechat.code_to_session(code)
    assert raised.value.details == {"upstream": "wechat", "upstream_code": "40226"}


def test_rate_limited_user_gets_retry_after(gateways: Gateways, drive: Drive) -> None:
    user = drive.wechat_user()
    drive.call("PATCH", f"/wechat/users/{user['user_id']}", {"rate_limited": True})
    code = drive.wechat_login_code(user["user_id"])

    with pytest.raises(RateLimited) as raised:
        gateways.wechat.code_to_session(code)
    assert raised.value.retry_after == 60

    # A refused call leaves the code usable.
    drive.call("PATCH", f"/wechat/users/{user['user_id']}", {"rate_limited": False})
    assert gateways.wechat.code_to_session(code).openid == user["openids"][WECHAT_APPID]


def test_system_busy_is_unavailable(gateways: Gateways, drive: Drive) -> None:
    drive.fault("wechat.jscode2session", error={"errcode": -1})

    with pytest.raises(UpstreamUnavailable):
        gateways.wechat.code_to_session("whatever")


def test_wrong_secret_is_unavailable_and_logged_loudly(gateways: Gateways, drive: Drive, caplog) -> None:
    holder = gateways.wechat_token_holder
    client = WeChatClient(f"{drive.base_url}", WECHAT_APPID, "not-the-secret", holder, timeout=2)
    code = drive.wechat_login_code(drive.wechat_user()["user_id"])

    with pytest.raises(UpstreamUnavailable):
        client.code_to_session(code)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors and errors[-1].fields["upstream_code"] == "40125"


def test_phone_number_from_the_phone_button(gateways: Gateways, drive: Drive) -> None:
    user = drive.wechat_user(phone="13800471001")

    assert gateways.wechat.phone_number(drive.wechat_phone_code(user["user_id"])) == "13800471001"
    assert counter(drive.counters(), "wechat.access_tokens_issued") == 1


def test_phone_number_outside_the_mainland_keeps_its_country_code(gateways: Gateways, drive: Drive) -> None:
    user = drive.wechat_user(phone="61234567", country_code="852")

    assert gateways.wechat.phone_number(drive.wechat_phone_code(user["user_id"])) == "+85261234567"


def test_phone_number_code_errors(gateways: Gateways, drive: Drive) -> None:
    user = drive.wechat_user(phone="13800471001")
    code = drive.wechat_phone_code(user["user_id"])
    gateways.wechat.phone_number(code)

    with pytest.raises(CodeUsed):
        gateways.wechat.phone_number(code)
    with pytest.raises(CodeInvalid):  # a login code is not a phone code
        gateways.wechat.phone_number(drive.wechat_login_code(user["user_id"]))
