"""The one way a process opens PostgreSQL: a small pool, and deadlines on everything.

A hung server (SIGSTOP, a dead network path) must cost a request milliseconds, not seconds. Four limits
do that: ``connect_timeout`` for a new connection, the pool's checkout timeout when every connection is
busy, the server's ``statement_timeout``/``lock_timeout`` for slow work on a live server, and — because a
frozen server enforces nothing — a client-side deadline on every wait for the socket
(``DeadlineConnection``). A connection that missed its deadline is closed, never reused mid-protocol.

psycopg 3 with psycopg_pool rather than an ORM: the records are few, their SQL is written out in each
package's small data-access module, and COPY (the population bench) is first-class in psycopg.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from kernel.breaker import CircuitBreaker
from kernel.errors import StoreUnavailable

log = logging.getLogger(__name__)


POSTGRES_STORE = "postgres"
# What says PostgreSQL is unreachable or sick: connection failures, missed deadlines, statement timeouts
# (all OperationalError) and an exhausted pool. A constraint violation is an answer, not a failure.
POSTGRES_FAILURES: tuple[type[BaseException], ...] = (psycopg.OperationalError, PoolTimeout)


class DatabaseUnavailable(StoreUnavailable):
    """The system of record did not answer in time (down, hung, every connection busy) or its breaker is open."""

    def __init__(self, store: str = POSTGRES_STORE, retry_after: int = 1, message: str | None = None) -> None:
        super().__init__(store, retry_after, message)


class DeadlineConnection(psycopg.Connection):
    """A connection whose every socket wait has a deadline (``io_timeout`` seconds, None = none)."""

    io_timeout: float | None = 2.0

    def wait(self, gen, interval: float = 0.1, timeout: float | None = None):  # type: ignore[override]
        try:
            return super().wait(gen, interval=interval, timeout=timeout if timeout is not None else self.io_timeout)
        except pg_errors._WaitTimeout as missed:  # noqa: SLF001 — psycopg's own signal for a missed deadline
            # Mid-protocol: the connection cannot be reused. Closing it makes the pool discard it.
            self.pgconn.finish()
            raise psycopg.OperationalError("database did not answer within the deadline") from missed


class Database:
    """A pooled PostgreSQL for one process. ``transaction()`` is the unit of work: one connection, one
    transaction, committed when the block ends, rolled back when it raises."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 8, checkout_timeout: float = 0.5,
                 connect_timeout: int = 1, statement_timeout_ms: int = 2000, io_timeout: float | None = 0.8,
                 application_name: str = "msb") -> None:
        self.url = url
        connection_class = type("MsbConnection", (DeadlineConnection,), {"io_timeout": io_timeout})
        self._connection_class = connection_class
        self._checkout_timeout = checkout_timeout
        options = (f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={min(statement_timeout_ms, 1000)} "
                   "-c idle_in_transaction_session_timeout=10000 -c TimeZone=UTC")
        self.pool = ConnectionPool(
            url, min_size=min_size, max_size=max_size, open=False, timeout=checkout_timeout,
            connection_class=connection_class, name=f"{application_name}-pool",
            kwargs={"connect_timeout": connect_timeout, "options": options, "application_name": application_name,
                    "row_factory": dict_row},
            # Reconnect attempts after the server went away: short, so recovery follows a restart quickly.
            reconnect_timeout=30.0,
        )
        self._opened = False
        self._open_lock = threading.Lock()
        self._connect_timeout = connect_timeout
        # After a few failures requests fail at once; a background probe (a fresh connection) closes it again.
        self.breaker = CircuitBreaker(POSTGRES_STORE, failure_types=POSTGRES_FAILURES, open_error=DatabaseUnavailable,
                                      background_probe=self._probe)

    def _probe(self) -> None:
        with self._connection_class.connect(self.url, connect_timeout=self._connect_timeout,
                                            autocommit=True) as conn:
            conn.execute("SELECT 1")

    def _ensure_open(self) -> None:
        if not self._opened:
            with self._open_lock:
                if not self._opened:
                    self.pool.open(wait=False)
                    self._opened = True

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        self._ensure_open()
        try:
            with self.breaker.guarding(), self.pool.connection(timeout=self._checkout_timeout) as conn:
                # An explicit block, so a nested ``conn.transaction()`` is a savepoint even before the
                # first statement (psycopg would otherwise make it the outer transaction and commit it).
                with conn.transaction():
                    yield conn
        except POSTGRES_FAILURES as exc:
            log.warning("database unavailable", extra={"fields": {"error": type(exc).__name__}})
            raise DatabaseUnavailable(retry_after=self.breaker.retry_after_seconds()) from exc

    def ping(self) -> bool:
        try:
            with self.transaction() as conn:
                conn.execute("SELECT 1")
            return True
        except DatabaseUnavailable:
            return False

    def close(self) -> None:
        if self._opened:
            self.pool.close(timeout=2)
            self._opened = False


_shared: dict[tuple[int, str], Database] = {}
_shared_lock = threading.Lock()


def database_for(url: str, **options: Any) -> Database:
    """One pool per process and database URL: every app, service and test in a process shares it
    (a forked gunicorn worker gets its own, keyed by pid)."""
    key = (os.getpid(), url)
    with _shared_lock:
        database = _shared.get(key)
        if database is None:
            database = _shared[key] = Database(url, **options)
        return database
