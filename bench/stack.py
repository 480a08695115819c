"""The whole system as `make run` starts it, on free ports, for the HTTP benches."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Iterator

from tools import processes
from tools.dev_keys import ensure_dev_keys, sandbox_env
from tools.postgres_server import migrated_postgres
from tools.redis_server import RedisServer, free_port


@dataclass(frozen=True)
class Stack:
    api_base: str
    sandbox_base: str
    bare_base: str
    redis_url: str
    api_process: Popen


@contextlib.contextmanager
def running_stack(*, index_dir: Path, work_dir: Path, database_url: str | None = None) -> Iterator[Stack]:
    """``database_url``: an existing (e.g. populated) database instead of a fresh private one."""
    with contextlib.ExitStack() as stack_exit:
        yield from _running_stack(stack_exit, index_dir=index_dir, work_dir=work_dir, database_url=database_url)


def _running_stack(stack_exit: contextlib.ExitStack, *, index_dir: Path, work_dir: Path,
                   database_url: str | None) -> Iterator[Stack]:
    secrets = ensure_dev_keys(work_dir / "secrets")
    redis_server = RedisServer(work_dir / "redis")
    redis_server.start()
    if database_url is None:
        database_url = stack_exit.enter_context(migrated_postgres(prefix="msb-bench-pg-")).url
    sandbox_port, api_port, bare_port = free_port(), free_port(), free_port()
    sandbox = processes.start_gunicorn("sandbox.wsgi:app", port=sandbox_port, env=sandbox_env(secrets),
                                       workers=1, threads=8, log_path=work_dir / "bench-sandbox.log")
    api_env = {
        "MSB_REDIS_URL": redis_server.url,
        "MSB_DATABASE_URL": database_url,
        "MSB_INDEX_DIR": str(index_dir),
        "MSB_SECRET_DIR": str(secrets),
        "MSB_SANDBOX": "1",
        "MSB_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}",
        "MSB_LOG_LEVEL": "WARNING",
        # The login bench sends one X-Forwarded-For per simulated citizen (see bench/http_auth.py).
        "MSB_TRUSTED_PROXY_HOPS": "1",
    }
    api = processes.start_gunicorn("wsgi:app", port=api_port, env=api_env, workers=2, threads=4,
                                   log_path=work_dir / "bench-api.log")
    # The baseline for the cache figures: a bare Flask JSON endpoint under the same gunicorn configuration.
    bare = processes.start_gunicorn("bench.bare_app:app", port=bare_port, env={}, workers=2, threads=4,
                                    log_path=work_dir / "bench-bare.log")
    try:
        processes.wait_until_ready(f"http://127.0.0.1:{sandbox_port}/_drive/health", process=sandbox)
        processes.wait_until_ready(f"http://127.0.0.1:{api_port}/readyz", process=api)
        processes.wait_until_ready(f"http://127.0.0.1:{bare_port}/readyz", process=bare)
        yield Stack(f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{sandbox_port}",
                    f"http://127.0.0.1:{bare_port}", redis_server.url, api)
    finally:
        processes.stop(bare)
        processes.stop(api)
        processes.stop(sandbox)
        redis_server.stop()
