"""SmsClient against the live sandbox SMS gateway."""
from __future__ import annotations

import pytest

from integrations.errors import InputRefused, RateLimited, UpstreamUnavailable
from integrations.gateways import Gateways
from integrations.sms import SmsClient
from tests.integrations.conftest import Drive

PHONE = "13800471001"


def test_login_code_reaches_the_phone(gateways: Gateways, drive: Drive) -> None:
    gateways.sms.send_login_code(PHONE, "482913")

    [message] = drive.sms_outbox(PHONE)
    assert (message["template"], message["params"]) == ("SMS_LOGIN_CODE", {"code": "482913"})
    assert "482913" in message["text"]


def test_claim_code_and_security_notice_templates(gateways: Gateways, drive: Drive) -> None:
    gateways.sms.send_claim_code(PHONE, "135790")
    gateways.sms.send_security_notice(PHONE, "新增了微信登录")
    claim, notice = drive.sms_outbox(PHONE)
    assert (claim["template"], claim["params"]) == ("SMS_CLAIM_CODE", {"code": "135790"})
    assert notice["template"] == "SMS_SECURITY_NOTICE" and "您的账号新增了微信登录" in notice["text"]
    assert "12345" in notice["text"] and "这不是我" in notice["text"]


def test_flow_control_is_rate_limited_with_the_window_as_retry_after(gateways: Gateways, drive: Drive) -> None:
    gateways.sms.send_login_code(PHONE, "111111")

    with pytest.raises(RateLimited) as raised:
        gateways.sms.send_login_code(PHONE, "222222")  # 1 per minute per phone
    assert raised.value.retry_after == 60

    for _ in range(4):
        drive.advance_clock(61)
        gateways.sms.send_login_code(PHONE, "333333")
    drive.advance_clock(61)
    with pytest.raises(RateLimited) as raised:
        gateways.sms.send_login_code(PHONE, "444444")  # 5 per hour
    assert raised.value.retry_after == 3600
    assert len(drive.sms_outbox(PHONE)) == 5


def test_illegal_number_wrong_key_and_outage(gateways: Gateways, drive: Drive) -> None:
    with pytest.raises(InputRefused, match="手机号码"):
        gateways.sms.send_login_code("12345", "123456")
    with pytest.raises(UpstreamUnavailable):
        SmsClient(drive.base_url, "not-our-key", timeout=2).send_login_code(PHONE, "123456")

    drive.fault("sms.send", error={"code": "isp.SYSTEM_ERROR"})
    with pytest.raises(UpstreamUnavailable):
        gateways.sms.send_login_code(PHONE, "123456")
    assert drive.sms_outbox() == []
