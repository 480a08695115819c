"""``ResponseCache``: cache-aside for anonymous JSON responses on Redis, with an in-process layer.

Read path (``get_or_compute``)::

    local layer (≤ LOCAL_TTL_SECONDS, never past fresh)  → "local"
    GET entry and tag generations (one pipelined round trip)
      fresh                                              → "hit"
      stale (fresh_until ≤ now < stale_until)            → "stale" + ONE background refresh
      missing / invalidated                              → fill:
        threads of this process coalesce on one leader   → "coalesced"
        leader takes SET lock NX PX (one per key across processes), re-reads, computes, stores
                                                         → "miss"
        a leader that lost the lock polls until the winner's entry appears
                                                         → "waited"
    Redis unreachable or its breaker open: compute, keep it in the local layer only
                                                         → "bypass"

Redis errors never escape: the cache marks itself unavailable, answers by computing, and tries
Redis again ``retry_interval`` seconds later (no restart needed). Per-user data has no place here:
``private=True`` raises ``PrivateResponseRefused``. The stored format and ``CachedResponse`` live in
``response_entries``, the counters in ``response_stats``.
"""
from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis

from bff.caching import response_keys as keys
from bff.caching.response_keys import RoutePolicy, Variant
from bff.caching.local_layer import LocalTTLCache
from bff.caching.response_entries import (COMPRESS_THRESHOLD, CachedResponse, Entry, body_bytes, decode, encode,
                                          etag_for)
from bff.caching.response_stats import Counters, hit_ratio
from kernel.breaker import CircuitBreaker
from kernel.redis import redis_client, with_bytes_responses

log = logging.getLogger("msb.cache")

__all__ = ["ResponseCache", "CachedResponse", "PrivateResponseRefused", "etag_for"]

_RELEASE_LOCK = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
end
return 0
"""


class PrivateResponseRefused(ValueError):
    """Per-user (``Cache-Control: private``) data must never enter the shared cache."""


class _Flight:
    __slots__ = ("done", "result", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: CachedResponse | None = None
        self.error: BaseException | None = None


class ResponseCache:
    """One per process (build it after fork or let redis-py reconnect). Thread-safe."""

    def __init__(self, redis_url: str | None = None, *, client: redis.Redis | None = None,
                 clock: Callable[[], float] = time.time, rng: Callable[[], float] = random.random,
                 local_ttl: float = keys.LOCAL_TTL_SECONDS, local_maxsize: int = keys.LOCAL_MAXSIZE,
                 lock_ttl_ms: int = keys.LOCK_TTL_MS, wait_timeout: float | None = None,
                 retry_interval: float = 0.5, compress_threshold: int = COMPRESS_THRESHOLD,
                 stats_flush_interval: float = 1.0, socket_timeout: float = 0.25,
                 breaker: CircuitBreaker | None = None) -> None:
        if (redis_url is None) == (client is None):
            raise ValueError("give exactly one of redis_url or client")
        if client is None:
            # Shorter than the API's own timeout: an anonymous answer can always be computed instead.
            # ``breaker`` is the process's Redis breaker: while it is open, reads fail at once and count
            # as misses ("bypass"), so a hung Redis costs an anonymous request nothing.
            client = redis_client(redis_url, decode_responses=False, socket_timeout=socket_timeout,
                                  connect_timeout=socket_timeout, breaker=breaker)
        self._redis = with_bytes_responses(client)
        self._release_script = self._redis.register_script(_RELEASE_LOCK)
        self._clock = clock
        self._rng = rng
        self._local_ttl = local_ttl
        self._local = LocalTTLCache(local_maxsize)
        self._lock_ttl_ms = lock_ttl_ms
        self._wait_timeout = lock_ttl_ms / 1000 if wait_timeout is None else wait_timeout
        self._retry_interval = retry_interval
        self._compress_threshold = compress_threshold

        self._state_lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}
        self._refreshing: set[str] = set()
        self._refresh_threads: set[threading.Thread] = set()
        self._available = True
        self._retry_at = 0.0
        self._pending_tags: set[str] = set()
        self._counters = Counters(stats_flush_interval)

    # -- public -------------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """False since the last Redis error, True again after the next successful Redis call."""
        return self._available

    def get_or_compute(self, route: str, params: Mapping[str, Any] | None, variant: Variant,
                       compute: Callable[[], Any], *, private: bool = False,
                       policy: RoutePolicy | None = None) -> CachedResponse:
        """The cached response for (route, params, variant), computing it with ``compute()`` on a miss.

        ``compute`` returns the final JSON-able body (already dumped through the response schema)
        or ready ``bytes``; it must not depend on the request context, because a stale hit runs it
        in a background thread. Its exceptions propagate and nothing is stored.
        """
        if private:
            raise PrivateResponseRefused(f"{route}: private responses are never stored in the shared cache")
        policy = policy or keys.policy_for(route)
        key = keys.entry_key(route, params, variant)
        now = self._clock()
        local = self._local.get(key, now)
        if local is not None:
            return self._served(local, "local", now)
        if not self._redis_usable():
            return self._bypass_outage(key, policy, compute)
        try:
            entry, generations = self._read(key, policy.tags)
        except redis.RedisError as error:
            self._redis_failed(error)
            return self._bypass_outage(key, policy, compute)
        if entry is not None and entry.generations == generations:
            if now < entry.fresh_until:
                self._remember(key, entry, now)
                return self._served(entry, "hit", now)
            if now < entry.stale_until:
                self._refresh_in_background(key, policy, compute)
                return self._served(entry, "stale", now)
        return self._fill(key, policy, compute)

    def invalidate_tag(self, tag: str) -> int | None:
        """Bump the tag's generation: every entry computed under the old one is ignored from now
        on (this process at once, other processes within ``LOCAL_TTL_SECONDS``). Returns the new
        generation, or None when Redis is down (retried on the next successful Redis call)."""
        gen_key = keys.generation_key(tag)
        self._local.clear()
        try:
            generation = int(self._redis.incr(gen_key))
        except redis.RedisError as error:
            self._redis_failed(error)
            with self._state_lock:
                self._pending_tags.add(tag)
            return None
        self._redis_ok()
        return generation

    def ping(self) -> bool:
        """Probe Redis now (ignoring the retry interval) and update ``available``."""
        try:
            self._redis.ping()
        except redis.RedisError as error:
            self._redis_failed(error)
            return False
        self._redis_ok()
        return True

    def stats(self) -> dict[str, Any]:
        """Counters of this process, the shared Redis counters (None if unreachable), hit ratio."""
        self.flush_stats(force=True)
        local = self._counters.local()
        shared: dict[str, int] | None = None
        if self._redis_usable():
            try:
                raw = self._redis.hgetall(keys.STATS_KEY)
                shared = {k.decode(): int(v) for k, v in raw.items()}
            except redis.RedisError as error:
                self._redis_failed(error)
        return {"available": self._available, "local": local, "shared": shared,
                "hit_ratio": hit_ratio(local), "shared_hit_ratio": hit_ratio(shared) if shared else None}

    def flush_stats(self, *, force: bool = False) -> None:
        """Add this process's counts to the Redis hash ``bff:c:stats`` (HINCRBY, one pipeline)."""
        pending = self._counters.take_due(force=force)
        if pending is None:
            return
        if not self._redis_usable():
            self._counters.give_back(pending)
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for name, count in pending.items():
                pipe.hincrby(keys.STATS_KEY, name, count)
            pipe.execute()
        except redis.RedisError as error:
            self._redis_failed(error)
            self._counters.give_back(pending)

    def wait_for_refreshes(self, timeout: float = 5.0) -> bool:
        """Join the background refresh threads (tests, shutdown). True if all finished."""
        deadline = time.monotonic() + timeout
        while True:
            with self._state_lock:
                threads = list(self._refresh_threads)
            if not threads:
                return True
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                with self._state_lock:
                    return not any(t.is_alive() for t in self._refresh_threads)

    def clear_local(self) -> None:
        self._local.clear()

    def close(self) -> None:
        self.wait_for_refreshes(timeout=1.0)
        self._redis.close()

    # -- Redis state ----------------------------------------------------------------------------

    def _redis_usable(self) -> bool:
        return self._available or time.monotonic() >= self._retry_at

    def _redis_failed(self, error: Exception) -> None:
        with self._state_lock:
            was_available = self._available
            self._available = False
            self._retry_at = time.monotonic() + self._retry_interval
        self._counters.add_local("redis_error")
        if was_available:
            log.warning("response cache: Redis unavailable, computing uncached (%s)", error)

    def _redis_ok(self) -> None:
        if self._available and not self._pending_tags:
            return
        with self._state_lock:
            recovered = not self._available
            self._available = True
            pending, self._pending_tags = self._pending_tags, set()
        if recovered:
            log.info("response cache: Redis reachable again")
        for tag in pending:
            self.invalidate_tag(tag)

    # -- entries --------------------------------------------------------------------------------

    def _read(self, key: str, tags: tuple[str, ...]) -> tuple[Entry | None, dict[str, int]]:
        # Two slots on a cluster (see response_keys): one pipelined round trip, no transaction. Plain
        # GETs, because a cluster pipeline refuses MGET; the generations still go to one node.
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(key)
            for tag in tags:
                pipe.get(keys.generation_key(tag))
            replies = pipe.execute()
        self._redis_ok()
        generations = {tag: int(raw or 0) for tag, raw in zip(tags, replies[1:])}
        return decode(replies[0]), generations

    def _new_entry(self, compute: Callable[[], Any], policy: RoutePolicy,
                   generations: dict[str, int]) -> Entry:
        body = body_bytes(compute())
        now = self._clock()
        fresh_until = now + policy.ttl * (1 - policy.jitter * self._rng())
        return Entry(body=body, etag=etag_for(body), fresh_until=fresh_until,
                     stale_until=fresh_until + policy.stale, created_at=now, generations=generations)

    def _store(self, key: str, entry: Entry) -> None:
        now = self._clock()
        ttl_ms = max(1, int((entry.stale_until - now) * 1000))
        try:
            self._redis.set(key, encode(entry, self._compress_threshold), px=ttl_ms)
        except redis.RedisError as error:
            self._redis_failed(error)
            return
        self._remember(key, entry, now)

    def _remember(self, key: str, entry: Entry, now: float) -> None:
        self._local.put(key, entry, min(now + self._local_ttl, entry.fresh_until))

    def _served(self, entry: Entry, status: str, now: float) -> CachedResponse:
        self._count(status)
        return CachedResponse(body=entry.body, etag=entry.etag, status=status,
                              age=max(0.0, now - entry.created_at),
                              fresh_for=max(0.0, entry.fresh_until - now))

    def _bypass_outage(self, key: str, policy: RoutePolicy, compute: Callable[[], Any]) -> CachedResponse:
        """Redis is down or its breaker open: compute, and keep the answer in this process's layer for
        the usual local TTL, so an outage costs each worker one computation per key and interval."""
        entry = self._new_entry(compute, policy, {})
        now = self._clock()
        self._remember(key, entry, now)
        self._count("bypass")
        return CachedResponse(body=entry.body, etag=entry.etag, status="bypass", age=0.0, fresh_for=0.0)

    def _bypass(self, compute: Callable[[], Any]) -> CachedResponse:
        body = body_bytes(compute())
        self._count("bypass")
        return CachedResponse(body=body, etag=etag_for(body), status="bypass", age=0.0, fresh_for=0.0)

    # -- filling a miss ------------------------------------------------------------------------

    def _fill(self, key: str, policy: RoutePolicy, compute: Callable[[], Any]) -> CachedResponse:
        with self._state_lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
        assert flight is not None
        if not leader:
            if flight.done.wait(self._wait_timeout + 1.0) and flight.result is not None:
                result = flight.result
                self._count("coalesced")
                return CachedResponse(result.body, result.etag, "coalesced", result.age, result.fresh_for)
            if flight.error is not None:
                raise flight.error
            return self._bypass(compute)
        try:
            flight.result = self._fill_as_leader(key, policy, compute)
            return flight.result
        except BaseException as error:
            flight.error = error
            raise
        finally:
            with self._state_lock:
                self._flights.pop(key, None)
            flight.done.set()

    def _fill_as_leader(self, key: str, policy: RoutePolicy, compute: Callable[[], Any]) -> CachedResponse:
        lock = keys.lock_key(key)
        token = secrets.token_hex(16)
        deadline = time.monotonic() + self._wait_timeout
        pause = 0.005
        while True:
            try:
                acquired = self._redis.set(lock, token, nx=True, px=self._lock_ttl_ms)
            except redis.RedisError as error:
                self._redis_failed(error)
                return self._bypass(compute)
            if acquired:
                return self._compute_holding_lock(key, lock, token, policy, compute)
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
            try:
                entry, generations = self._read(key, policy.tags)
            except redis.RedisError as error:
                self._redis_failed(error)
                return self._bypass(compute)
            now = self._clock()
            if entry is not None and entry.generations == generations and now < entry.fresh_until:
                self._remember(key, entry, now)
                return self._served(entry, "waited", now)
            if time.monotonic() >= deadline:
                self._count("lock_timeout")
                return self._bypass(compute)

    def _compute_holding_lock(self, key: str, lock: str, token: str, policy: RoutePolicy,
                              compute: Callable[[], Any]) -> CachedResponse:
        try:
            # Another holder may have filled the entry between our read and our lock.
            entry, generations = self._read(key, policy.tags)
            now = self._clock()
            if entry is not None and entry.generations == generations and now < entry.fresh_until:
                self._remember(key, entry, now)
                return self._served(entry, "waited", now)
            entry = self._new_entry(compute, policy, generations)
            self._store(key, entry)
            return self._served(entry, "miss", self._clock())
        except redis.RedisError as error:
            self._redis_failed(error)
            return self._bypass(compute)
        finally:
            self._release(lock, token)

    def _release(self, lock: str, token: str) -> None:
        try:
            self._release_script(keys=[lock], args=[token])
        except redis.RedisError as error:
            self._redis_failed(error)  # the lock expires by itself after lock_ttl_ms

    # -- stale-while-revalidate ----------------------------------------------------------------

    def _refresh_in_background(self, key: str, policy: RoutePolicy, compute: Callable[[], Any]) -> None:
        with self._state_lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)
            thread = threading.Thread(target=self._refresh, args=(key, policy, compute),
                                      name=f"cache-refresh-{key[-8:]}", daemon=True)
            self._refresh_threads.add(thread)
        thread.start()

    def _refresh(self, key: str, policy: RoutePolicy, compute: Callable[[], Any]) -> None:
        lock, token = keys.lock_key(key), secrets.token_hex(16)
        try:
            if not self._redis.set(lock, token, nx=True, px=self._lock_ttl_ms):
                self._count("refresh_skipped")  # another process is refreshing it
                return
            try:
                entry, generations = self._read(key, policy.tags)
                if (entry is not None and entry.generations == generations
                        and self._clock() < entry.fresh_until):
                    self._count("refresh_skipped")  # refreshed meanwhile
                    return
                self._store(key, self._new_entry(compute, policy, generations))
                self._count("refresh")
            finally:
                self._release(lock, token)
        except redis.RedisError as error:
            self._redis_failed(error)
        except Exception:
            self._count("refresh_error")
            log.exception("response cache: background refresh of %s failed; serving stale", key)
        finally:
            with self._state_lock:
                self._refreshing.discard(key)
                self._refresh_threads.discard(threading.current_thread())

    # -- counters ------------------------------------------------------------------------------

    def _count(self, name: str) -> None:
        if self._counters.add(name):
            self.flush_stats()

