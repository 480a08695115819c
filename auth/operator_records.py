"""Data access for console operators (``operators``). The username's UNIQUE constraint is the one
guard against two operators with one name: ``insert`` raises ``UsernameTaken`` when it fires."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors

_COLUMNS = "operator_id, username, password_hash, roles, disabled, created_at"


class UsernameTaken(Exception):
    """The database refused the insert: another operator already has this username."""


def insert(conn: psycopg.Connection, *, operator_id: str, username: str, password_hash: str,
           roles: tuple[str, ...], created_at: datetime) -> None:
    try:
        # A savepoint, so the caller's transaction stays usable after the refusal.
        with conn.transaction():
            conn.execute(
                "INSERT INTO operators (operator_id, username, password_hash, roles, created_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                (operator_id, username, password_hash, list(roles), created_at))
    except pg_errors.UniqueViolation as exc:
        if exc.diag.constraint_name == "operators_username_key":
            raise UsernameTaken(username) from None
        raise


def by_id(conn: psycopg.Connection, operator_id: str) -> dict[str, Any] | None:
    return conn.execute(f"SELECT {_COLUMNS} FROM operators WHERE operator_id = %s", (operator_id,)).fetchone()


def by_username(conn: psycopg.Connection, username: str) -> dict[str, Any] | None:
    return conn.execute(f"SELECT {_COLUMNS} FROM operators WHERE username = %s", (username,)).fetchone()


def set_disabled(conn: psycopg.Connection, operator_id: str, disabled: bool) -> None:
    conn.execute("UPDATE operators SET disabled = %s WHERE operator_id = %s", (disabled, operator_id))


def replace_password_hash(conn: psycopg.Connection, operator_id: str, expected: str, password_hash: str) -> None:
    """Rehash on login; only if the hash is still the one just verified (a concurrent password change wins)."""
    conn.execute("UPDATE operators SET password_hash = %s WHERE operator_id = %s AND password_hash = %s",
                 (password_hash, operator_id, expected))
