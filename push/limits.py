"""Per-channel send rate: a token bucket in Redis shared by every dispatcher thread and process.

Taking tokens is one Lua script (refill by elapsed time, grant up to what is there, store), so two
dispatchers can never both spend the same token: Notify's bucket, but check-and-consume atomic
(notes §3 step 5). It fails **closed**: if Redis is down nothing is sent (the dispatcher cannot run
without Redis anyway).

**One clock: the store's.** The script reads ``redis.call('TIME')``, never a time sent by the caller.
When every sender host passed its own ``time.time()``, one host whose clock ran ahead pushed the
bucket's ``at`` into the future, and as ``at`` was never moved back every other dispatcher found no
elapsed time, so no refill, for the length of the skew (spinning and growing the AOF meanwhile). The
stored ``at`` is now always the store's own "now", and a bucket whose ``at`` lies ahead of it (left
by an older version, or after the server's clock was stepped back) refills from "now" instead of
waiting. Scripts that call ``TIME`` need effects replication, the default since Redis 5 (and the
only mode in Redis 7), so replicas and the AOF receive the resulting ``HSET``, not the script.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import redis

from push import keys

# KEYS: bucket. ARGV: rate/s, burst, wanted. Returns {granted, wait_ms}.
_TAKE = """
local rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('hmget', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
if now > at then tokens = math.min(burst, tokens + (now - at) * rate) end
local grant = math.min(want, math.floor(tokens))
tokens = tokens - grant
redis.call('hset', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('pexpire', KEYS[1], 60000)
local wait = 0
if grant < want then wait = math.ceil((1 - tokens) / rate * 1000) end
return {grant, wait}
"""


class RateLimiter:
    def __init__(self, redis_client: redis.Redis, rates: Mapping[str, float], *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._redis = redis_client
        self._rates = dict(rates)
        self._sleep = sleep
        self._take = redis_client.register_script(_TAKE)

    def try_take(self, channel: str, wanted: int) -> tuple[int, float]:
        """(tokens granted now, seconds until the next one)."""
        rate = float(self._rates.get(channel) or 0)
        if rate <= 0:
            return wanted, 0.0
        burst = max(1.0, rate)  # one second's worth
        granted, wait_ms = self._take(keys=[keys.rate_bucket(channel)], args=[rate, burst, wanted])
        return int(granted), int(wait_ms) / 1000

    def acquire(self, channel: str, wanted: int, stop: threading.Event | None = None) -> int:
        """Block until ``wanted`` tokens were taken (or ``stop`` is set); returns how many."""
        taken = 0
        while taken < wanted:
            granted, wait = self.try_take(channel, wanted - taken)
            taken += granted
            if taken < wanted:
                if stop is not None and stop.is_set():
                    break
                self._sleep(min(max(wait, 0.001), 0.5))
        return taken
