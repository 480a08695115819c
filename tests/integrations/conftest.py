"""Fixtures for the upstream clients: the live sandbox (real HTTP, gunicorn), driven through its
``/_drive`` API exactly as a phone and the systems' operators would drive the real ones."""
from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from config import Settings, settings_for_tests
from integrations.gateways import Gateways, build_gateways
from kernel.clock import FixedClock

WECHAT_APPID = "wx_sandbox_app"
WECHAT_SECRET = "wx_sandbox_secret"
GOV_APP_KEY = "gov_sandbox_app_key"
SMS_APP_KEY = "sms_sandbox_app_key"
TIMEOUT = 2.0


class Drive:
    """The sandbox's test-driving API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._http = requests.Session()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, expect: int | None = None) -> Any:
        response = self._http.request(method, f"{self.base_url}/_drive{path}", json=body, timeout=5)
        assert response.status_code < 400 if expect is None else response.status_code == expect, response.text
        return response.json()

    # --- WeChat ---
    def wechat_user(self, **fields: Any) -> dict[str, Any]:
        return self.call("POST", "/wechat/users", fields)

    def wechat_login_code(self, user_id: str) -> str:
        return self.call("POST", "/wechat/login-code", {"user_id": user_id})["code"]

    def wechat_phone_code(self, user_id: str) -> str:
        return self.call("POST", "/wechat/phone-code", {"user_id": user_id})["code"]

    # --- Alipay ---
    def alipay_user(self, **fields: Any) -> dict[str, Any]:
        return self.call("POST", "/alipay/users", fields)

    def alipay_auth_code(self, user_id: str) -> str:
        return self.call("POST", "/alipay/auth-code", {"user_id": user_id})["auth_code"]

    # --- systems ---
    def counters(self) -> dict[str, int]:
        return self.call("GET", "/counters")["counters"]

    def fault(self, endpoint: str, *, times: int | None = 1, **fields: Any) -> None:
        self.call("POST", "/faults", {"endpoint": endpoint, "times": times, **fields})

    def advance_clock(self, seconds: float) -> None:
        self.call("POST", "/clock", {"advance_seconds": seconds})

    def sms_outbox(self, phone: str | None = None) -> list[dict[str, Any]]:
        return self.call("GET", "/sms/outbox" + (f"?phone={phone}" if phone else ""))["messages"]


@pytest.fixture
def drive(sandbox: str) -> Drive:
    return Drive(sandbox)


@pytest.fixture
def upstream_settings(sandbox: str, dev_secret_dir) -> Settings:
    # The shared ``settings`` fixture also builds a catalogue index this suite has no use for.
    return settings_for_tests(sandbox_url=sandbox, secret_dir=dev_secret_dir, upstream_timeout_seconds=TIMEOUT)


@pytest.fixture
def token_clock() -> FixedClock:
    """The token holder's clock, started at real time like the sandbox's; tests move both together."""
    return FixedClock(time.time())


@pytest.fixture
def gateways(upstream_settings: Settings, redis_client, token_clock: FixedClock) -> Gateways:
    return build_gateways(upstream_settings, redis_client, clock=token_clock)


def counter(counters: dict[str, int], name: str) -> int:
    return counters.get(name, 0)
