"""Data access for the in-app inbox (``inbox_messages``): one row per message and citizen.

Delivery is ``INSERT … ON CONFLICT DO NOTHING`` on (account_id, message_id): the message id is
deterministic (campaign × citizen × channel, or the account notice's id), so the dispatcher's
at-least-once delivery stores a message once. Pages are keyset pages on (delivered_at, message_id),
newest first; unread counts use a partial index over the unread rows.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg


def insert(conn: psycopg.Connection, account_id: str, message_id: str, delivered_at: datetime,
           body: dict[str, Any]) -> bool:
    """True when the message is new; False when it was delivered before (nothing changes)."""
    row = conn.execute(
        "INSERT INTO inbox_messages (account_id, message_id, delivered_at, body) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (account_id, message_id) DO NOTHING RETURNING 1 AS added",
        (account_id, message_id, delivered_at, json.dumps(body, ensure_ascii=False))).fetchone()
    return row is not None


def trim(conn: psycopg.Connection, account_id: str, keep: int) -> int:
    """Delete all but the newest ``keep`` messages of one citizen; returns how many went."""
    return conn.execute(
        "DELETE FROM inbox_messages WHERE account_id = %(a)s AND (delivered_at, message_id) < ("
        "  SELECT delivered_at, message_id FROM inbox_messages WHERE account_id = %(a)s"
        "  ORDER BY delivered_at DESC, message_id DESC OFFSET %(skip)s LIMIT 1)",
        {"a": account_id, "skip": keep - 1}).rowcount


def page(conn: psycopg.Connection, account_id: str, limit: int,
         after: tuple[datetime, str] | None = None) -> list[dict[str, Any]]:
    """Up to ``limit`` messages newest first, strictly older than ``after`` (delivered_at, message_id)."""
    if after is None:
        return conn.execute(
            "SELECT message_id, delivered_at, body, read_at FROM inbox_messages WHERE account_id = %s "
            "ORDER BY delivered_at DESC, message_id DESC LIMIT %s", (account_id, limit)).fetchall()
    return conn.execute(
        "SELECT message_id, delivered_at, body, read_at FROM inbox_messages "
        "WHERE account_id = %s AND (delivered_at, message_id) < (%s, %s) "
        "ORDER BY delivered_at DESC, message_id DESC LIMIT %s", (account_id, *after, limit)).fetchall()


def unread_count(conn: psycopg.Connection, account_id: str) -> int:
    return conn.execute("SELECT count(*) AS n FROM inbox_messages WHERE account_id = %s AND read_at IS NULL",
                        (account_id,)).fetchone()["n"]


def existing(conn: psycopg.Connection, account_id: str, message_ids: Sequence[str]) -> set[str]:
    rows = conn.execute("SELECT message_id FROM inbox_messages WHERE account_id = %s AND message_id = ANY(%s)",
                        (account_id, list(message_ids))).fetchall()
    return {row["message_id"] for row in rows}


def mark_read(conn: psycopg.Connection, account_id: str, message_ids: Sequence[str] | None,
              read_at: datetime) -> list[str]:
    """Mark the given messages (every unread one when None) read; returns the ids that were unread."""
    if message_ids is None:
        rows = conn.execute(
            "UPDATE inbox_messages SET read_at = %s WHERE account_id = %s AND read_at IS NULL RETURNING message_id",
            (read_at, account_id)).fetchall()
    else:
        rows = conn.execute(
            "UPDATE inbox_messages SET read_at = %s WHERE account_id = %s AND message_id = ANY(%s) "
            "AND read_at IS NULL RETURNING message_id", (read_at, account_id, list(message_ids))).fetchall()
    return [row["message_id"] for row in rows]


def purge_delivered_before(conn: psycopg.Connection, cutoff: datetime, *, batch: int) -> int:
    """Delete up to ``batch`` messages delivered before ``cutoff`` (retention); returns how many."""
    return conn.execute(
        "DELETE FROM inbox_messages WHERE ctid = ANY(ARRAY("
        "  SELECT ctid FROM inbox_messages WHERE delivered_at < %s LIMIT %s))", (cutoff, batch)).rowcount
