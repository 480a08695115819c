"""Push over HTTP: the real app (test client) with a controllable push clock, citizens signed in
through the live sandbox, console operators, and an in-process worker sending over real HTTP."""
from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from bff import create_app
from integrations.gateways import build_gateways
from kernel.clock import FixedClock
from push.settings import PushSettings
from push.wechat_events import signature
from push.worker import PushRuntime, build_senders
from tests.bff.auth.conftest import Citizen, Drive as AuthDrive, bearer
from tests.push.conftest import MORNING, POLICY, POLICY_DATA, REMINDER, REMINDER_DATA, Drive as PushDrive

__all__ = ["MORNING", "POLICY", "POLICY_DATA", "REMINDER", "REMINDER_DATA", "bearer"]

PASSWORD = "correct horse battery staple"
_PHONES = itertools.count(int(time.time() * 7) % 10**7)


class Drive(AuthDrive, PushDrive):
    """Both drive APIs of the sandbox: logins (auth) and the push stand-ins."""

    def __init__(self, base_url: str) -> None:
        AuthDrive.__init__(self, base_url)
        PushDrive.__init__(self, base_url)

    def call(self, method, path, body=None, **params):  # the push flavour (query params) serves both
        return PushDrive.call(self, method, path, body, **params)

    def wechat_user(self, **fields: Any) -> dict[str, Any]:
        user = PushDrive.call(self, "POST", "/wechat/users", fields)
        user["openid"] = next(iter(user["openids"].values()))
        return user


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MORNING)  # Monday 10:00 Beijing time


@pytest.fixture
def app(settings, redis_client, clock):
    push_settings = PushSettings.from_env(settings, {}).with_changes(
        backoff_seconds=5.0, max_attempts=3, pause_min_attempts=1000, threads=2, concurrency=4)
    return create_app(settings, push_clock=clock, push_settings=push_settings)


@pytest.fixture
def service(app):
    return app.extensions["services"].push


@pytest.fixture
def runtime(service, settings, redis_client) -> PushRuntime:
    gateways = build_gateways(settings, redis_client, clock=FixedClock(time.time()))
    senders = build_senders(gateways, service, settings)
    return PushRuntime(service, senders)


@pytest.fixture
def drive(sandbox) -> Drive:
    return Drive(sandbox)


class Api:
    """The apps and the console against the BFF."""

    def __init__(self, client, drive: Drive, app) -> None:
        self.client = client
        self.drive = drive
        self.app = app
        self.citizen = Citizen(client, drive)

    def call(self, method: str, path: str, token: str | None = None, body: Any = None, **kwargs: Any):
        headers = {**(bearer(token) if token else {}), **kwargs.pop("headers", {})}
        if body is not None:
            kwargs["json"] = body
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def ok(self, method: str, path: str, token: str | None = None, body: Any = None, status: int = 200, **kwargs: Any):
        response = self.call(method, path, token, body, **kwargs)
        assert response.status_code == status, response.get_data(as_text=True)
        return response.get_json()

    # --- citizens -----------------------------------------------------------------------------------

    def wechat_citizen(self, *, region: str | None = "150102", subscribe: dict[str, int] | None = None,
                       opt_outs: dict[str, list[str]] | None = None) -> dict[str, Any]:
        user, login = self.citizen.new_wechat()
        citizen = {"openid": next(iter(user["openids"].values())), "token": login["access_token"],
                   "account_id": login["account"]["id"]}
        self._preferences(citizen, region, opt_outs)
        for template_id, count in (subscribe or {}).items():
            self.drive.subscribe(citizen["openid"], template_id, count)  # the taps in the popup …
            for _ in range(count):  # … and what wx.requestSubscribeMessage reported to the mini-program
                self.ok("POST", "/v1/subscriptions", citizen["token"], {"channel": "wechat", "results": {template_id: "accept"}})
        return citizen

    def app_citizen(self, *, region: str | None = "150102") -> dict[str, Any]:
        login = self.citizen.sms_login(f"139{next(_PHONES):08d}")
        citizen = {"token": login["access_token"], "account_id": login["account"]["id"]}
        self._preferences(citizen, region, None)
        return citizen

    def _preferences(self, citizen: dict[str, Any], region: str | None, opt_outs: dict[str, list[str]] | None) -> None:
        changes: dict[str, Any] = {}
        if region:
            changes["home_region"] = region
        if opt_outs:
            changes["push_opt_outs"] = opt_outs
        if changes:
            self.ok("PUT", "/v1/me/preferences", citizen["token"], changes)

    # --- operators -----------------------------------------------------------------------------------

    def operator(self, username: str, *roles: str) -> str:
        self.app.extensions["services"].identity.operators.create(username, PASSWORD, list(roles))
        return self.ok("POST", "/v1/admin/auth/login", body={"username": username, "password": PASSWORD})["access_token"]

    def launch(self, spec: dict[str, Any], editor: str, approver: str, **schedule: Any) -> str:
        """Create, submit, approve (another operator) and schedule; returns the campaign id."""
        campaign = self.ok("POST", "/v1/admin/campaigns", editor, spec, status=201)
        submitted = self.ok("POST", f"/v1/admin/campaigns/{campaign['id']}/submit", editor)
        self.approve(campaign["id"], approver, version=submitted["version"])
        self.ok("POST", f"/v1/admin/campaigns/{campaign['id']}/schedule", editor, schedule)
        return campaign["id"]

    def approve(self, campaign_id: str, token: str, *, version: int | None = None):
        """POST …/approve naming the version reviewed (read now unless given); the raw response."""
        if version is None:
            version = self.ok("GET", f"/v1/admin/campaigns/{campaign_id}", token)["version"]
        return self.call("POST", f"/v1/admin/campaigns/{campaign_id}/approve", token, {"version": version})

    def stats(self, campaign_id: str, token: str) -> dict[str, Any]:
        return self.ok("GET", f"/v1/admin/campaigns/{campaign_id}/stats", token)

    def wechat_event(self, body: str, now: float, *, nonce: str = "n0nce", token: str = "msb_sandbox_push_token"):
        timestamp = str(int(now))
        query = {"signature": signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
        return self.client.post("/v1/channels/wechat/events", query_string=query, data=body.encode(),
                                content_type="application/json")


@pytest.fixture
def api(client, drive, app) -> Api:
    return Api(client, drive, app)


class Operators(dict):
    """Console tokens by role, created on first use (password hashing is deliberately slow)."""

    ROLES = {"editor": ("editor",), "approver": ("approver",), "both": ("editor", "approver")}

    def __init__(self, api: Api) -> None:
        super().__init__()
        self._api = api

    def __missing__(self, name: str) -> str:
        token = self[name] = self._api.operator(f"ops.{name}", *self.ROLES[name])
        return token


@pytest.fixture
def ops(api) -> Operators:
    """An editor, an approver, and an operator holding both roles (to try approving their own work)."""
    return Operators(api)


def wechat_campaign(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "养老金资格认证提醒",
        "category": "policy",
        "channels": ["wechat"],
        "content": {"wechat": {"template_id": REMINDER, "data": dict(REMINDER_DATA)}},
        "page": "pages/item/detail?code=B0096",
        "audience": {"regions": ["150100"]},
    }
    spec.update(overrides)
    return spec
