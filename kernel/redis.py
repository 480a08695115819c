"""The one way a process opens Redis: short timeouts, no retry of a timeout, and the store's circuit breaker.

A hung Redis (SIGSTOPped, swapping) accepts connections and never answers, so only the socket timeout
bounds a call; redis-py's retry would then pay it twice, so only a refused/reset connection (a restarted
Redis) is retried, once and at once. Behind the timeouts, ``redis_breaker()`` (``kernel.breaker``) turns
a store that keeps timing out into immediate ``RedisUnavailable`` errors until a probe finds it answering.
"""
from __future__ import annotations

import functools

import redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.cluster import RedisCluster
from redis.retry import Retry

from kernel.breaker import CircuitBreaker
from kernel.errors import StoreUnavailable

REDIS_STORE = "redis"
CLUSTER_SCHEME = "redis-cluster://"
# What says Redis is unreachable (TimeoutError is not a ConnectionError in redis-py). BusyLoadingError
# (a ConnectionError) counts too: a Redis replaying its AOF answers nothing useful for a while.
REDIS_FAILURES: tuple[type[BaseException], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

# The API's budget per Redis call: Redis answers in well under a millisecond, so half a second is already
# a sick store, and a personal request that meets a hung Redis answers 503 well within a second.
API_SOCKET_TIMEOUT = 0.5
API_CONNECT_TIMEOUT = 0.25


class RedisUnavailable(StoreUnavailable, redis.exceptions.ConnectionError):
    """Refused by Redis's open circuit breaker. Also a redis ``ConnectionError``, so every place that
    already degrades on a Redis outage (``except redis.RedisError``) degrades the same way, at once."""


def redis_breaker(**policy) -> CircuitBreaker:
    """The process's breaker for Redis (``policy``: see ``CircuitBreaker``); ``redis_client`` adds the probe."""
    return CircuitBreaker(REDIS_STORE, failure_types=REDIS_FAILURES, open_error=RedisUnavailable, **policy)


class _Guarded:
    """Every command (scripts too: EVALSHA is a command) through the client's breaker, when it has one."""

    breaker: CircuitBreaker | None

    def execute_command(self, *args, **options):
        if self.breaker is None:
            return super().execute_command(*args, **options)  # type: ignore[misc]
        return self.breaker.call(super().execute_command, *args, **options)  # type: ignore[misc]


class GuardedRedis(_Guarded, redis.Redis):
    """A ``redis.Redis`` whose commands, scripts and pipelines go through a breaker."""

    def __init__(self, *args, breaker: CircuitBreaker | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.breaker = breaker

    def pipeline(self, transaction: bool = True, shard_hint=None) -> Pipeline:
        pipe = GuardedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe.breaker = self.breaker
        return pipe


class GuardedPipeline(Pipeline):
    """Queued commands cost nothing; ``execute`` and the immediate commands of WATCH mode are guarded."""

    breaker: CircuitBreaker | None = None

    def execute(self, raise_on_error: bool = True):
        if self.breaker is None or not (self.command_stack or self.watching):
            return super().execute(raise_on_error)
        return self.breaker.call(super().execute, raise_on_error)

    def immediate_execute_command(self, *args, **options):
        if self.breaker is None:
            return super().immediate_execute_command(*args, **options)
        return self.breaker.call(super().immediate_execute_command, *args, **options)


class GuardedRedisCluster(_Guarded, RedisCluster):
    """The cluster client behind the same breaker: every command (scripts included) is guarded; pipelines
    and transactions of one hash slot go through the cluster's own strategies."""

    def __init__(self, *args, breaker: CircuitBreaker | None = None, **kwargs) -> None:
        self.breaker = breaker  # before the cluster's own start-up commands (slot discovery) run
        super().__init__(*args, **kwargs)

    def pipeline(self, transaction=None, shard_hint=None):
        """A cluster pipeline sends its commands itself, past ``execute_command``: guard its ``execute``
        too, so an open breaker refuses a pipelined read (the response cache's) at once."""
        pipe = super().pipeline(transaction, shard_hint)
        if self.breaker is not None:
            pipe.execute = functools.partial(self.breaker.call, pipe.execute)
        return pipe


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME)


def redis_client(url: str, *, socket_timeout: float | None = API_SOCKET_TIMEOUT,
                 connect_timeout: float = API_CONNECT_TIMEOUT, health_check_interval: int = 15,
                 decode_responses: bool = True, breaker: CircuitBreaker | None = None) -> redis.Redis:
    """A client for ``url``; with ``breaker``, guarded by it (and, unless the breaker has one, a PING on
    this client's pool becomes the breaker's background probe). ``socket_timeout=None`` is for blocking
    reads (the push worker's XREADGROUP BLOCK). A ``redis-cluster://host:port`` URL (any one node) gives a
    Redis Cluster client with the same timeouts and breaker: the project's keys are hash-tagged for it."""
    if is_cluster_url(url):
        cluster = GuardedRedisCluster.from_url(
            "redis://" + url[len(CLUSTER_SCHEME):], decode_responses=decode_responses,
            socket_timeout=socket_timeout, socket_connect_timeout=connect_timeout, breaker=breaker)
        if breaker is not None and breaker.background_probe is None:
            breaker.background_probe = lambda: RedisCluster.execute_command(cluster, "PING")
        return cluster
    client = GuardedRedis.from_url(
        url,
        decode_responses=decode_responses,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        health_check_interval=health_check_interval,
    )
    client.breaker = breaker
    if breaker is not None and breaker.background_probe is None:
        unguarded = redis.Redis(connection_pool=client.connection_pool)
        breaker.background_probe = unguarded.ping
    return client


def with_bytes_responses(client: redis.Redis) -> redis.Redis:
    """The same server, pool settings and breaker, answering ``bytes`` (for the response cache)."""
    if isinstance(client, RedisCluster):
        kwargs = dict(client.get_connection_kwargs())
        if not kwargs.get("decode_responses"):
            return client
        node = client.get_default_node()
        return GuardedRedisCluster(host=node.host, port=node.port, decode_responses=False,
                                   socket_timeout=kwargs.get("socket_timeout"),
                                   socket_connect_timeout=kwargs.get("socket_connect_timeout"),
                                   breaker=getattr(client, "breaker", None))
    pool = client.connection_pool
    if not pool.connection_kwargs.get("decode_responses"):
        return client
    kwargs = {**pool.connection_kwargs, "decode_responses": False}
    copy_pool = redis.ConnectionPool(connection_class=pool.connection_class, **kwargs)
    if isinstance(client, GuardedRedis):
        return GuardedRedis(connection_pool=copy_pool, breaker=client.breaker)
    return redis.Redis(connection_pool=copy_pool)
