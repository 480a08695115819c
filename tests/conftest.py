"""Session-wide real infrastructure: a private redis-server, a private PostgreSQL (migrated by the real
migrations) and a small-scale search index.

Each test gets a flushed Redis, emptied tables and an app built by the real factory. The database URL is
also exported as MSB_DATABASE_URL, so every server and worker a test starts uses the private one.

``MSB_TEST_REDIS=cluster`` (``make test-cluster``) runs the same tests against a private 3-master Redis
Cluster instead: ``redis_server.url`` is then its ``redis-cluster://`` URL, which every app, server and
worker a test starts understands (``kernel.redis.redis_client``).
"""
from __future__ import annotations

import os

import pytest
import redis

from bff import create_app
from config import settings_for_tests
from kernel.redis import redis_client as open_redis
from tests import http_stack
from tests.redis_mode import REDIS_CLUSTER_MODE
from tests.stores import emptied_database
from tools.dev_keys import ensure_dev_keys
from tools.postgres_server import migrated_postgres
from tools.redis_cluster import RedisClusterServers
from tools.redis_server import RedisServer

TEST_CATALOG_SCALE = 0.02


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    if REDIS_CLUSTER_MODE:
        server = RedisClusterServers(tmp_path_factory.mktemp("redis-cluster"))
    else:
        server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    with migrated_postgres(prefix="msb-test-pg-") as server:
        previous = os.environ.get("MSB_DATABASE_URL")
        os.environ["MSB_DATABASE_URL"] = server.url
        try:
            yield server
        finally:
            if previous is None:
                os.environ.pop("MSB_DATABASE_URL", None)
            else:
                os.environ["MSB_DATABASE_URL"] = previous


@pytest.fixture
def database(postgres_server):
    return emptied_database(postgres_server)


@pytest.fixture
def redis_client(redis_server):
    if not redis_server.running:
        # A test that stopped Redis and failed before restarting it must not break the rest.
        redis_server.start()
    if REDIS_CLUSTER_MODE:
        client = open_redis(redis_server.url, socket_timeout=10)  # FLUSHALL goes to every primary
    else:
        client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    client.flushall()
    yield client
    client.close()


@pytest.fixture(scope="session")
def catalog_index_dir(tmp_path_factory):
    from catalog.build import build_index

    index_dir = tmp_path_factory.mktemp("index")
    build_index(index_dir, scale=TEST_CATALOG_SCALE)
    return index_dir


@pytest.fixture(scope="session")
def dev_secret_dir(tmp_path_factory):
    return ensure_dev_keys(tmp_path_factory.mktemp("secrets"))


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory, dev_secret_dir):
    """The stand-ins as their own server over real HTTP, as `make run` starts them."""
    with http_stack.sandbox_server(tmp_path_factory.mktemp("sandbox"), secret_dir=dev_secret_dir) as url:
        yield url


@pytest.fixture
def sandbox(sandbox_server):
    """A sandbox reset to its seeded state for each test."""
    import requests

    requests.post(f"{sandbox_server}/_drive/reset", timeout=5).raise_for_status()
    return sandbox_server


@pytest.fixture
def settings(redis_server, database, catalog_index_dir, dev_secret_dir, sandbox_server, tmp_path):
    return settings_for_tests(
        redis_url=redis_server.url,
        database_url=database.url,
        index_dir=catalog_index_dir,
        data_dir=tmp_path,
        secret_dir=dev_secret_dir,
        sandbox_url=sandbox_server,
    )


@pytest.fixture
def app(settings, redis_client):
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()
