"""``kernel.redis`` against a real private Redis that hangs (SIGSTOP) or restarts: timeouts are short and not
retried, the breaker opens and refuses at once (commands, scripts, pipelines alike), a background PING
closes it again once Redis answers."""
from __future__ import annotations

import time

import pytest
import redis

from kernel.breaker import CLOSED, OPEN
from kernel.errors import StoreUnavailable
from kernel.redis import RedisUnavailable, redis_breaker, redis_client
from tools.redis_server import RedisServer


@pytest.fixture
def own_redis(tmp_path):
    """Not the session's Redis: these tests stop and kill theirs."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    if server.running:
        server.resume()
    server.stop()


def wait_for(predicate, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.01)
    raise AssertionError(f"not within {timeout}s")


def test_a_hung_redis_opens_the_breaker_then_everything_fails_at_once(own_redis):
    breaker = redis_breaker(failure_threshold=3, cooldown_seconds=1.0)
    client = redis_client(own_redis.url, socket_timeout=0.2, breaker=breaker)
    script = client.register_script("return redis.call('get', KEYS[1])")
    client.set("k", "v")
    own_redis.pause()
    started = time.monotonic()
    for _ in range(3):
        with pytest.raises(redis.exceptions.TimeoutError):
            client.get("k")
    # three timeouts of 0.2 s each, none retried
    assert time.monotonic() - started < 0.9
    assert breaker.state == OPEN
    for call in (lambda: client.get("k"), lambda: script(keys=["k"]),
                 lambda: client.pipeline().get("k").set("j", 1).execute()):
        started = time.monotonic()
        with pytest.raises(RedisUnavailable) as refused:
            call()
        assert time.monotonic() - started < 0.05
        # both a StoreUnavailable (503 envelope) and a redis ConnectionError (existing fallbacks)
        assert isinstance(refused.value, StoreUnavailable)
        assert isinstance(refused.value, redis.exceptions.ConnectionError)

    own_redis.resume()
    time.sleep(1.0)  # the cool-down: the next call starts the background probe and is refused
    with pytest.raises(RedisUnavailable):
        client.get("k")
    wait_for(lambda: breaker.state == CLOSED, 1.0)
    assert client.get("k") == "v" and script(keys=["k"]) == "v"


def test_a_restarted_redis_is_reconnected_without_an_error(own_redis):
    breaker = redis_breaker()
    client = redis_client(own_redis.url, breaker=breaker)
    client.set("k", "v")
    own_redis.kill()
    with pytest.raises(redis.exceptions.ConnectionError):
        client.get("k")
    own_redis.start()  # same port; the AOF kept the key
    assert client.get("k") == "v"  # the dead pooled connection is retried once, at once
    assert breaker.state == CLOSED


def test_error_answers_keep_the_breaker_closed(own_redis):
    breaker = redis_breaker(failure_threshold=2)
    client = redis_client(own_redis.url, breaker=breaker)
    client.set("k", "v")
    for _ in range(3):
        with pytest.raises(redis.exceptions.ResponseError):
            client.lpush("k", "x")  # WRONGTYPE
    with client.pipeline() as pipe:  # WATCH mode's immediate commands go through the breaker too
        pipe.watch("k")
        pipe.multi()
        pipe.set("k", "w")
        pipe.execute()
    assert client.get("k") == "w" and breaker.state == CLOSED
