"""Search over HTTP under the same gunicorn configuration `make run` uses."""
from __future__ import annotations

import statistics
import threading
import time
from urllib.parse import urlencode

import requests

from tools import processes

# Each request is (q, region or None, extra filters).
MIXED_REQUESTS: list[tuple[str, str | None, dict[str, str]]] = [
    ("居民身份证换领", None, {}),
    ("办身份证", "150203", {}),
    ("生孩子", "150102", {}),
    ("shenfenzheng", None, {}),
    ("sfz", "150702", {}),
    ("身份正", None, {}),
    ("身份證", "150402", {}),
    ("办sfz", None, {}),
    ("农药经营许可", "150203", {}),
    ("农药经营许可", "150702", {}),
    ("公积金提取", "150602", {"audience": "自然人"}),
    ("营业执照", "150105", {"item_type": "行政许可"}),
    ("养老金", None, {"online_depth": "4"}),
    ("gjj", "152502", {}),
    ("结婚登记", "150802", {}),
    ("异地就医", "150921", {"page": "2"}),
    ("开餐馆", "150602", {}),
    ("低保", "152221", {}),
    ("护照", None, {}),
    ("不动产登记", "150121", {}),
]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def summarize_ms(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(samples, 0.50), 2),
        "p95_ms": round(percentile(samples, 0.95), 2),
        "p99_ms": round(percentile(samples, 0.99), 2),
        "mean_ms": round(statistics.fmean(samples), 2),
    }


def _concurrent_throughput(urls: list[str], *, clients: int, seconds: float) -> dict:
    """Several keep-alive clients at once, so every worker serves and the box is saturated."""
    samples: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(offset: int) -> None:
        nonlocal errors
        session = requests.Session()
        mine, failed, position = [], 0, offset
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = session.get(urls[position % len(urls)], timeout=5)
            mine.append((time.perf_counter() - started) * 1000)
            failed += response.status_code != 200
            position += 1
        with lock:
            samples.extend(mine)
            errors += failed

    threads = [threading.Thread(target=client, args=(n * 5,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"requests_per_second": round(len(samples) / elapsed, 1), "errors": errors, **summarize_ms(samples)}


COUNTIES_FOR_DISTINCT_REQUESTS = [
    "150102", "150105", "150121", "150203", "150207", "150302", "150402", "150404", "150502", "150521",
    "150602", "150603", "150702", "150781", "150802", "150821", "150902", "150921", "152201", "152221",
    "152501", "152502", "152921", "150424", "150622",
]


def _url(api_base: str, q: str, region: str | None, extra: dict[str, str]) -> str:
    params = {"q": q, **({"region": region} if region else {}), **extra}
    return f"{api_base}/v1/items/search?{urlencode(params)}"


def _sequential(session: requests.Session, urls: list[str]) -> list[float]:
    samples = []
    for url in urls:
        started = time.perf_counter()
        response = session.get(url, timeout=5)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:200]}")
    return samples


def run(api_base: str, api_process, *, rounds: int = 50) -> dict:
    """Uncached: every request distinct (query × county), so each one runs the search engine, the
    schema dump and a response-cache store. Cached: the same 20 requests repeated."""
    session = requests.Session()
    base_urls = [_url(api_base, q, region, extra) for q, region, extra in MIXED_REQUESTS]
    distinct = [_url(api_base, q, county, extra) for county in COUNTIES_FOR_DISTINCT_REQUESTS
                for q, _, extra in MIXED_REQUESTS]
    session.get(f"{api_base}/readyz", timeout=5)
    uncached = _sequential(session, distinct)
    _sequential(session, base_urls)  # fill the cache for the repeated pass
    cached = _sequential(session, base_urls * rounds)
    throughput = _concurrent_throughput(base_urls, clients=4, seconds=10)
    workers = processes.children_of(api_process.pid)
    memory = {f"worker {n}": processes.memory_mb(pid) for n, pid in enumerate(sorted(workers), 1)}
    return {
        "uncached_sequential": {"requests": len(uncached), **summarize_ms(uncached)},
        "cached_sequential": {"requests": len(cached), **summarize_ms(cached)},
        "cached_concurrent_4_clients": throughput,
        "worker_memory_mb": memory,
    }
