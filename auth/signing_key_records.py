"""Data access for the token-signing key set (``signing_keys``).

Times are epoch seconds of the injected clock on the way in and out (the key set compares them with
``clock.now()``); the table holds them as timestamptz. The active key is the one not retired; a
partial unique index allows only one. Writers take ``lock_for_change`` first so two rotations (two
hosts running ``python -m auth rotate-keys``, or a first key created by two workers at once) queue
instead of both retiring the same key.
"""
from __future__ import annotations

import json
from typing import Any

import psycopg

from kernel.clock import epoch, instant


def _record(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "private_enc": row["private_enc"],
        "public_jwk": row["public_jwk"],
        "created_at": epoch(row["created_at"]),
        "retired_at": epoch(row["retired_at"]),
    }


def load_all(conn: psycopg.Connection) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """(active kid or None, kid -> {private_enc, public_jwk, created_at, retired_at})."""
    rows = conn.execute("SELECT kid, private_enc, public_jwk, created_at, retired_at FROM signing_keys").fetchall()
    active = next((row["kid"] for row in rows if row["retired_at"] is None), None)
    return active, {row["kid"]: _record(row) for row in rows}


def lock_for_change(conn: psycopg.Connection) -> None:
    # EXCLUSIVE lets token verification keep reading while one writer at a time changes the set.
    conn.execute("LOCK TABLE signing_keys IN EXCLUSIVE MODE")


def has_active(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT 1 FROM signing_keys WHERE retired_at IS NULL").fetchone() is not None


def insert_active(conn: psycopg.Connection, kid: str, record: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO signing_keys (kid, private_enc, public_jwk, created_at) VALUES (%s, %s, %s, %s)",
        (kid, record["private_enc"], json.dumps(record["public_jwk"]), instant(record["created_at"])))


def retire_active(conn: psycopg.Connection, now: float) -> None:
    conn.execute("UPDATE signing_keys SET retired_at = %s WHERE retired_at IS NULL", (instant(now),))


def delete_retired(conn: psycopg.Connection, *, retired_before: float | None) -> None:
    """Delete retired keys; only those retired before ``retired_before`` unless it is None (all of them)."""
    if retired_before is None:
        conn.execute("DELETE FROM signing_keys WHERE retired_at IS NOT NULL")
    else:
        conn.execute("DELETE FROM signing_keys WHERE retired_at <= %s", (instant(retired_before),))
