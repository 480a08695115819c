"""The kernel's client for a Redis Cluster URL: same timeouts and breaker, one slot per hash tag."""
from __future__ import annotations

import pytest
from redis.exceptions import RedisClusterException
from redis.exceptions import TimeoutError as RedisTimeout

from kernel.redis import is_cluster_url, redis_breaker, redis_client, with_bytes_responses
from tools.redis_cluster import RedisClusterServers


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    servers = RedisClusterServers(tmp_path_factory.mktemp("cluster"))
    servers.start()
    yield servers
    servers.stop()


def test_a_cluster_url_gives_a_cluster_client_that_keeps_tagged_keys_together(cluster):
    assert is_cluster_url(cluster.url) and not is_cluster_url("redis://127.0.0.1:6391/0")
    client = redis_client(cluster.url, breaker=redis_breaker())
    client.set("{acc_1}:a", "1")
    client.set("{acc_1}:b", "2")
    assert client.get_connection_kwargs()["decode_responses"] is True
    script = client.register_script("return redis.call('get', KEYS[1]) + redis.call('get', KEYS[2])")
    assert script(keys=["{acc_1}:a", "{acc_1}:b"]) == 3

    def swap(pipe):
        a = pipe.get("{acc_1}:a")
        pipe.multi()
        pipe.set("{acc_1}:b", a)

    client.transaction(swap, "{acc_1}:a")
    assert client.get("{acc_1}:b") == "1"
    with pytest.raises(RedisClusterException):  # untagged keys on different slots are refused, as in production
        script(keys=["acc_1:a", "acc_2:b"])
    assert with_bytes_responses(client).get("{acc_1}:a") == b"1"
    slots = {client.keyslot(f"key{n}") for n in range(20)}
    assert len({client.nodes_manager.get_node_from_slot(slot).port for slot in slots}) == 3  # three masters


def test_a_cluster_client_needs_a_reachable_node_at_start(cluster):
    breaker = redis_breaker()
    client = redis_client(cluster.url, breaker=breaker)
    client.ping()
    assert breaker.state == "closed"
    # Unlike a single Redis, a cluster client needs one reachable node to learn the slot map at start.
    with pytest.raises(RedisClusterException):
        redis_client("redis-cluster://127.0.0.1:1", breaker=redis_breaker())


def test_an_open_breaker_refuses_cluster_pipelines_at_once(cluster):
    from kernel.redis import RedisUnavailable

    breaker = redis_breaker(failure_threshold=1)
    client = redis_client(cluster.url, breaker=breaker)
    with client.pipeline(transaction=False) as pipe:
        pipe.set("{p}:a", "1")
        pipe.get("{p}:a")
        assert pipe.execute() == [True, "1"]
    with pytest.raises(RedisTimeout):
        breaker.call(_time_out)
    assert breaker.state == "open"
    with client.pipeline(transaction=False) as pipe:
        pipe.get("{p}:a")
        with pytest.raises(RedisUnavailable):
            pipe.execute()


def _time_out():
    raise RedisTimeout("Timeout reading from socket")
