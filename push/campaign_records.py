"""Data access for campaigns (``campaigns``, ``campaign_versions``, ``campaign_approvals``, ``campaign_audit``).

Plain SQL over a connection the caller holds inside its transaction; ``push.campaigns`` decides what is
allowed. Times cross this module as epoch seconds (the injected clock's unit) and are stored as
``timestamptz``.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import psycopg

# Columns a write may set besides status/version/updated_at; time columns take epoch seconds or None.
TIME_COLUMNS = frozenset({"start_at", "end_at", "approved_at", "planned_at"})
TEXT_COLUMNS = frozenset({"approved_by", "rejection", "paused_reason", "plan_state"})
WRITABLE = TIME_COLUMNS | TEXT_COLUMNS | {"spec", "authors", "status"}


def to_time(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(float(epoch), timezone.utc)


def from_time(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _jsonb(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


# --- campaigns --------------------------------------------------------------------------------------------

def insert(conn: psycopg.Connection, *, campaign_id: str, status: str, spec: Mapping[str, Any], author: str,
           start_at: float | None, end_at: float | None, now: float) -> dict[str, Any]:
    """A new campaign at version 1; raises ``psycopg.errors.UniqueViolation`` if the id exists."""
    return conn.execute(
        "INSERT INTO campaigns (id, status, version, spec, author, authors, start_at, end_at, created_at, updated_at) "
        "VALUES (%s, %s, 1, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
        (campaign_id, status, _jsonb(spec), author, [author], to_time(start_at), to_time(end_at), to_time(now),
         to_time(now))).fetchone()


def load(conn: psycopg.Connection, campaign_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    """One primary-key read; ``for_update`` locks the row until the transaction ends, so a change decided
    on what was read here cannot race another (two approvers: the second waits, then sees the first)."""
    return conn.execute("SELECT * FROM campaigns WHERE id = %s" + (" FOR UPDATE" if for_update else ""),
                        (campaign_id,)).fetchone()


def update(conn: psycopg.Connection, campaign_id: str, columns: Mapping[str, Any], *, now: float) -> dict[str, Any]:
    """Set ``columns`` (names from ``WRITABLE``), bump the version; returns the new row. The caller holds the
    row lock (``load(for_update=True)``)."""
    unknown = set(columns) - WRITABLE
    if unknown:
        raise ValueError(f"not a writable campaign column: {sorted(unknown)[0]}")
    assignments, values = ["version = version + 1", "updated_at = %s"], [to_time(now)]
    for name, value in columns.items():
        assignments.append(f"{name} = %s")
        if name in TIME_COLUMNS:
            values.append(to_time(value))
        elif name == "spec":
            values.append(_jsonb(value))
        else:
            values.append(value)
    return conn.execute(f"UPDATE campaigns SET {', '.join(assignments)} WHERE id = %s RETURNING *",
                        (*values, campaign_id)).fetchone()


def listing(conn: psycopg.Connection, *, status: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
    if status is None:
        return conn.execute("SELECT * FROM campaigns ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
                            (limit, offset)).fetchall()
    return conn.execute("SELECT * FROM campaigns WHERE status = %s ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
                        (status, limit, offset)).fetchall()


def scheduled_due(conn: psycopg.Connection, now: float, limit: int) -> list[str]:
    rows = conn.execute("SELECT id FROM campaigns WHERE status = 'scheduled' AND coalesce(start_at, updated_at) <= %s "
                        "ORDER BY coalesce(start_at, updated_at), id LIMIT %s", (to_time(now), limit)).fetchall()
    return [row["id"] for row in rows]


def active(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every running or paused campaign's row, in one read (the worker's tick). The literal status list
    is the ``campaigns_active`` partial index's predicate, so the planner can use that index."""
    return conn.execute("SELECT * FROM campaigns WHERE status IN ('running', 'paused') ORDER BY id").fetchall()


# --- spec versions -------------------------------------------------------------------------------------------

def insert_version(conn: psycopg.Connection, campaign_id: str, version: int, spec: Mapping[str, Any], *,
                   written_by: str, fields: Sequence[str], now: float) -> None:
    conn.execute("INSERT INTO campaign_versions (campaign_id, version, spec, written_by, fields, written_at) "
                 "VALUES (%s, %s, %s, %s, %s, %s)",
                 (campaign_id, version, _jsonb(spec), written_by, list(fields), to_time(now)))


def versions(conn: psycopg.Connection, campaign_id: str, limit: int) -> list[dict[str, Any]]:
    return conn.execute("SELECT version, spec, written_by, fields, written_at FROM campaign_versions "
                        "WHERE campaign_id = %s ORDER BY version LIMIT %s", (campaign_id, limit)).fetchall()


# --- four-eyes submissions -----------------------------------------------------------------------------------

def open_submission(conn: psycopg.Connection, campaign_id: str, version: int, *, submitted_by: str, now: float) -> None:
    conn.execute("INSERT INTO campaign_approvals (campaign_id, submitted_version, submitted_by, submitted_at) "
                 "VALUES (%s, %s, %s, %s)", (campaign_id, version, submitted_by, to_time(now)))


def close_submission(conn: psycopg.Connection, campaign_id: str, decision: str, *, decided_by: str, now: float,
                     reason: str | None = None) -> int:
    """Decide the open submission (approved, rejected, withdrawn); returns how many rows it closed (0 or 1)."""
    return conn.execute(
        "UPDATE campaign_approvals SET decision = %s, decided_by = %s, decided_at = %s, reason = %s "
        "WHERE campaign_id = %s AND decision IS NULL", (decision, decided_by, to_time(now), reason, campaign_id)).rowcount


def submissions(conn: psycopg.Connection, campaign_id: str) -> list[dict[str, Any]]:
    return conn.execute("SELECT submitted_version, submitted_by, submitted_at, decision, decided_by, decided_at, reason "
                        "FROM campaign_approvals WHERE campaign_id = %s ORDER BY id", (campaign_id,)).fetchall()


# --- audit trail -----------------------------------------------------------------------------------------------

def insert_audit(conn: psycopg.Connection, campaign_id: str, *, now: float, actor: str, action: str,
                 from_status: str | None, to_status: str, changes: Mapping[str, Any], version: int | None) -> None:
    conn.execute("INSERT INTO campaign_audit (campaign_id, at, actor, action, from_status, to_status, changes, version) "
                 "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                 (campaign_id, to_time(now), actor, action, from_status, to_status, _jsonb(changes), version))


def audit(conn: psycopg.Connection, campaign_id: str, limit: int) -> list[dict[str, Any]]:
    """Oldest first."""
    return conn.execute("SELECT id, at, actor, action, from_status, to_status, changes, version FROM campaign_audit "
                        "WHERE campaign_id = %s ORDER BY id LIMIT %s", (campaign_id, limit)).fetchall()
