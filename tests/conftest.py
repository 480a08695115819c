"""Session-wide real infrastructure: a private redis-server and a small-scale search index.

Each test gets a flushed Redis and an app built by the real factory.
"""
from __future__ import annotations

import pytest
import redis

from bff import create_app
from config import test_settings
from tests.support.redis_server import RedisServer

TEST_CATALOG_SCALE = 0.02


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server):
    if not redis_server.running:
        # A test that stopped Redis and failed before restarting it must not break the rest.
        redis_server.start()
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


@pytest.fixture
def settings(redis_server, catalog_index_dir, tmp_path):
    return test_settings(
        redis_url=redis_server.url,
        index_dir=catalog_index_dir,
        data_dir=tmp_path,
        secret_dir=tmp_path / "secrets",
    )


@pytest.fixture
def app(settings, redis_client):
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()
