"""A small thread-safe in-process TTL + LRU map (the per-worker layer in front of Redis)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class LocalTTLCache:
    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, now: float) -> Any | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return None
            expires_at, value = found
            if now >= expires_at:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def put(self, key: str, value: Any, expires_at: float) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._data[key] = (expires_at, value)
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def discard(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
