"""The HTTP foundation: envelope, probes, request ids, validators, logs."""
from __future__ import annotations

import json
import time
import logging

import pytest

from bff import create_app
from config import ConfigError, Settings, settings_for_tests
from tests.redis_mode import REDIS_CLUSTER_MODE, single_redis_only


def test_liveness_needs_nothing(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readiness_reports_redis_postgres_and_catalogue(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"redis": "ok", "postgres": "ok", "catalogue": "ok"}
    assert response.json["stores"]["postgres"]["breaker"] == "closed"
    assert response.json["catalogue_version"]


def test_readiness_reports_each_store_and_is_503_while_its_breaker_is_open(client):
    import redis as redis_lib

    ready = client.get("/readyz").json
    assert ready["stores"]["redis"]["status"] == "ok" and ready["stores"]["redis"]["breaker"] == "closed"
    breaker = client.application.extensions["services"].breakers["redis"]

    def timing_out():
        raise redis_lib.exceptions.TimeoutError("Timeout reading from socket")

    for _ in range(breaker.failure_threshold):
        with pytest.raises(redis_lib.exceptions.TimeoutError):
            breaker.call(timing_out)
    response = client.get("/readyz")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.json["errors"] == {"redis": "unavailable (circuit breaker open)"}


def test_readiness_is_503_without_an_index(settings, redis_client, tmp_path):
    app = create_app(settings.with_changes(index_dir=tmp_path / "no-index"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["error"] == "not_ready"
    assert "catalogue" in response.json["errors"]
    assert response.headers["Retry-After"]


def _on_every_redis_node(redis_client, *command):
    """ACL is per node: on the test cluster, change every node."""
    from redis.cluster import RedisCluster

    if isinstance(redis_client, RedisCluster):
        redis_client.execute_command(*command, target_nodes=RedisCluster.ALL_NODES)
    else:
        redis_client.execute_command(*command)


def test_readiness_is_503_while_redis_refuses_scripts(client, redis_client):
    # A store that answers PING but refuses EVAL (here by ACL, as a locked-down managed Redis would)
    # cannot run one rate limit or token rotation: not ready.
    _on_every_redis_node(redis_client, "ACL", "SETUSER", "default", "-eval")
    try:
        response = client.get("/readyz")
    finally:
        _on_every_redis_node(redis_client, "ACL", "SETUSER", "default", "+eval")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.json["errors"] == {"redis": "refuses scripts (NoPermissionError)"}


def test_script_probe_is_cached_for_a_few_seconds(redis_client):
    from bff.health.script_probe import ScriptProbe

    now = [0.0]
    probe = ScriptProbe(redis_client, cache_seconds=5, clock=lambda: now[0])
    assert probe.check() == "ok"
    _on_every_redis_node(redis_client, "ACL", "SETUSER", "default", "-eval")
    try:
        now[0] = 4.9
        assert probe.check() == "ok"  # cached: polling /readyz costs Redis one script per interval
        now[0] = 5.0
        assert probe.check() == "refuses scripts (NoPermissionError)"
    finally:
        _on_every_redis_node(redis_client, "ACL", "SETUSER", "default", "+eval")
    now[0] = 10.0
    assert probe.check() == "ok"


@pytest.mark.skipif(not REDIS_CLUSTER_MODE, reason="only a Redis Cluster refuses keys of different slots")
def test_script_probe_reports_a_cluster_refusing_keys_of_different_slots(redis_client):
    from bff.health.script_probe import PROBE_KEYS, ScriptProbe

    assert ScriptProbe(redis_client).check() == "ok"  # the probe's own keys share a hash tag
    untagged = tuple(f"bff:ready:probe-{n}" for n in range(8))  # eight names: surely not all one slot
    assert ScriptProbe(redis_client, keys=untagged).check() == "refuses scripts (CROSSSLOT)"
    assert len({redis_client.keyslot(key) for key in PROBE_KEYS}) == 1


@single_redis_only
def test_readiness_is_503_when_redis_is_down(redis_server, client):
    redis_server.stop()
    try:
        response = client.get("/readyz")
    finally:
        redis_server.start()
    assert response.status_code == 503
    assert response.json["errors"]["redis"].startswith("unavailable")


@pytest.mark.parametrize(
    "method, path, status, error",
    [
        ("GET", "/no/such/path", 404, "not_found"),
        ("POST", "/healthz", 405, "method_not_allowed"),
    ],
)
def test_errors_share_one_envelope(client, method, path, status, error):
    response = client.open(path, method=method)
    assert response.status_code == status
    body = response.json
    assert set(body) == {"code", "status", "message", "error", "errors"}
    assert body["code"] == status and body["error"] == error


def test_request_id_is_echoed_or_generated(client):
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-12345678"})
    assert echoed.headers["X-Request-ID"] == "abc-12345678"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"})
    assert generated.headers["X-Request-ID"] != "bad id <script>"
    assert len(generated.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize("weak", [False, True])
def test_etag_and_304_with_strong_and_weak_tags(client, weak):
    first = client.get("/healthz")
    etag = first.headers["ETag"]
    sent = f"W/{etag}" if weak else etag
    second = client.get("/healthz", headers={"If-None-Match": sent})
    assert second.status_code == 304
    assert second.data == b""
    assert second.headers["ETag"] == etag
    assert second.headers["Cache-Control"] == first.headers["Cache-Control"]
    assert client.get("/healthz", headers={"If-None-Match": '"other"'}).status_code == 200


def test_openapi_and_docs_are_served(client):
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "/v1/items/search" in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and b"swagger" in docs.data.lower()
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200


def test_one_json_log_line_per_request_without_query_strings(client, caplog):
    caplog.set_level(logging.INFO, logger="msb.request")
    client.get("/healthz?phone=13812345678", headers={"X-Request-ID": "req-00000001"})
    lines = [r for r in caplog.records if r.name == "msb.request"]
    assert len(lines) == 1
    fields = lines[0].fields
    assert fields["method"] == "GET" and fields["path"] == "/healthz" and fields["status"] == 200
    assert fields["request_id"] == "req-00000001" and fields["duration_ms"] >= 0
    assert "13812345678" not in json.dumps(fields)


def test_log_formatter_redacts_personal_data():
    from bff.request_log import JsonFormatter

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "id 15010219900101123X phone 13812345678 tok eyJhbGciOi.eyJzdWIiOi.sig", None, None)
    line = JsonFormatter().format(record)
    assert "15010219900101123X" not in line and "13812345678" not in line and "eyJhbGciOi" not in line


def test_settings_from_env_are_typed_and_validated():
    settings = Settings.from_env({"MSB_SANDBOX": "1", "MSB_CATALOG_SCALE": "0.5", "MSB_DATA_DIR": "/tmp/msb"})
    assert settings.sandbox_enabled is True and settings.catalog_scale == 0.5
    assert str(settings.index_dir) == "/tmp/msb/index"
    with pytest.raises(ConfigError):
        Settings.from_env({"MSB_SANDBOX": "maybe"})
    with pytest.raises(ConfigError):
        Settings.from_env({"MSB_ENV": "production", "MSB_SANDBOX": "1"})
    assert settings_for_tests().testing


def test_readiness_is_503_while_postgres_is_stopped_and_recovers(client, postgres_server):
    postgres_server.stop()
    try:
        response = client.get("/readyz")
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert response.json["errors"]["postgres"].startswith("unavailable")
        assert client.get("/v1/items/search", query_string={"q": "身份证"}).status_code == 200  # search needs no database
    finally:
        postgres_server.start()
    deadline = time.monotonic() + 5
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "readiness did not recover within 5 s of the restart"
        time.sleep(0.1)
