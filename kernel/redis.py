"""The one way a process opens Redis: short timeouts, one quick retry, so a dead store fails fast."""
from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def redis_client(url: str, *, socket_timeout: float = 1.0, connect_timeout: float = 0.5,
                 health_check_interval: int = 15) -> redis.Redis:
    # redis-py 8's default retry backs off for seconds per command when Redis refuses connections;
    # one quick retry keeps "Redis down" a fast 503 instead of a hang.
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        retry=Retry(NoBackoff(), 1),
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        health_check_interval=health_check_interval,
    )
