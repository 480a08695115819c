"""Caches on the real test Redis (flushed per test by ``redis_client``), and a settable clock."""
from __future__ import annotations

import threading

import pytest

from bff.caching.response_store import ResponseCache


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_cache(redis_server, redis_client):
    caches: list[ResponseCache] = []

    def make(**options) -> ResponseCache:
        cache = ResponseCache(redis_server.url, **options)
        caches.append(cache)
        return cache

    yield make
    for cache in caches:
        cache.close()


class Counting:
    """A compute function that counts its calls (thread-safe) and can be slowed down."""

    def __init__(self, payload=None, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay
        self.payload = payload if payload is not None else {"value": 1}
        self._lock = threading.Lock()

    def __call__(self):
        import time

        with self._lock:
            self.calls += 1
            call = self.calls
        if self.delay:
            time.sleep(self.delay)
        payload = self.payload(call) if callable(self.payload) else self.payload
        return payload


@pytest.fixture
def counting():
    return Counting
