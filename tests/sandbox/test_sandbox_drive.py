"""The drive API's general tools: failure injection, clock, reset, and the
state building blocks under them."""

from __future__ import annotations

import time
from types import SimpleNamespace

from flask.testing import FlaskClient

from sandbox.state import CodeOutcome, CodeStore, Fault, FaultInjector, SandboxClock


def stable_token(client: FlaskClient, known: SimpleNamespace):
    body = {"grant_type": "client_credential", "appid": known.wechat_appid, "secret": known.wechat_secret}
    return client.post("/cgi-bin/stable_token", json=body)


def test_fault_returns_native_wechat_error_for_n_calls(client: FlaskClient, known: SimpleNamespace) -> None:
    response = client.post("/_drive/faults", json={"endpoint": "wechat.stable_token", "times": 2, "error": {"errcode": -1}})
    assert response.status_code == 201
    for _ in range(2):
        body = stable_token(client, known).json
        assert body["errcode"] == -1 and body["errmsg"].startswith("system error rid: ")
    assert "access_token" in stable_token(client, known).json
    assert client.get("/_drive/counters").json["counters"]["wechat.stable_token"] == 3


def test_fault_until_cleared_and_listing(client: FlaskClient, known: SimpleNamespace) -> None:
    client.post("/_drive/faults", json={"endpoint": "wechat.stable_token", "times": None, "error": {"errcode": 40001}})
    for _ in range(3):
        assert stable_token(client, known).json["errcode"] == 40001
    listing = client.get("/_drive/faults").json
    assert listing["faults"][0]["remaining"] is None
    assert "sms.send" in listing["endpoints"] and "alipay.system.oauth.token" in listing["endpoints"]
    client.delete("/_drive/faults", query_string={"endpoint": "wechat.stable_token"})
    assert "access_token" in stable_token(client, known).json


def test_fault_renders_in_each_systems_shape(client: FlaskClient, known: SimpleNamespace) -> None:
    client.post("/_drive/faults", json={"endpoint": "alipay.system.oauth.token"})
    response = client.post("/gateway.do", query_string={"method": "alipay.system.oauth.token"})
    assert response.status_code == 200 and response.get_json(force=True)["error_response"]["code"] == "20000"

    client.post("/_drive/faults", json={"endpoint": "gov.realname.verify2", "error": {"code": "UPSTREAM_TIMEOUT"}, "http_status": 504})
    response = client.post("/gov/realname/verify2", json={}, headers={"X-App-Key": known.gov_app_key})
    assert response.status_code == 504 and response.json["error"]["code"] == "UPSTREAM_TIMEOUT"

    client.post("/_drive/faults", json={"endpoint": "sms.send", "error": {"code": "isv.OUT_OF_SERVICE", "message": "业务停机"}})
    response = client.post("/sms/send", json={}, headers={"X-App-Key": known.sms_app_key})
    assert response.status_code == 200 and response.json["code"] == "isv.OUT_OF_SERVICE"

    client.post("/_drive/faults", json={"endpoint": "wechat.jscode2session", "raw_body": "<html>502 Bad Gateway</html>", "http_status": 502})
    response = client.get("/sns/jscode2session")
    assert response.status_code == 502 and b"Bad Gateway" in response.data


def test_fault_delay_then_normal_answer(client: FlaskClient, known: SimpleNamespace) -> None:
    client.post("/_drive/faults", json={"endpoint": "wechat.stable_token", "delay_ms": 150})
    started = time.monotonic()
    body = stable_token(client, known).json
    assert time.monotonic() - started >= 0.15 and "access_token" in body


def test_fault_validation(client: FlaskClient) -> None:
    assert client.post("/_drive/faults", json={"endpoint": "wechat.nope"}).status_code == 400
    assert client.post("/_drive/faults", json={"endpoint": "sms.send", "times": 0}).status_code == 400
    assert client.post("/_drive/faults", data="not json").status_code == 400


def test_clock_and_reset(client: FlaskClient, known: SimpleNamespace) -> None:
    start = client.get("/_drive/clock").json["now"]
    assert client.post("/_drive/clock", json={"advance_seconds": 90}).json["now"] == start + 90
    assert client.post("/_drive/clock", json={"advance_seconds": -1}).status_code == 400
    user = client.post("/_drive/wechat/users", json={}).json
    key_before = client.get("/_drive/alipay/public-key").json["public_key"]
    client.post("/_drive/faults", json={"endpoint": "sms.send", "times": None})
    stable_token(client, known)

    client.post("/_drive/reset")
    assert client.get("/_drive/clock").json["offset_seconds"] == 0
    assert client.get(f"/_drive/wechat/users/{user['user_id']}").status_code == 404
    assert client.get("/_drive/counters").json["counters"] == {}
    assert client.get("/_drive/faults").json["faults"] == []
    assert client.get("/_drive/alipay/public-key").json["public_key"] == key_before  # the BFF keeps trusting it


def test_drive_lookup_errors(client: FlaskClient) -> None:
    assert client.post("/_drive/wechat/login-code", json={"user_id": "wxu_404"}).status_code == 404
    assert client.post("/_drive/alipay/auth-code", json={"open_id": "nope"}).status_code == 404
    assert client.post("/_drive/gov/sso-ticket", json={"id_number": "11010519491231002X"}).status_code == 404
    assert client.get("/nowhere").json == {"error": "not found"}


def test_code_store_outcomes() -> None:
    now = [100.0]
    clock = SandboxClock(lambda: now[0])
    codes = CodeStore(clock)
    code = codes.issue("login", {"user": 1}, ttl_seconds=10)
    assert codes.peek(code, "phone") == (CodeOutcome.UNKNOWN, None)
    assert codes.redeem(code, "login") == (CodeOutcome.OK, {"user": 1})
    assert codes.redeem(code, "login")[0] is CodeOutcome.USED
    late = codes.issue("login", {}, ttl_seconds=10)
    clock.advance(10)
    assert codes.redeem(late, "login")[0] is CodeOutcome.EXPIRED


def test_fault_injector_is_fifo_and_counts_down() -> None:
    faults = FaultInjector()
    faults.add(Fault("a", remaining=1, error={"n": 1}))
    faults.add(Fault("a", remaining=1, error={"n": 2}))
    first, second = faults.take("a"), faults.take("a")
    assert first is not None and first.error == {"n": 1}
    assert second is not None and second.error == {"n": 2}
    assert faults.take("a") is None
