"""A private PostgreSQL server for `make run`, tests and benchmarks: its own data dir, its own port.

The machine may already run a PostgreSQL on 5432; we never use it. initdb and postgres refuse to
run as root, so as root the server runs as the ``postgres`` system user that Debian's packages create
(``scripts/ensure_postgres.sh`` installs them when missing).
"""
from __future__ import annotations

import contextlib
import glob
import tempfile
from collections.abc import Iterator
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tools.redis_server import free_port

DATABASE = "msb"
ROLE = "msb"


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    # Debian keeps the server binaries out of PATH, one directory per major version.
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise RuntimeError(f"{name} is not installed; `make test` installs PostgreSQL (scripts/ensure_postgres.sh)")
    return candidates[-1]


class PostgresServer:
    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True,
                 settings: dict[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        # Tests trade crash safety for speed (fsync off); `make run` keeps every commit on disk.
        self.durable = durable
        self.extra_settings = dict(settings or {})  # e.g. a bulk-loading bench's bigger buffers
        self._process: subprocess.Popen | None = None
        self._as_user = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def _run(self, *command: str) -> None:
        result = subprocess.run(list(command), user=self._as_user, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {result.stderr.strip() or result.stdout.strip()}")

    def _prepare_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._as_user:
            # The server user must own its directory and be able to reach it.
            shutil.chown(self.data_dir, user=self._as_user)
            self.data_dir.chmod(0o700)

    def initialise(self) -> None:
        self._prepare_dir()
        if (self.pgdata / "PG_VERSION").exists():
            return
        self._run(_binary("initdb"), "-D", str(self.pgdata), "-U", ROLE, "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8")

    def start(self, timeout: float = 30.0) -> None:
        self.initialise()
        settings = [
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"unix_socket_directories={self.data_dir}",
            "-c", "max_connections=200",
            "-c", "shared_buffers=128MB",
        ]
        if not self.durable:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        for name, value in self.extra_settings.items():
            settings += ["-c", f"{name}={value}"]
        log = open(self.data_dir / "postgres.log", "ab")
        self._process = subprocess.Popen(
            [_binary("postgres"), "-D", str(self.pgdata), "-p", str(self.port), *settings],
            user=self._as_user, stdout=log, stderr=log,
            # Its own session, away from the test runner's signals (pause/kill reach backends by parent pid).
            start_new_session=True,
        )
        self._wait_ready(timeout)
        self._ensure_database()

    def _connect(self, dbname: str):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=ROLE, dbname=dbname,
                               connect_timeout=1, autocommit=True)

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"postgres exited; see {self.data_dir / 'postgres.log'}")
            try:
                with self._connect("postgres"):
                    return
            except psycopg.OperationalError:
                time.sleep(0.05)
        raise RuntimeError(f"postgres did not answer on port {self.port} within {timeout}s")

    def _ensure_database(self) -> None:
        with self._connect("postgres") as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def stop(self, *, fast: bool = True) -> None:
        """SIGINT is PostgreSQL's fast shutdown: roll back open transactions, checkpoint, exit."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT if fast else signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None

    def _server_pids(self) -> list[int]:
        """The postmaster and every backend: backends call setsid() (each leads its own process group),
        so a signal to the postmaster's group would miss them; they are found as its children instead."""
        if self._process is None:
            return []
        root = self._process.pid
        pids = [root]
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == root:  # fields[1] is the parent pid
                pids.append(int(stat.split("/")[2]))
        return pids

    def _signal_all(self, signum: int) -> None:
        for pid in self._server_pids():
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """kill -9 the server and every backend, as a power cut would; the next start runs crash recovery."""
        if self._process is not None and self._process.poll() is None:
            self._signal_all(signal.SIGKILL)
            self._process.wait(timeout=10)
        self._process = None

    def pause(self) -> None:
        """SIGSTOP the whole server (a hung store: connections accepted, nothing answered)."""
        if self._process is not None:
            self._signal_all(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._signal_all(signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None


@contextlib.contextmanager
def migrated_postgres(*, prefix: str = "msb-pg-", durable: bool = False,
                      settings: dict[str, str] | None = None) -> Iterator[PostgresServer]:
    """A private server on a free port with the project's schema applied, removed afterwards. Its data dir
    is under /tmp, not a caller's tmp dir: as root the server runs as `postgres`, who cannot enter 0700 dirs."""
    from tools import migrate

    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    server = PostgresServer(data_dir, durable=durable, settings=settings)
    try:
        server.start()
        migrate.main([server.url])
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
