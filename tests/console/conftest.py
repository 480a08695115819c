"""The operator console in a real browser against the real system.

One stack per module: the BFF under gunicorn on a free port, the push worker (``python -m push.worker``)
as a subprocess, both on the session's Redis, index, dev keys and sandbox. Debian's Chromium is driven
headless by Playwright (no browser download: ``executable_path=/usr/bin/chromium``). Citizens are
seeded the way the push tests do it (real auth accounts synced into push, WeChat users and their
subscription taps in the sandbox); operators as ``python -m auth create-operator`` makes them.
"""
from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from auth.accounts import AccountStore, Identity
from auth.audit import AuditLog
from auth.identifiers import id_check_char
from auth.operators import Operators
from auth.rate_limits import RateLimiter
from config import PROJECT_ROOT, settings_for_tests
from kernel.clock import SystemClock
from kernel.crypto import Crypto
from kernel.redis import redis_client as open_redis
from push.service import PushService
from push.settings import PushSettings
from tests.stores import emptied_database
from tools import processes
from tools.redis_server import free_port

CHROMIUM = os.environ.get("MSB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = PROJECT_ROOT / "var" / "test-artifacts"
PASSWORD = "草原 horse battery staple"
REMINDER = "wx_tpl_service_reminder"  # one-time
POLICY = "wx_tpl_policy_notice"  # long-term
HOHHOT, XINCHENG, BAOTOU_COUNTY = "150100", "150102", "150202"

# Push knobs for a test run: no quiet hours (the suite runs at any hour), quick retries, small pools.
PUSH_ENV = {
    "MSB_PUSH_QUIET_HOURS": "00:00-00:00",
    "MSB_PUSH_BACKOFF": "1",
    "MSB_PUSH_MAX_ATTEMPTS": "12",
    "MSB_PUSH_PAUSE_MIN_ATTEMPTS": "1000",  # no auto-pause: the tests pause by hand
    "MSB_PUSH_THREADS": "2",
    "MSB_PUSH_CONCURRENCY": "4",
}

_serial = itertools.count(100)


def _chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


def id_number(birth: date) -> str:
    first17 = f"150102{birth:%Y%m%d}{next(_serial) % 1000:03d}"
    return first17 + id_check_char(first17)


@dataclass
class Stack:
    url: str
    sandbox: str
    redis: redis.Redis
    push: PushService
    accounts: AccountStore
    operators: Operators
    log_dir: Path
    http: requests.Session = field(default_factory=requests.Session)

    # --- the sandbox's drive API ----------------------------------------------------------------------
    def drive(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.http.request(method, f"{self.sandbox}/_drive{path}", json=body, params=params or None, timeout=10)
        assert response.status_code < 400, response.text
        return response.json()

    # --- people -----------------------------------------------------------------------------------------
    def operator(self, username: str, *roles: str) -> dict[str, str]:
        created = self.operators.create(username, PASSWORD, roles)
        return {"id": created.operator_id, "username": username, "password": PASSWORD}

    def citizen(self, *, region: str, birth: date | None = None, subscribe: dict[str, int] | None = None) -> dict[str, Any]:
        """A WeChat citizen with a home region (and a verified birth date), synced into push, who tapped
        "accept" in the subscription popup for the given templates."""
        user = self.drive("POST", "/wechat/users", {})
        openid = next(iter(user["openids"].values()))
        account_id = self.accounts.attach("wechat", [Identity("wechat_openid", openid)]).account_id
        self.accounts.update_preferences(account_id, {"home_region": region})
        if birth is not None:
            number = id_number(birth)
            self.accounts.set_realname(account_id, name="测试", id_number=number, level=3, source="test",
                                       masked=number[:4] + "****", masked_name="测*")
        self.push.sync_citizen(account_id)
        for template_id, count in (subscribe or {}).items():
            self.drive("POST", "/wechat/subscriptions", {"openid": openid, "template_id": template_id, "count": count, "action": "accept"})
            for _ in range(count):
                self.push.record_subscriptions(account_id, "wechat", {template_id: "accept"})
        return {"account_id": account_id, "openid": openid}

    def feed_wechat_events(self, after: int = 0) -> int:
        """POST the sandbox's queued WeChat push events to the BFF's message-push URL, as WeChat would."""
        events = self.drive("GET", "/wechat/push-events", after=after)["events"]
        for event in events:
            response = self.http.post(f"{self.url}/v1/channels/wechat/events", params=event["query"], data=event["body"].encode(),
                                      headers={"Content-Type": "application/json"}, timeout=10)
            assert response.status_code == 200, response.text
        return events[-1]["seq"] if events else after


@pytest.fixture(scope="module")
def stack(request, redis_server, postgres_server, catalog_index_dir, dev_secret_dir, sandbox_server, tmp_path_factory):
    if not redis_server.running:
        redis_server.start()
    database = emptied_database(postgres_server)
    client = open_redis(redis_server.url, socket_timeout=None)
    client.flushall()
    log_dir = tmp_path_factory.mktemp("console-stack")
    push_env = {**PUSH_ENV, **getattr(request.module, "PUSH_ENV_OVERRIDES", {})}  # a test module may turn the knobs
    env = {
        "MSB_REDIS_URL": redis_server.url,
        "MSB_INDEX_DIR": str(catalog_index_dir),
        "MSB_SECRET_DIR": str(dev_secret_dir),
        "MSB_SANDBOX": "1",
        "MSB_SANDBOX_URL": sandbox_server,
        "MSB_LOG_LEVEL": "WARNING",
        **push_env,
    }
    port = free_port()
    bff = processes.start_gunicorn("wsgi:app", port=port, env=env, workers=1, threads=8, log_path=log_dir / "bff.log")
    worker_log = open(log_dir / "worker.log", "ab")
    worker = subprocess.Popen([sys.executable, "-m", "push.worker"], cwd=PROJECT_ROOT, env={**os.environ, **env},
                              stdout=worker_log, stderr=worker_log)
    url = f"http://127.0.0.1:{port}"
    settings = settings_for_tests(redis_url=redis_server.url, index_dir=catalog_index_dir, secret_dir=dev_secret_dir,
                                  sandbox_url=sandbox_server)
    crypto = Crypto(dev_secret_dir)
    clock = SystemClock()
    push = PushService.from_settings(settings, client, push_settings=PushSettings.from_env(settings, push_env),
                                     database=database)
    # As `python -m auth create-operator` builds it.
    operators = Operators(database, clock, RateLimiter(client, crypto, clock), AuditLog(database, crypto, clock))
    try:
        processes.wait_until_ready(f"{url}/readyz", timeout=60, process=bff)
        assert worker.poll() is None, (log_dir / "worker.log").read_text()
        yield Stack(url, sandbox_server, client, push, AccountStore(client, crypto, clock, database=database), operators, log_dir)
    finally:
        processes.stop(worker)
        processes.stop(bff)
        worker_log.close()
        requests.delete(f"{sandbox_server}/_drive/faults", timeout=5)
        client.close()


@pytest.fixture(scope="session")
def browser():
    if not _chromium_available():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/ensure_chromium.sh (make setup does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageProblems(list):
    """Console errors, CSP violations and uncaught exceptions seen by a page."""


@pytest.fixture
def new_page(browser, stack):
    contexts = []

    def make():
        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1360, "height": 900},
                                      base_url=stack.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.problems = PageProblems()
        page.on("console", lambda msg: page.problems.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: page.problems.append(f"pageerror: {exc}"))
        return page

    yield make
    for context in contexts:
        context.close()


def login(page, operator: dict[str, str]) -> None:
    page.goto("/console/")
    page.get_by_label("用户名").fill(operator["username"])
    page.get_by_label("密码").fill(operator["password"])
    page.get_by_role("button", name="登录").click()
    page.locator("#who-name").filter(has_text=operator["username"]).wait_for()


def save_artifact(source: Path, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / name
    shutil.copyfile(source, target)
    return target
