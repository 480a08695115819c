"""Login and refresh throughput over HTTP, against a running API and sandbox.

``run(api_base, sandbox_base)`` measures:

* **WeChat login** (``POST /v1/auth/wechat/login``): the sandbox users and their one-time ``wx.login``
  codes are all created through the ``/_drive`` API *before* the timed loop, so only the BFF login
  (one real ``jscode2session`` call to the sandbox, the account lookup or creation, a new refresh family,
  an ES256 signature, the audit entry) is timed.
* **Refresh** (``POST /v1/auth/refresh``): each client thread rotates its own sessions' refresh tokens
  in a chain (every answer's refresh token is the next request's).

The domain limits logins to 20 per client IP per 60 s. The bench gives every login request its own
``X-Forwarded-For`` address (198.18.0.0/15, the benchmarking range), which only counts when the API
runs with ``MSB_TRUSTED_PROXY_HOPS=1`` (ProxyFix then takes the client address from that header).
Without it the run still completes, but logins past the 20th answer 429 and are reported as such.
"""
from __future__ import annotations

import ipaddress
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.http_search import summarize_ms

LOGIN_PATH = "/v1/auth/wechat/login"
REFRESH_PATH = "/v1/auth/refresh"
BENCH_NETWORK = ipaddress.ip_network("198.18.0.0/15")
PREPARED_LOGINS_PER_SECOND = 250  # codes made ahead per second of login run; the run ends early if they run out
MAX_PREPARED = 4000
TIMEOUT = 5


def _prepare_codes(sandbox_base: str, count: int, appid: str | None, workers: int = 8) -> list[str]:
    local = threading.local()

    def one(_: int) -> str:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        user = session.post(f"{sandbox_base}/_drive/wechat/users", json={"unionid": True}, timeout=TIMEOUT)
        user.raise_for_status()
        body = {"user_id": user.json()["user_id"], **({"appid": appid} if appid else {})}
        code = session.post(f"{sandbox_base}/_drive/wechat/login-code", json=body, timeout=TIMEOUT)
        code.raise_for_status()
        return code.json()["code"]

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(count)))


def _client_addresses():
    for offset in itertools.count(1):
        yield str(BENCH_NETWORK[offset % BENCH_NETWORK.num_addresses])


def _timed_logins(api_base: str, codes: list[str], *, clients: int, seconds: float) -> tuple[dict, list[str]]:
    lock = threading.Lock()
    pending = iter(codes)
    addresses = _client_addresses()
    samples: list[float] = []
    statuses: dict[int, int] = {}
    refresh_tokens: list[str] = []
    deadline = time.perf_counter() + seconds
    exhausted = False

    def client() -> None:
        nonlocal exhausted
        session = requests.Session()
        mine: list[float] = []
        while time.perf_counter() < deadline:
            with lock:
                code = next(pending, None)
                address = next(addresses)
            if code is None:
                exhausted = True
                break
            started = time.perf_counter()
            response = session.post(f"{api_base}{LOGIN_PATH}", json={"code": code},
                                    headers={"X-Forwarded-For": address}, timeout=TIMEOUT)
            mine.append((time.perf_counter() - started) * 1000)
            with lock:
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 200:
                    refresh_tokens.append(response.json()["refresh_token"])
        with lock:
            samples.extend(mine)

    elapsed = _run_threads(client, clients)
    return _figures(samples, statuses, elapsed, codes_exhausted=exhausted), refresh_tokens


def _timed_refreshes(api_base: str, tokens: list[str], *, clients: int, seconds: float) -> dict:
    lock = threading.Lock()
    samples: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    chains = [tokens[n::clients] for n in range(clients)]

    def client(chain: list[str]) -> None:
        session = requests.Session()
        mine: list[float] = []
        mine_statuses: dict[int, int] = {}
        position = 0
        while chain and time.perf_counter() < deadline:
            slot = position % len(chain)
            started = time.perf_counter()
            response = session.post(f"{api_base}{REFRESH_PATH}", json={"refresh_token": chain[slot]}, timeout=TIMEOUT)
            mine.append((time.perf_counter() - started) * 1000)
            mine_statuses[response.status_code] = mine_statuses.get(response.status_code, 0) + 1
            if response.status_code == 200:
                chain[slot] = response.json()["refresh_token"]
                position += 1
            else:
                chain.pop(slot)
        with lock:
            samples.extend(mine)
            for status, count in mine_statuses.items():
                statuses[status] = statuses.get(status, 0) + count

    elapsed = _run_threads(client, clients, args=[(chain,) for chain in chains])
    return _figures(samples, statuses, elapsed)


def _run_threads(target, clients: int, args: list[tuple] | None = None) -> float:
    threads = [threading.Thread(target=target, args=(args[n] if args else ())) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def _figures(samples: list[float], statuses: dict[int, int], elapsed: float, **extra) -> dict:
    ok = statuses.get(200, 0)
    figures = {
        "requests": len(samples),
        "ok": ok,
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "seconds": round(elapsed, 2),
        "requests_per_second": round(ok / elapsed, 1) if elapsed else 0.0,
        **extra,
    }
    if samples:
        figures.update(summarize_ms(samples))
    return figures


def run(api_base: str, sandbox_base: str, *, seconds: float = 10, clients: int = 4, wechat_appid: str | None = None) -> dict:
    """Login then refresh throughput. Start the API with ``MSB_TRUSTED_PROXY_HOPS=1`` (see module doc)."""
    api_base, sandbox_base = api_base.rstrip("/"), sandbox_base.rstrip("/")
    count = max(200, min(MAX_PREPARED, int(seconds * PREPARED_LOGINS_PER_SECOND)))
    prepare_started = time.perf_counter()
    codes = _prepare_codes(sandbox_base, count, wechat_appid)
    prepare_seconds = round(time.perf_counter() - prepare_started, 2)
    # Warm up each worker's lazily built AuthService and connection pools outside the timed loop.
    warm = requests.Session()
    for _ in range(4):
        warm.post(f"{api_base}{REFRESH_PATH}", json={"refresh_token": "rt1." + "A" * 43}, timeout=TIMEOUT)
    login, refresh_tokens = _timed_logins(api_base, codes, clients=clients, seconds=seconds)
    rate_limited = login["statuses"].get("429", 0)
    refresh = _timed_refreshes(api_base, refresh_tokens, clients=clients, seconds=seconds)
    return {
        "clients": clients,
        "login_wechat": {**login, "prepared_codes": count, "prepare_seconds": prepare_seconds},
        "refresh": refresh,
        "per_ip_login_limit": {
            "rule": "20 logins / 60 s per client IP (domain)",
            "workaround": "each login request sends a distinct X-Forwarded-For from 198.18.0.0/15; "
            "the API must run with MSB_TRUSTED_PROXY_HOPS=1 for it to count",
            "rate_limited_logins": rate_limited,
            "workaround_effective": rate_limited == 0,
        },
    }
