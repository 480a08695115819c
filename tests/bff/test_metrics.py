"""/metrics: guarded, aggregated across gunicorn workers and the push worker, bounded labels."""
from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from config import PROJECT_ROOT
from kernel.redis import redis_client as open_redis
from tools import processes
from tools.redis_server import free_port

TOKEN = "test-metrics-token-0123456789"


def _sample(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, value = line.rsplit(" ", 1)
        if all(f'{key}="{val}"' in head for key, val in labels.items()):
            total += float(value)
    return total


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_metrics_hidden_without_the_token(client, monkeypatch, headers):
    monkeypatch.setenv("MSB_METRICS_TOKEN", TOKEN)
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_metrics_off_when_no_token_is_configured(client, monkeypatch):
    monkeypatch.delenv("MSB_METRICS_TOKEN", raising=False)
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_metrics_not_in_the_openapi_document(client):
    assert "/metrics" not in client.get("/openapi.json").get_json()["paths"]


def test_route_templates_not_raw_paths_label_requests(client, monkeypatch):
    monkeypatch.setenv("MSB_METRICS_TOKEN", TOKEN)
    client.get("/v1/items/NOT-A-CODE-13912345678")
    body = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
    assert "13912345678" not in body
    assert _sample(body, "msb_http_requests_total", route="/v1/items/<string:basic_code>", status="404") >= 1
    assert 'msb_push_queue_depth{queue="wechat"}' in body


@pytest.fixture
def api_stack(redis_server, postgres_server, catalog_index_dir, dev_secret_dir, sandbox_server, tmp_path):
    if not redis_server.running:
        redis_server.start()
    open_redis(redis_server.url).flushall()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {
        "MSB_REDIS_URL": redis_server.url, "MSB_DATABASE_URL": postgres_server.url, "MSB_INDEX_DIR": str(catalog_index_dir),
        "MSB_SECRET_DIR": str(dev_secret_dir), "MSB_SANDBOX": "1", "MSB_SANDBOX_URL": sandbox_server,
        "MSB_LOG_LEVEL": "WARNING", "MSB_METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "MSB_DATA_DIR": str(tmp_path),
    }
    port = free_port()
    api = processes.start_gunicorn("wsgi:app", port=port, env=env, workers=2, threads=2,
                                   log_path=tmp_path / "api.log", extra_args=["-c", "gunicorn.conf.py"])
    worker_log = open(tmp_path / "worker.log", "ab")
    worker = subprocess.Popen([sys.executable, "-m", "push.worker"], cwd=PROJECT_ROOT, env={**os.environ, **env},
                              stdout=worker_log, stderr=worker_log)
    url = f"http://127.0.0.1:{port}"
    try:
        processes.wait_until_ready(f"{url}/readyz", timeout=60, process=api)
        yield url, metrics_dir
    finally:
        processes.stop(worker)
        processes.stop(api)
        worker_log.close()


def test_gunicorn_workers_and_the_push_worker_are_aggregated(api_stack):
    url, metrics_dir = api_stack
    session = requests.Session()

    def search(_):
        return requests.get(f"{url}/v1/items/search", params={"q": "营业执照"}, timeout=10).status_code

    def counter_files():
        return [p for p in metrics_dir.iterdir() if p.name.startswith("counter_")]

    sent = 0
    # Concurrent new connections until both gunicorn workers have served some (one sample file per
    # process that recorded something); a busy machine may hand a whole sequential round to one worker.
    with ThreadPoolExecutor(max_workers=8) as pool:
        while sent < 400 and (sent == 0 or len(counter_files()) < 2):
            assert set(pool.map(search, range(40))) == {200}
            sent += 40
    assert len(counter_files()) >= 2
    response = session.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.text
    # Repeats are answered by the hot path before Flask routes them; its label stays bounded ("hot_path").
    served = [_sample(body, "msb_http_requests_total", route=route, status="200")
              for route in ("/v1/items/search", "hot_path")]
    assert sum(served) == sent and served[0] >= 1
    timed = [_sample(body, "msb_http_request_duration_seconds_count", route=route)
             for route in ("/v1/items/search", "hot_path")]
    assert sum(timed) == sent
    # The push worker's process imports the same metric definitions into the same directory.
    assert _sample(body, "msb_push_queue_depth", queue="delayed") == 0
