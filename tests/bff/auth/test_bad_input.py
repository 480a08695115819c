"""Bad input is a 4xx envelope and never reaches an upstream system."""
from __future__ import annotations

import pytest

from tests.bff.auth.conftest import assert_envelope

UPSTREAM_COUNTERS = ("wechat.jscode2session", "alipay.system.oauth.token", "sms.send")


@pytest.mark.parametrize(
    "path, body",
    [
        ("/v1/auth/wechat/login", {}),
        ("/v1/auth/wechat/login", {"code": ""}),
        ("/v1/auth/wechat/login", {"code": "short"}),
        ("/v1/auth/wechat/login", {"code": "x" * 129}),
        ("/v1/auth/wechat/login", {"code": "abc def ghi jkl"}),
        ("/v1/auth/wechat/login", {"code": "../../etc/passwd"}),
        ("/v1/auth/wechat/login", {"code": "abcdefgh\n"}),
        ("/v1/auth/wechat/login", {"code": 12345678}),
        ("/v1/auth/wechat/login", {"code": None}),
        ("/v1/auth/wechat/login", {"code": "abcdefgh", "extra": 1}),
        ("/v1/auth/alipay/login", {"auth_code": "码码码码码码码码"}),
        ("/v1/auth/sms/send", {"phone": "12345"}),
        ("/v1/auth/sms/send", {"phone": "23800471001"}),
        ("/v1/auth/sms/send", {"phone": "13800471001\n"}),
        ("/v1/auth/sms/send", {"phone": ["13800471001"]}),
        ("/v1/auth/app/login", {"phone": "13800471001", "sms_code": "12345"}),
        ("/v1/auth/app/login", {"phone": "13800471001", "sms_code": "１２３４５６"}),
        ("/v1/auth/app/login", {"phone": "13800471001"}),
        ("/v1/auth/refresh", {}),
        ("/v1/auth/refresh", {"refresh_token": ""}),
        ("/v1/admin/auth/login", {"username": "a", "password": "x"}),
        ("/v1/admin/auth/login", {"username": "ops.alice", "password": "x" * 300}),
    ],
)
def test_invalid_bodies_are_422_envelopes_without_upstream_calls(citizen, drive, path, body):
    before = drive.counters()
    response = citizen.post(path, body)
    envelope = assert_envelope(response, 422, "validation_failed")
    assert envelope["errors"]["json"]
    after = drive.counters()
    assert all(after.get(name, 0) == before.get(name, 0) for name in UPSTREAM_COUNTERS)


@pytest.mark.parametrize("data, content_type", [("not json", "application/json"), ("{", "application/json"), ("[]", "application/json"), ("code=abc", "application/x-www-form-urlencoded")])
def test_non_json_bodies_are_4xx(client, data, content_type):
    response = client.post("/v1/auth/wechat/login", data=data, content_type=content_type)
    assert 400 <= response.status_code < 500
    assert set(response.get_json()) == {"code", "status", "message", "error", "errors"}


def test_authenticated_bad_bodies(citizen):
    _, login = citizen.new_wechat()
    token = login["access_token"]
    for path, body in [
        ("/v1/me/realname", {"name": "巴特尔", "id_number": "15010219850312001"}),
        ("/v1/me/realname", {"name": "巴", "id_number": "150102198503120010"}),
        ("/v1/me/acting-for", {"enterprise_id": "ent_x"}),
        ("/v1/me/acting-for", {}),
        ("/v1/auth/logout", {"all_devices": "maybe"}),
        (f"/v1/me/enterprises/ent_{'a' * 26}/agents/approve", {"account_id": "op_x"}),
    ]:
        assert_envelope(citizen.post(path, body, token), 422)
    # the step-up is checked before the body
    assert_envelope(citizen.post("/v1/me/enterprises", {"uscc": "IOSVZ"}, token), 403, "realname_level_required")
    # a name the domain refuses is 422 too, without spending one of the day's checks upstream
    assert_envelope(citizen.post("/v1/me/realname", {"name": "<script>", "id_number": "150102198503120010"}, token), 422, "invalid_input")


def test_unauthenticated_calls_are_401_before_body_validation(client):
    for method, path in [("POST", "/v1/me/realname"), ("PUT", "/v1/me/preferences"), ("GET", "/v1/me"),
                         ("POST", "/v1/auth/logout"), ("DELETE", "/v1/me/bindings/wechat"), ("GET", "/v1/admin/me")]:
        response = client.open(path, method=method, json={"junk": True})
        assert_envelope(response, 401, "authentication_required")
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="msb"'
