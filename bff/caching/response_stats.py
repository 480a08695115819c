"""How the response store served its answers: per-process counters and the shared hit ratio.

Plain Python (no Flask, no Redis here): the store adds what is due to the Redis hash
``response_keys.STATS_KEY`` itself, so a Redis outage only delays the shared counts.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping

__all__ = ["COUNTERS", "Counters", "hit_ratio"]

COUNTERS = ("local", "hit", "stale", "miss", "coalesced", "waited", "bypass", "refresh",
            "refresh_skipped", "refresh_error", "lock_timeout", "redis_error")
SERVED_FROM_CACHE = ("local", "hit", "stale", "coalesced", "waited")
SERVED = SERVED_FROM_CACHE + ("miss", "bypass")


class Counters:
    """This process's counts, and the part of them not yet added to the shared Redis hash. Thread-safe."""

    def __init__(self, flush_interval: float) -> None:
        self._flush_interval = flush_interval
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._unflushed: Counter[str] = Counter()
        self._last_flush = time.monotonic()

    def add(self, name: str) -> bool:
        """Count one; True when a flush to Redis is due."""
        with self._lock:
            self._counts[name] += 1
            self._unflushed[name] += 1
            return time.monotonic() - self._last_flush >= self._flush_interval

    def add_local(self, name: str) -> None:
        """Count one in this process only (Redis errors: Redis is what failed)."""
        with self._lock:
            self._counts[name] += 1

    def local(self) -> dict[str, int]:
        with self._lock:
            return {name: self._counts.get(name, 0) for name in COUNTERS}

    def take_due(self, *, force: bool) -> Counter[str] | None:
        """The counts to add to Redis now (and forget here), or None when nothing is due."""
        now = time.monotonic()
        with self._lock:
            if not self._unflushed or (not force and now - self._last_flush < self._flush_interval):
                return None
            pending, self._unflushed = self._unflushed, Counter()
            self._last_flush = now
        return pending

    def give_back(self, pending: Counter[str]) -> None:
        """Counts that could not reach Redis: added again with the next flush."""
        with self._lock:
            self._unflushed.update(pending)


def hit_ratio(counts: Mapping[str, int] | None) -> float | None:
    """Answers served from a cache layer over all answers (None before any answer)."""
    if not counts:
        return None
    served = sum(counts.get(name, 0) for name in SERVED)
    if not served:
        return None
    return sum(counts.get(name, 0) for name in SERVED_FROM_CACHE) / served
