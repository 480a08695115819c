"""Fixtures for the push domain: real Redis, the live sandbox over HTTP, a controllable clock set to a
Beijing working morning, real auth accounts (so push reads them exactly as in production)."""
from __future__ import annotations

import os

import itertools
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import requests

from auth.accounts import AccountStore, Identity
from auth.directory import CitizenDirectory
from auth.identifiers import id_check_char
from catalog.model import ReferenceData
from config import Settings, settings_for_tests
from integrations.gateways import build_gateways
from kernel.clock import FixedClock, shanghai_ts
from kernel.crypto import Crypto
from push import keys
from push.campaigns import Actor
from push.limits import RateLimiter
from push.redisutil import shards_in_use
from push.service import PushService
from push.settings import PushSettings
from push.worker import PushRuntime, build_senders

_PHONES = itertools.count(int(time.time()) % 10**7)
FIRST_SHARD = 0  # every test starts on a flushed Redis: its first citizens (idx 1, 2, …) are in shard 0
MORNING = shanghai_ts(2026, 3, 2, 10, 0)  # a Monday, 10:00 Beijing time
EDITOR = Actor("op_editor_1", ("editor",))
EDITOR_2 = Actor("op_editor_2", ("editor",))
APPROVER = Actor("op_approver_1", ("approver",))
REMINDER = "wx_tpl_service_reminder"  # one-time
POLICY = "wx_tpl_policy_notice"  # long-term
REMINDER_DATA = {"thing1": "养老金资格认证", "phrase2": "待办理", "time3": "2026年3月31日 17:00", "thing4": "请在月底前完成认证"}
POLICY_DATA = {"thing1": "医保缴费提醒", "thing2": "2026年城乡居民医保开始缴费", "time3": "2026年3月2日 09:00"}


def delayed_entries(client) -> list[tuple[str, float]]:
    """Every shard's delayed batches (deferrals and retries), soonest first."""
    entries = [entry for shard in shards_in_use(client) for entry in client.zrange(keys.delayed(shard), 0, -1, withscores=True)]
    return sorted(entries, key=lambda entry: entry[1])


def inflight_total(client) -> int:
    return sum(client.hlen(keys.inflight(shard)) for shard in shards_in_use(client))


class Drive:
    """The sandbox's drive API: act as the citizen's phone and as the upstream operators."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.http.request(method, f"{self.base_url}/_drive{path}", json=body, params=params or None, timeout=10)
        assert response.status_code < 400, response.text
        return response.json()

    def wechat_user(self) -> dict[str, Any]:
        user = self.call("POST", "/wechat/users", {})
        user["openid"] = next(iter(user["openids"].values()))
        return user

    def subscribe(self, openid: str, template_id: str = REMINDER, count: int = 1, action: str = "accept") -> None:
        self.call("POST", "/wechat/subscriptions", {"openid": openid, "template_id": template_id, "count": count, "action": action})

    def cancel_subscription(self, openid: str, template_id: str) -> None:
        self.call("POST", "/wechat/subscriptions/cancel", {"openid": openid, "template_id": template_id})

    def screen(self, openid: str) -> list[dict[str, Any]]:
        return self.call("GET", "/wechat/messages", openid=openid)["messages"]

    def message_counts(self) -> dict[str, int]:
        return self.call("GET", "/wechat/messages/counts")["counts"]

    def events(self, after: int = 0) -> list[dict[str, Any]]:
        return self.call("GET", "/wechat/push-events", after=after)["events"]

    def fault(self, endpoint: str, times: int | None = 1, **fields: Any) -> None:
        self.call("POST", "/faults", {"endpoint": endpoint, "times": times, **fields})

    def clear_faults(self) -> None:
        self.call("DELETE", "/faults")

    def counters(self) -> dict[str, int]:
        return self.call("GET", "/counters")["counters"]

    def device(self, platform: str = "huawei") -> str:
        return self.call("POST", "/app-push/devices", {"platform": platform})["device_token"]

    def device_messages(self, token: str) -> list[dict[str, Any]]:
        return self.call("GET", f"/app-push/devices/{token}/messages")["messages"]

    def alipay_user(self) -> dict[str, Any]:
        user = self.call("POST", "/alipay/users", {})
        user["open_id"] = next(iter(user["open_ids"].values()))
        return user


def id_number(birth: date, serial: str = "001") -> str:
    first17 = f"150102{birth:%Y%m%d}{serial}"
    return first17 + id_check_char(first17)


@dataclass
class Citizens:
    service: PushService
    accounts: AccountStore
    drive: Drive

    def make(self, *, region: str | None = "150102", wechat: bool = True, alipay: bool = False, birth: date | None = None,
             opt_outs: dict[str, list[str]] | None = None, subscribe: dict[str, int] | None = None,
             device: bool = False) -> dict[str, Any]:
        """An auth account with the given bindings and preferences, synced into push."""
        citizen: dict[str, Any] = {}
        if wechat:
            user = self.drive.wechat_user()
            citizen["openid"] = user["openid"]
            account_id = self.accounts.attach("wechat", [Identity("wechat_openid", user["openid"])]).account_id
        else:
            phone = f"138{next(_PHONES):08d}"
            account_id = self.accounts.attach("phone", [Identity("phone", phone)], masked="138****0000").account_id
        if alipay:
            user = self.drive.alipay_user()
            citizen["open_id"] = user["open_id"]
            self.accounts.attach("alipay", [Identity("alipay_open_id", user["open_id"])], account_id=account_id)
        changes: dict[str, Any] = {}
        if region:
            changes["home_region"] = region
        if opt_outs:
            changes["push_opt_outs"] = opt_outs
        if changes:
            self.accounts.update_preferences(account_id, changes)
        if birth is not None:
            number = id_number(birth, f"{len(citizen) + 100:03d}")
            self.accounts.set_realname(account_id, name="测试", id_number=number, level=3, source="test",
                                       masked=number[:4] + "****", masked_name="测*")
        citizen["account_id"] = account_id
        self.service.sync_citizen(account_id)
        for template_id, count in (subscribe or {}).items():
            self.drive.subscribe(citizen["openid"], template_id, count)  # the taps in the popup …
            for _ in range(count):  # … and what wx.requestSubscribeMessage reported to the app
                self.service.record_subscriptions(account_id, "wechat", {template_id: "accept"})
        if device:
            citizen["device_token"] = self.drive.device()
            self.service.register_device(account_id, citizen["device_token"], "huawei")
        return citizen


@pytest.fixture(scope="session")
def reference() -> ReferenceData:
    return ReferenceData.load()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MORNING)


@pytest.fixture
def settings_env(redis_server, database, dev_secret_dir) -> dict[str, str]:
    """The environment a command-line tool of this test's stores runs with."""
    return {**os.environ, "MSB_REDIS_URL": redis_server.url, "MSB_DATABASE_URL": database.url,
            "MSB_SECRET_DIR": str(dev_secret_dir), "MSB_LOG_LEVEL": "WARNING"}


@pytest.fixture
def upstream_settings(sandbox: str, dev_secret_dir, redis_server) -> Settings:
    return settings_for_tests(sandbox_url=sandbox, secret_dir=dev_secret_dir, redis_url=redis_server.url,
                              upstream_timeout_seconds=3.0)


@pytest.fixture
def push_settings(upstream_settings: Settings) -> PushSettings:
    return PushSettings.from_env(upstream_settings, {}).with_changes(
        backoff_seconds=5.0, max_attempts=3, pause_min_attempts=1000, threads=2, concurrency=4)


@pytest.fixture
def crypto(dev_secret_dir) -> Crypto:
    return Crypto(dev_secret_dir)


@pytest.fixture
def service(redis_client, database, crypto, push_settings, reference, clock) -> PushService:
    return PushService(redis_client, crypto=crypto, settings=push_settings, reference=reference, clock=clock,
                       database=database, directory=CitizenDirectory(redis_client, crypto, clock, database=database))


@pytest.fixture
def drive(sandbox: str) -> Drive:
    return Drive(sandbox)


@pytest.fixture
def citizens(service: PushService, redis_client, database, crypto, clock, drive: Drive) -> Citizens:
    return Citizens(service, AccountStore(redis_client, crypto, clock, database=database), drive)


@pytest.fixture
def make_runtime(service: PushService, upstream_settings: Settings, redis_client):
    def build(settings: PushSettings | None = None) -> PushRuntime:
        if settings is not None:  # tests swap knobs in place
            service.settings = settings
            service.planner._settings = settings  # noqa: SLF001
            service.limiter = RateLimiter(redis_client, settings.rates)
        gateways = build_gateways(upstream_settings, redis_client, clock=FixedClock(time.time()))
        senders = build_senders(gateways, service, upstream_settings)
        return PushRuntime(service, senders)

    return build


@pytest.fixture
def runtime(make_runtime) -> PushRuntime:
    return make_runtime()


def wechat_campaign(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "养老金资格认证提醒",
        "category": "policy",
        "channels": ["wechat"],
        "content": {"wechat": {"template_id": REMINDER, "data": dict(REMINDER_DATA), "page": "pages/item/detail?code=B0096"}},
        "audience": {"regions": ["150100"]},
    }
    spec.update(overrides)
    return spec


def launch(service: PushService, spec: dict[str, Any]) -> str:
    """Create, submit, approve (another operator) and schedule for now; returns the campaign id."""
    campaign = service.create_campaign(EDITOR, spec)
    service.submit_campaign(EDITOR, campaign["id"])
    service.approve_campaign(APPROVER, campaign["id"])
    service.schedule_campaign(EDITOR, campaign["id"])
    return campaign["id"]
