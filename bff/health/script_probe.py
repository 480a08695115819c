"""Does Redis run our scripts? Part of ``/readyz``.

A PING proves a store answers, not that it accepts what the project sends it: a Redis Cluster refuses a
script whose keys span slots (CROSSSLOT), and a managed or locked-down Redis may refuse scripting
altogether (NOSCRIPT, NOPERM, "unknown command"). Every rate limit, login guard and token rotation is a
script, so such a store is not ready. The probe is one EVAL (no script cache involved) over two keys that
share a hash tag, exactly the shape of our own scripts; it only reads. Its answer is kept a few seconds,
so a load balancer polling ``/readyz`` costs Redis one script per worker per interval.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import redis

# Two keys, one hash tag: the shape of every multi-key script of the project (see auth/keys.py).
PROBE_KEYS = ("bff:ready:{script_probe}:a", "bff:ready:{script_probe}:b")
_PROBE = "local found = 0 for _, key in ipairs(KEYS) do found = found + redis.call('EXISTS', key) end return found"
PROBE_CACHE_SECONDS = 5.0


class ScriptProbe:
    """Per process. ``check()`` returns ``"ok"`` or why the store refuses our scripts. Connection
    problems are not its business (the PING and the breaker report those): they propagate."""

    def __init__(self, client: redis.Redis, *, keys: tuple[str, ...] = PROBE_KEYS,
                 cache_seconds: float = PROBE_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._keys = keys
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._status = "ok"

    def check(self) -> str:
        with self._lock:
            if self._checked_at is not None and self._clock() - self._checked_at < self._cache_seconds:
                return self._status
        try:
            self._client.eval(_PROBE, len(self._keys), *self._keys)
            status = "ok"
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ClusterError):
            raise  # unreachable or a cluster that is down: "unavailable", reported by the caller
        except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException) as refusal:
            status = f"refuses scripts ({_reason(refusal)})"
        with self._lock:
            self._status, self._checked_at = status, self._clock()
        return status


def _reason(refusal: Exception) -> str:
    """CROSSSLOT, NoScriptError, NoPermissionError…, or for a bare ResponseError the server's first word
    (``ERR``…). Nothing personal can be in any of them."""
    if isinstance(refusal, redis.exceptions.RedisClusterException) and "slot" in str(refusal):
        return "CROSSSLOT"  # the cluster client refuses it before sending, as the server would
    if type(refusal) is redis.exceptions.ResponseError:
        return str(refusal).split(" ", 1)[0] or "ResponseError"
    return type(refusal).__name__
