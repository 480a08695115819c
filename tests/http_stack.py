"""The API (and, when a test needs its own settings, a sandbox) as real gunicorn servers.

Started exactly as ``make run`` does: ``gunicorn -c gunicorn.conf.py wsgi:app``, so the envelope
worker and the request limits of gunicorn.conf.py are the ones under test.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from kernel.redis import redis_client as open_redis
from tools import processes
from tools.dev_keys import sandbox_env
from tools.redis_server import free_port

API_WORKER = "bff.gunicorn_worker.EnvelopeThreadWorker"


@contextlib.contextmanager
def api_server(data_dir: Path, *, redis_url: str, database_url: str, index_dir: Path, secret_dir: Path,
               sandbox_url: str, env: dict[str, str] | None = None, threads: int = 4) -> Iterator[str]:
    open_redis(redis_url, socket_timeout=10).flushall()  # a single Redis or a cluster (every primary)
    full_env = {
        "MSB_REDIS_URL": redis_url, "MSB_DATABASE_URL": database_url, "MSB_INDEX_DIR": str(index_dir), "MSB_SECRET_DIR": str(secret_dir),
        "MSB_SANDBOX": "1", "MSB_SANDBOX_URL": sandbox_url, "MSB_LOG_LEVEL": "WARNING",
        "MSB_DATA_DIR": str(data_dir), "MSB_ENV": "test", "PROMETHEUS_MULTIPROC_DIR": str(data_dir / "prometheus"),
        **(env or {}),
    }
    port = free_port()
    # start_gunicorn names the gthread worker on the command line; the config file's class is restated.
    process = processes.start_gunicorn("wsgi:app", port=port, env=full_env, workers=1, threads=threads,
                                       log_path=data_dir / "api.log",
                                       extra_args=["-c", "gunicorn.conf.py", "--worker-class", API_WORKER])
    url = f"http://127.0.0.1:{port}"
    try:
        processes.wait_until_ready(f"{url}/readyz", timeout=60, process=process)
        yield url
    finally:
        processes.stop(process)


@contextlib.contextmanager
def sandbox_server(data_dir: Path, *, secret_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    process = processes.start_gunicorn("sandbox.wsgi:app", port=port,
                                       env={"MSB_ENV": "test", **sandbox_env(secret_dir), **(env or {})},
                                       workers=1, threads=8, log_path=data_dir / "sandbox.log")
    url = f"http://127.0.0.1:{port}"
    try:
        processes.wait_until_ready(f"{url}/_drive/health", timeout=20, process=process)
        yield url
    finally:
        processes.stop(process)
