from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient

PHONE = "13800001111"


@pytest.fixture
def send(client: FlaskClient, known: SimpleNamespace):
    def call(body: dict[str, Any], key: str = known.sms_app_key):
        return client.post("/sms/send", json=body, headers={"X-App-Key": key})

    return call


def login_code(phone: str = PHONE, code: str = "123456") -> dict[str, Any]:
    return {"phone": phone, "template": "SMS_LOGIN_CODE", "params": {"code": code}}


def test_send_and_read_outbox(client: FlaskClient, send) -> None:
    response = send(login_code())
    assert response.status_code == 200
    assert response.json["code"] == "OK" and response.json["biz_id"]
    messages = client.get("/_drive/sms/outbox", query_string={"phone": PHONE}).json["messages"]
    assert len(messages) == 1
    assert messages[0]["params"] == {"code": "123456"} and "123456" in messages[0]["text"]
    assert messages[0]["biz_id"] == response.json["biz_id"]
    assert client.get("/_drive/sms/outbox", query_string={"phone": "13800002222"}).json["messages"] == []
    client.delete("/_drive/sms/outbox")
    assert client.get("/_drive/sms/outbox").json["messages"] == []


def test_verification_flow_control(send, clock) -> None:
    assert send(login_code()).json["code"] == "OK"
    limited = send(login_code()).json
    assert limited["code"] == "isv.BUSINESS_LIMIT_CONTROL" and limited["message"] == "触发分钟级流控Permits:1"
    for _ in range(4):
        clock.now += 61
        assert send(login_code()).json["code"] == "OK"
    clock.now += 61
    assert send(login_code()).json["message"] == "触发小时级流控Permits:5"
    for _ in range(5):
        clock.now += 3600
        assert send(login_code()).json["code"] == "OK"
    clock.now += 3600
    assert send(login_code()).json["message"] == "触发天级流控Permits:10"
    assert send(login_code(phone="13800002222")).json["code"] == "OK"  # limits are per phone


def test_notification_daily_limit(make_app, known: SimpleNamespace) -> None:
    limits = {"verification_per_minute": 1, "verification_per_hour": 5, "verification_per_day": 10, "notification_per_day": 2}
    client = make_app(sms_limits=limits).test_client()
    body = {"phone": PHONE, "template": "SMS_SERVICE_NOTICE", "params": {"item": "社保卡补办", "status": "已受理"}}
    headers = {"X-App-Key": known.sms_app_key}
    assert [client.post("/sms/send", json=body, headers=headers).json["code"] for _ in range(3)] == [
        "OK",
        "OK",
        "isv.BUSINESS_LIMIT_CONTROL",
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"phone": "12345", "template": "SMS_LOGIN_CODE", "params": {"code": "1"}}, "isv.MOBILE_NUMBER_ILLEGAL"),
        ({"phone": PHONE, "template": "SMS_NOPE", "params": {}}, "isv.SMS_TEMPLATE_ILLEGAL"),
        ({"phone": PHONE, "template": "SMS_LOGIN_CODE", "params": {}}, "isv.TEMPLATE_MISSING_PARAMETERS"),
        ({"phone": PHONE, "template": "SMS_LOGIN_CODE", "params": {"code": 123456}}, "isv.INVALID_JSON_PARAM"),
    ],
)
def test_send_errors(send, body: dict[str, Any], code: str) -> None:
    response = send(body)
    assert response.status_code == 200 and response.json["code"] == code


def test_app_key_required(send) -> None:
    response = send(login_code(), key="wrong")
    assert response.status_code == 401 and response.json["code"] == "InvalidAccessKeyId.NotFound"
