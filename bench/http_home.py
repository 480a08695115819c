"""Cached ``/v1/home`` and ``/v1/items/search`` vs a bare Flask JSON endpoint, same gunicorn config.

``run(api_base, bare_base, api_process)`` returns throughput and latency of each (several keep-alive
client threads on ``http.client``, cheaper than requests so the load generator steals less of the
2 cores), the ratio to the bare endpoint (target ≥ 0.8, p99 ≤ 25 ms), the cache hit ratio seen in
``X-Cache``, and payload sizes (raw and gzip) per channel, mode and language.

Standalone: ``python -m bench.http_home`` starts its own Redis, the API (``wsgi:app``) and the bare
app (``bench.bare_app:app``), both 2 workers × 4 gthreads, on the index under var/ (override with
MSB_INDEX_DIR).
"""
from __future__ import annotations

import gzip
import http.client
import json
import os
import statistics
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench.http_search import MIXED_REQUESTS, percentile
from tools import processes

CLIENTS = 4
SECONDS = 6.0
ROUNDS = 2
HOME_REGIONS = ("150102", "150203", "150602", "152502", "150000")
HOME_HEADERS = (
    {},
    {"X-Client-Channel": "wechat"},
    {"X-Client-Channel": "alipay"},
    {"X-Client-Mode": "elder"},
    {"X-Client-Channel": "wechat", "Accept-Language": "mn"},
)


def _requests_for_home() -> list[tuple[str, dict[str, str]]]:
    return [(f"/v1/home?region={region}", headers) for region in HOME_REGIONS for headers in HOME_HEADERS]


def _requests_for_search() -> list[tuple[str, dict[str, str]]]:
    out = []
    for q, region, extra in MIXED_REQUESTS:
        params = {"q": q, **({"region": region} if region else {}), **extra}
        out.append((f"/v1/items/search?{urlencode(params)}", {}))
    return out


def _get(connection: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> tuple[int, bytes, str | None]:
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    return response.status, body, response.getheader("X-Cache")


def _load(base: str, requests_: list[tuple[str, dict[str, str]]], *, clients: int, seconds: float) -> dict:
    netloc = urlsplit(base).netloc
    samples: list[float] = []
    statuses: Counter[str] = Counter()
    errors = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(offset: int) -> None:
        nonlocal errors
        connection = http.client.HTTPConnection(netloc, timeout=5)
        mine: list[float] = []
        seen: Counter[str] = Counter()
        failed, position = 0, offset
        while time.perf_counter() < deadline:
            path, headers = requests_[position % len(requests_)]
            started = time.perf_counter()
            status, _, cache = _get(connection, path, headers)
            mine.append((time.perf_counter() - started) * 1000)
            failed += status != 200
            if cache:
                seen[cache] += 1
            position += 1
        connection.close()
        with lock:
            samples.extend(mine)
            statuses.update(seen)
            errors += failed

    threads = [threading.Thread(target=client, args=(n * 7,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cached = sum(statuses[s] for s in ("hot", "local", "hit", "stale", "coalesced", "waited"))
    return {
        "requests_per_second": round(len(samples) / elapsed, 1),
        "errors": errors,
        "p50_ms": round(percentile(samples, 0.50), 2),
        "p99_ms": round(percentile(samples, 0.99), 2),
        "mean_ms": round(statistics.fmean(samples), 2),
        "x_cache": dict(statuses),
        "hit_ratio": round(cached / sum(statuses.values()), 4) if statuses else None,
    }


def _median_run(runs: list[dict]) -> dict:
    best = sorted(runs, key=lambda r: r["requests_per_second"])[len(runs) // 2]
    return {**best, "runs_rps": [r["requests_per_second"] for r in runs]}


def payload_sizes(api_base: str) -> dict:
    netloc = urlsplit(api_base).netloc
    connection = http.client.HTTPConnection(netloc, timeout=10)
    sizes = {}
    for channel in ("app", "wechat", "alipay"):
        for mode in ("standard", "elder"):
            for language, header in (("zh", "zh-CN"), ("mn", "mn-Mong")):
                status, body, _ = _get(connection, "/v1/home?region=150102", {
                    "X-Client-Channel": channel, "X-Client-Mode": mode, "Accept-Language": header})
                if status != 200:
                    raise RuntimeError(f"home {channel}/{mode}/{language} answered {status}")
                sizes[f"{channel}/{mode}/{language}"] = {"raw_bytes": len(body), "gzip_bytes": len(gzip.compress(body))}
    connection.close()
    return sizes


def run(api_base: str, bare_base: str, api_process, *, clients: int = CLIENTS, seconds: float = SECONDS,
        rounds: int = ROUNDS) -> dict:
    home, search = _requests_for_home(), _requests_for_search()
    for base, requests_ in ((api_base, home), (api_base, search), (bare_base, [("/json", {}), ("/json-bytes", {})])):
        netloc = urlsplit(base).netloc
        connection = http.client.HTTPConnection(netloc, timeout=10)
        for _ in range(2):  # twice: fill the cache, then warm every worker's local layer a little
            for path, headers in requests_:
                status, body, _ = _get(connection, path, headers)
                if status != 200:
                    raise RuntimeError(f"{base}{path} answered {status}: {body[:200]!r}")
        connection.close()
    results: dict[str, list[dict]] = {"bare_json": [], "bare_json_bytes": [], "home": [], "search": []}
    for _ in range(rounds):  # interleaved, so drifting machine load hits every case alike
        results["bare_json"].append(_load(bare_base, [("/json", {})], clients=clients, seconds=seconds))
        results["home"].append(_load(api_base, home, clients=clients, seconds=seconds))
        results["bare_json_bytes"].append(_load(bare_base, [("/json-bytes", {})], clients=clients, seconds=seconds))
        results["search"].append(_load(api_base, search, clients=clients, seconds=seconds))
    figures = {name: _median_run(runs) for name, runs in results.items()}
    bare = figures["bare_json"]["requests_per_second"]
    bare_bytes = figures["bare_json_bytes"]["requests_per_second"]
    workers = processes.children_of(api_process.pid) if api_process is not None else []
    return {
        "config": {"gunicorn": "2 workers x 4 gthreads (both apps)", "client_threads": clients,
                   "seconds_per_run": seconds, "rounds": rounds},
        **figures,
        "ratio_vs_bare_json": {"home": round(figures["home"]["requests_per_second"] / bare, 3),
                               "search": round(figures["search"]["requests_per_second"] / bare, 3)},
        "ratio_vs_bare_json_bytes": {"home": round(figures["home"]["requests_per_second"] / bare_bytes, 3),
                                     "search": round(figures["search"]["requests_per_second"] / bare_bytes, 3)},
        "targets": {"ratio_min": 0.8, "p99_max_ms": 25.0},
        "home_payload_sizes": payload_sizes(api_base),
        "worker_memory_mb": {f"worker {n}": processes.memory_mb(pid) for n, pid in enumerate(sorted(workers), 1)},
    }


def main() -> None:
    from config import PROJECT_ROOT
    from tools.dev_keys import ensure_dev_keys
    from tools.postgres_server import migrated_postgres
    from tools.redis_server import RedisServer, free_port

    work_dir = PROJECT_ROOT / "var" / "bench" / "home"
    work_dir.mkdir(parents=True, exist_ok=True)
    index_dir = Path(os.environ.get("MSB_INDEX_DIR", PROJECT_ROOT / "var" / "index"))
    secrets = ensure_dev_keys(work_dir / "secrets")
    redis_server = RedisServer(work_dir / "redis")
    redis_server.start()
    postgres_context = migrated_postgres(prefix="msb-bench-pg-")
    postgres = postgres_context.__enter__()
    api_port, bare_port = free_port(), free_port()
    env = {"MSB_REDIS_URL": redis_server.url, "MSB_DATABASE_URL": postgres.url, "MSB_INDEX_DIR": str(index_dir), "MSB_SECRET_DIR": str(secrets),
           "MSB_LOG_LEVEL": "WARNING", "MSB_SANDBOX": "1"}
    api = processes.start_gunicorn("wsgi:app", port=api_port, env=env, workers=2, threads=4,
                                   log_path=work_dir / "api.log")
    bare = processes.start_gunicorn("bench.bare_app:app", port=bare_port, env={}, workers=2, threads=4,
                                    log_path=work_dir / "bare.log")
    try:
        processes.wait_until_ready(f"http://127.0.0.1:{api_port}/readyz", process=api)
        processes.wait_until_ready(f"http://127.0.0.1:{bare_port}/readyz", process=bare)
        figures = run(f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{bare_port}", api)
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    finally:
        processes.stop(api)
        processes.stop(bare)
        redis_server.stop()
        postgres_context.__exit__(None, None, None)


if __name__ == "__main__":
    main()
