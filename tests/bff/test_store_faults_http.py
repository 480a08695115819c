"""Fault tests over HTTP with the real servers: a gunicorn API on its own private Redis, which the tests
SIGSTOP (a hung store: connections accepted, nothing answered) and kill -9, under light anonymous load.

What must hold (issue 11, "fast failure"): anonymous search and home never answer 5xx and stay under
100 ms p99 while Redis hangs; a personal route answers 503 ``store_unavailable`` with ``Retry-After`` in
under a second; /readyz says Redis is not ready; personal routes work again within 2 s of SIGCONT or of
a restart on the same port.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest
import requests

from tests.bff.auth.conftest import Drive
from tests.http_stack import api_server
from tools.redis_server import RedisServer

HANG_SECONDS = 10.0
LOAD_THREADS = 3
ANONYMOUS_URLS = [
    f"/v1/items/search?q={q}&region={region}"
    for q in ("养老金", "社保", "公积金", "医保", "身份证", "营业执照") for region in ("150102", "150103")
] + [f"/v1/home?region={region}" for region in ("150102", "150103", "150104")]
PHONE = "13700471077"


@dataclass
class Sample:
    started: float
    seconds: float
    status: int
    url: str


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    """Not the session's Redis: these tests pause and kill theirs."""
    server = RedisServer(tmp_path_factory.mktemp("fault-redis"))
    server.start()
    yield server
    if server.running:
        server.resume()
    server.stop()


@pytest.fixture(scope="module")
def api(own_redis, postgres_server, catalog_index_dir, dev_secret_dir, sandbox_server, tmp_path_factory):
    # The hot path (answers from memory before Flask) is off so every anonymous request goes through
    # Flask and the response cache, the parts that met Redis before the breaker.
    with api_server(tmp_path_factory.mktemp("fault-api"), redis_url=own_redis.url, database_url=postgres_server.url, index_dir=catalog_index_dir,
                    secret_dir=dev_secret_dir, sandbox_url=sandbox_server,
                    env={"MSB_HOT_PATH_SECONDS": "0"}) as url:
        yield url


@pytest.fixture(scope="module")
def token(api, sandbox_server):
    """One login for the module (a second SMS to the phone within a minute would be rate limited)."""
    return sms_token(api, sandbox_server, PHONE)


def sms_token(api: str, sandbox: str, phone: str) -> str:
    """An app access token for ``phone``, logged in over HTTP with the code the sandbox SMS gateway saw."""
    http = requests.Session()
    assert http.post(f"{api}/v1/auth/sms/send", json={"phone": phone}, timeout=5).status_code == 200
    login = http.post(f"{api}/v1/auth/app/login", json={"phone": phone, "sms_code": Drive(sandbox).sms_code(phone)},
                      timeout=5)
    assert login.status_code == 200, login.text
    return login.json()["access_token"]


class AnonymousLoad:
    """A few threads browsing the catalogue without pause beyond a short think time."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(LOAD_THREADS)]

    def __enter__(self) -> "AnonymousLoad":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _run(self, offset: int) -> None:
        http = requests.Session()
        n = offset
        while not self._stop.is_set():
            url = ANONYMOUS_URLS[n % len(ANONYMOUS_URLS)]
            headers = {"X-Client-Mode": "elder"} if n % 3 == 0 else {}
            started = time.monotonic()
            try:
                status = http.get(self.base_url + url, headers=headers, timeout=10).status_code
            except requests.RequestException:
                status = 0
            with self._lock:
                self.samples.append(Sample(started, time.monotonic() - started, status, url))
            n += LOAD_THREADS
            self._stop.wait(0.01)

    def between(self, start: float, end: float) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if start <= s.started < end]


def p99(samples: list[Sample]) -> float:
    ordered = sorted(s.seconds for s in samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed_get(url: str, **kwargs) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(url, timeout=10, **kwargs)
    return response, time.monotonic() - started


def assert_store_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert set(body) == {"code", "status", "message", "error", "errors"}
    assert body["error"] == "store_unavailable"
    assert response.headers["Retry-After"] in ("1", "2")


def seconds_until_ok(url: str, headers: dict[str, str], limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if requests.get(url, headers=headers, timeout=5).status_code == 200:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{url} not back within {limit}s")


def report(name: str, samples: list[Sample], extra: str) -> None:
    statuses = sorted({s.status for s in samples})
    print(f"\n[{name}] anonymous: {len(samples)} requests, statuses {statuses}, p50 "
          f"{sorted(s.seconds for s in samples)[len(samples) // 2] * 1000:.1f} ms, p99 {p99(samples) * 1000:.1f} ms, "
          f"max {max(s.seconds for s in samples) * 1000:.1f} ms; {extra}")


def test_redis_hung_for_ten_seconds(api, own_redis, token):
    me, auth = f"{api}/v1/me", {"Authorization": f"Bearer {token}"}
    assert requests.get(me, headers=auth, timeout=5).status_code == 200
    ready = requests.get(f"{api}/readyz", timeout=5).json()
    assert ready["stores"]["redis"]["status"] == "ok" and ready["stores"]["redis"]["breaker"] == "closed"

    with AnonymousLoad(api) as load:
        time.sleep(1.0)  # warm: every URL computed and cached once
        paused_at = time.monotonic()
        own_redis.pause()
        try:
            first, first_seconds = timed_get(me, headers=auth)  # may meet the socket timeout before the breaker opens
            assert_store_unavailable(first)
            time.sleep(1.5)
            personal = [timed_get(me, headers=auth) for _ in range(5)]
            for response, _ in personal:
                assert_store_unavailable(response)
            readiness, readiness_seconds = timed_get(f"{api}/readyz")
            assert readiness.status_code == 503 and readiness.json()["errors"]["redis"].startswith("unavailable")
            time.sleep(max(0.0, HANG_SECONDS - (time.monotonic() - paused_at)))
        finally:
            resumed_at = time.monotonic()
            own_redis.resume()
        recovery = seconds_until_ok(me, auth, 2.0)
        time.sleep(0.5)
    during = load.between(paused_at, resumed_at)
    report("SIGSTOP", during,
           f"personal 503 first {first_seconds * 1000:.0f} ms, then max {max(s for _, s in personal) * 1000:.1f} ms; "
           f"/readyz {readiness_seconds * 1000:.1f} ms; personal 200 again {recovery * 1000:.0f} ms after SIGCONT")
    assert len(during) > 200  # the load really ran through the hang
    assert all(s.status == 200 for s in during), sorted({(s.status, s.url) for s in during if s.status != 200})
    assert p99(during) < 0.100
    assert first_seconds < 1.0 and max(s for _, s in personal) < 1.0
    assert readiness_seconds < 1.0
    after = load.between(resumed_at, time.monotonic())
    assert after and all(s.status == 200 for s in after)
    assert requests.get(f"{api}/readyz", timeout=5).status_code == 200


def test_redis_killed_and_restarted_on_the_same_port(api, own_redis, token):
    me, auth = f"{api}/v1/me", {"Authorization": f"Bearer {token}"}
    assert requests.get(me, headers=auth, timeout=5).status_code == 200
    with AnonymousLoad(api) as load:
        time.sleep(0.5)
        killed_at = time.monotonic()
        own_redis.kill()
        try:
            time.sleep(0.5)
            refused, refused_seconds = timed_get(me, headers=auth)
            assert_store_unavailable(refused)
            time.sleep(1.5)
        finally:
            own_redis.start()  # same port, same AOF
        restarted_at = time.monotonic()
        recovery = seconds_until_ok(me, auth, 2.0)
        time.sleep(0.3)
    down = load.between(killed_at, restarted_at)
    report("kill -9", down, f"personal 503 in {refused_seconds * 1000:.1f} ms; personal 200 again "
                            f"{recovery * 1000:.0f} ms after the restart")
    assert down and all(s.status == 200 for s in down)
    assert p99(down) < 0.100 and refused_seconds < 1.0
    assert requests.get(me, headers=auth, timeout=5).json()  # the account survived in the AOF
