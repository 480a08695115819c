"""Start project servers as real subprocesses (gunicorn, the sandbox) and read their memory."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from config import PROJECT_ROOT

VENV_BIN = Path(sys.executable).parent


def wait_until_ready(url: str, *, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} answered")
        try:
            response = requests.get(url, timeout=1)
            if response.status_code == 200:
                return
            last_error = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            last_error = type(exc).__name__
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout}s ({last_error})")


def start_gunicorn(app_path: str, *, port: int, env: dict[str, str], workers: int, threads: int,
                   log_path: Path, extra_args: list[str] | None = None) -> subprocess.Popen:
    command = [
        str(VENV_BIN / "gunicorn"), app_path,
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
        # Each server its own control socket beside its log (the default path is shared machine-wide).
        "--control-socket", str(log_path.parent / f"gunicorn-{port}.ctl"),
        *(extra_args or []),
    ]
    log_file = open(log_path, "ab")
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env={**os.environ, **env}, stdout=log_file, stderr=log_file)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found.append(int(entry.name))
    return found


def memory_mb(pid: int) -> dict[str, float]:
    """RSS and PSS: the index is an mmap shared by every worker, which RSS counts in full for each."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss"):
            values[key.lower()] = round(int(rest.split()[0]) / 1024, 1)
    return values
