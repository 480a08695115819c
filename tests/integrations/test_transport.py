"""What every client shares: timeouts, outages, non-JSON answers, and logs that leak nothing."""
from __future__ import annotations

import logging
import time

import pytest

from integrations.errors import CodeUsed, UpstreamUnavailable
from integrations.gateways import Gateways
from integrations.gov_identity import GovIdentityClient
from integrations.http import UpstreamHttp
from integrations.sms import SmsClient
from integrations.wechat import WeChatClient
from tests.integrations.conftest import GOV_APP_KEY, SMS_APP_KEY, WECHAT_APPID, WECHAT_SECRET, Drive
from tools.redis_server import free_port


def test_connection_refused_is_unavailable_at_once_and_chains_no_url(gateways: Gateways) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    clients = [
        lambda: WeChatClient(dead, WECHAT_APPID, WECHAT_SECRET, gateways.wechat_token_holder, timeout=1).code_to_session("c"),
        lambda: GovIdentityClient(dead, GOV_APP_KEY, timeout=1).verify_person("巴特尔", "150102198503120010"),
        lambda: SmsClient(dead, SMS_APP_KEY, timeout=1).send_login_code("13800471001", "123456"),
    ]
    for call in clients:
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailable) as raised:
            call()
        assert time.monotonic() - started < 0.5
        # requests' exception text holds the URL with WeChat's secret: it must not ride along.
        assert raised.value.__context__ is None and raised.value.__cause__ is None


def test_timeout_is_honoured(gateways: Gateways, drive: Drive) -> None:
    drive.fault("wechat.jscode2session", delay_ms=1500)
    client = WeChatClient(drive.base_url, WECHAT_APPID, WECHAT_SECRET, gateways.wechat_token_holder, timeout=0.3)

    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable):
        client.code_to_session("c")
    assert time.monotonic() - started < 1.0


def test_proxy_pages_are_unavailable(gateways: Gateways, drive: Drive) -> None:
    drive.fault("wechat.jscode2session", http_status=502, raw_body="<html>502 Bad Gateway</html>")
    with pytest.raises(UpstreamUnavailable):
        gateways.wechat.code_to_session("c")

    drive.fault("wechat.jscode2session", http_status=200, raw_body="<html>portal login</html>")
    with pytest.raises(UpstreamUnavailable):
        gateways.wechat.code_to_session("c")


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError):
        UpstreamHttp("wechat", timeout=0)


def test_logs_carry_no_secrets_codes_tokens_or_personal_data(gateways: Gateways, drive: Drive, redis_client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    wechat_user = drive.wechat_user(phone="13800471001")
    login_code = drive.wechat_login_code(wechat_user["user_id"])
    phone_code = drive.wechat_phone_code(wechat_user["user_id"])
    alipay_user = drive.alipay_user()
    auth_code = drive.alipay_auth_code(alipay_user["user_id"])
    drive.fault("wechat.getuserphonenumber", error={"errcode": 40001})  # exercise the refresh path too

    session = gateways.wechat.code_to_session(login_code)
    gateways.wechat.phone_number(phone_code)
    gateways.alipay.exchange_auth_code(auth_code)
    gateways.identity.verify_person("巴特尔", "150102198503120010")
    gateways.sms.send_login_code("13800471001", "482913")
    with pytest.raises(CodeUsed):
        gateways.wechat.code_to_session(login_code)  # an error path as well

    secrets = [
        WECHAT_SECRET, login_code, phone_code, session.session_key, session.openid, auth_code,
        alipay_user["open_ids"]["2021000000000001"], "13800471001", "150102198503120010", "482913",
        "巴特尔", GOV_APP_KEY, SMS_APP_KEY, gateways.wechat_token_holder.get(), "access_token=", "?",
    ]
    assert caplog.records
    for record in caplog.records:
        logged = f"{record.getMessage()} {getattr(record, 'fields', '')} {record.exc_text or ''}"
        leaked = [s for s in secrets if s in logged]
        assert not leaked, (record.name, logged)
    assert {r.fields["endpoint"] for r in caplog.records if r.getMessage() == "upstream call"} >= {
        "wechat.jscode2session", "wechat.stable_token", "wechat.getuserphonenumber",
        "alipay.system.oauth.token", "gov.realname.verify2", "sms.send",
    }
