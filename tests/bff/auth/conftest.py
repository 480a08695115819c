"""Identity over HTTP: the real app (Flask test client) talking to the live sandbox over real HTTP.

``Drive`` acts as the phone and as the systems' operators through the sandbox's ``/_drive`` API;
``Citizen`` wraps the BFF calls a mini-program or the APP makes.
"""
from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests


BARTER = {"name": "巴特尔", "id_number": "150102198503120010", "phone": "13800471001"}
DAIRY_USCC = "91150102MA0N3K7P10"  # 内蒙古草原云乳业有限公司, legal representative 巴特尔


class Drive:
    """The sandbox's test-driving API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._http = requests.Session()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, f"{self.base_url}/_drive{path}", json=body, timeout=5)
        assert response.status_code < 400, response.text
        return response.json()

    def wechat_user(self, **fields: Any) -> dict[str, Any]:
        return self.call("POST", "/wechat/users", fields)

    def wechat_login_code(self, user_id: str, appid: str | None = None) -> str:
        body = {"user_id": user_id, **({"appid": appid} if appid else {})}
        return self.call("POST", "/wechat/login-code", body)["code"]

    def wechat_phone_code(self, user_id: str) -> str:
        return self.call("POST", "/wechat/phone-code", {"user_id": user_id})["code"]

    def alipay_user(self, **fields: Any) -> dict[str, Any]:
        return self.call("POST", "/alipay/users", fields)

    def alipay_auth_code(self, user_id: str) -> str:
        return self.call("POST", "/alipay/auth-code", {"user_id": user_id})["auth_code"]

    def sms_code(self, phone: str) -> str:
        messages = self.call("GET", f"/sms/outbox?phone={phone}")["messages"]
        assert messages, "no SMS in the outbox"
        return messages[-1]["params"]["code"]

    def gov_person(self, **fields: Any) -> dict[str, Any]:
        return self.call("POST", "/gov/people", fields)

    def face_token(self, id_number: str, *, same_person: bool = True) -> str:
        """A finished liveness capture: of the ID's holder, or (``same_person=False``) of someone else."""
        return self.call("POST", "/gov/face-token", {"id_number": id_number, "same_person": same_person})["face_token"]

    def sms_messages(self, phone: str) -> list[dict[str, Any]]:
        return self.call("GET", f"/sms/outbox?phone={phone}")["messages"]

    def gov_enterprise(self, **fields: Any) -> dict[str, Any]:
        return self.call("POST", "/gov/enterprises", fields)

    def counters(self) -> dict[str, int]:
        return self.call("GET", "/counters")["counters"]

    def advance_clock(self, seconds: float) -> None:
        self.call("POST", "/clock", {"advance_seconds": seconds})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def assert_envelope(response, status: int, error: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "error", "errors"}, body
    assert body["code"] == status
    if error is not None:
        assert body["error"] == error, body
    return body


class Citizen:
    """What the mini-programs and the APP do against the BFF."""

    def __init__(self, client, drive: Drive) -> None:
        self.client = client
        self.drive = drive

    def post(self, path: str, body: dict[str, Any] | None = None, token: str | None = None, **kwargs: Any):
        headers = {**(bearer(token) if token else {}), **kwargs.pop("headers", {})}
        return self.client.post(path, json=body if body is not None else {}, headers=headers, **kwargs)

    def get(self, path: str, token: str | None = None, **kwargs: Any):
        headers = {**(bearer(token) if token else {}), **kwargs.pop("headers", {})}
        return self.client.get(path, headers=headers, **kwargs)

    def ok(self, response, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, response.get_data(as_text=True)
        return response.get_json()

    def wechat_login(self, user_id: str) -> dict[str, Any]:
        code = self.drive.wechat_login_code(user_id)
        return self.ok(self.post("/v1/auth/wechat/login", {"code": code}))

    def new_wechat(self, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        user = self.drive.wechat_user(**fields)
        return user, self.wechat_login(user["user_id"])

    def alipay_login(self, user_id: str) -> dict[str, Any]:
        code = self.drive.alipay_auth_code(user_id)
        return self.ok(self.post("/v1/auth/alipay/login", {"auth_code": code}))

    def new_alipay(self) -> tuple[dict[str, Any], dict[str, Any]]:
        user = self.drive.alipay_user()
        return user, self.alipay_login(user["user_id"])

    def sms_login(self, phone: str) -> dict[str, Any]:
        self.ok(self.post("/v1/auth/sms/send", {"phone": phone}))
        return self.ok(self.post("/v1/auth/app/login", {"phone": phone, "sms_code": self.drive.sms_code(phone)}))

    def me(self, token: str, **kwargs: Any) -> dict[str, Any]:
        return self.ok(self.get("/v1/me", token, **kwargs))

    def verify(self, token: str, name: str, id_number: str) -> dict[str, Any]:
        return self.ok(self.post("/v1/me/realname", {"name": name, "id_number": id_number}, token))

    def start_claim(self, token: str, method: str) -> dict[str, Any]:
        return self.ok(self.post("/v1/me/realname/claims", {"method": method}, token), 201)

    def confirm_claim(self, token: str, claim_id: str, **proof: str):
        return self.post(f"/v1/me/realname/claims/{claim_id}/confirm", proof, token)

    def claim_by_face(self, token: str, name: str, id_number: str) -> dict[str, Any]:
        """Verify (409: the number is held elsewhere), then prove it with the holder's face."""
        conflict = self.post("/v1/me/realname", {"name": name, "id_number": id_number}, token)
        assert_envelope(conflict, 409, "realname_bound_elsewhere")
        claim = self.start_claim(token, "face")
        return self.ok(self.confirm_claim(token, claim["claim_id"], face_token=self.drive.face_token(id_number)))

    def inbox(self, token: str) -> list[dict[str, Any]]:
        return self.ok(self.get("/v1/messages", token))["items"]


@pytest.fixture
def drive(sandbox: str) -> Drive:
    return Drive(sandbox)


@pytest.fixture
def citizen(client, drive) -> Citizen:
    return Citizen(client, drive)


@pytest.fixture
def service(app):
    return app.extensions["services"].identity


OPERATOR_PASSWORD = "correct horse battery staple"


@pytest.fixture
def operator(service) -> dict[str, Any]:
    """An operator created through the domain, as ``python -m auth create-operator`` does."""
    created = service.operators.create("ops.alice", OPERATOR_PASSWORD, ["editor"])
    return {"id": created.operator_id, "username": "ops.alice", "password": OPERATOR_PASSWORD}
