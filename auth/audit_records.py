"""Data access for the security audit log (``security_audit``, one partition per month).

Retention is by whole partitions: ``ensure_partitions`` creates the months around now and ahead, and
``drop_expired_partitions`` drops those entirely older than the retention (the Cybersecurity Law asks
for at least six months; we keep ``RETENTION_MONTHS``). Entries outside the prepared months land in
the default partition and are trimmed row by row by the same call.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any

import psycopg

RETENTION_MONTHS = 7  # six full months at least, whatever day of the month it is
MONTHS_AHEAD = 2
_PARENT = "security_audit"


def _month_start(day: date, offset: int) -> date:
    index = day.year * 12 + (day.month - 1) + offset
    return date(index // 12, index % 12 + 1, 1)


def _partition_name(month: date) -> str:
    return f"{_PARENT}_{month.year:04d}{month.month:02d}"


def ensure_partitions(conn: psycopg.Connection, *, now: datetime | None = None,
                      months_ahead: int = MONTHS_AHEAD) -> list[str]:
    """Create the partitions for this month and ``months_ahead`` more (idempotent). A month whose
    rows already sit in the default partition is left to the default (creating it would fail)."""
    today = (now or datetime.now(timezone.utc)).date()
    created = []
    for offset in range(0, months_ahead + 1):
        start, end = _month_start(today, offset), _month_start(today, offset + 1)
        name = _partition_name(start)
        exists = conn.execute("SELECT 1 FROM pg_class WHERE relname = %s", (name,)).fetchone()
        if exists:
            continue
        stray = conn.execute(f"SELECT 1 FROM {_PARENT}_default WHERE at >= %s AND at < %s LIMIT 1",
                             (start, end)).fetchone()
        if stray:
            continue
        conn.execute(f"CREATE TABLE {name} PARTITION OF {_PARENT} FOR VALUES FROM ('{start}') TO ('{end}')")
        created.append(name)
    return created


def drop_expired_partitions(conn: psycopg.Connection, *, now: datetime | None = None,
                            retention_months: int = RETENTION_MONTHS) -> list[str]:
    today = (now or datetime.now(timezone.utc)).date()
    cutoff = _month_start(today, -retention_months)
    dropped = []
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s", (_PARENT,)).fetchall()
    for row in rows:
        name = row["relname"]
        suffix = name.rsplit("_", 1)[-1]
        if not suffix.isdigit():
            continue
        month = date(int(suffix[:4]), int(suffix[4:]), 1)
        if month < cutoff:
            conn.execute(f"DROP TABLE {name}")
            dropped.append(name)
    conn.execute(f"DELETE FROM {_PARENT}_default WHERE at < %s", (cutoff,))
    return sorted(dropped)


def insert(conn: psycopg.Connection, entry: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO security_audit (at, event, outcome, actor, related, ip, channel, detail) "
        "VALUES (%(at)s, %(event)s, %(outcome)s, %(actor)s, %(related)s, %(ip)s, %(channel)s, %(detail)s)",
        {**entry, "detail": json.dumps(entry["detail"], ensure_ascii=False)},
    )


def recent_for(conn: psycopg.Connection, pseudonym: str, limit: int) -> list[dict[str, Any]]:
    return conn.execute(
        "(SELECT * FROM security_audit WHERE actor = %(p)s ORDER BY at DESC, id DESC LIMIT %(n)s) "
        "UNION ALL (SELECT * FROM security_audit WHERE related = %(p)s AND actor IS DISTINCT FROM %(p)s "
        "ORDER BY at DESC, id DESC LIMIT %(n)s) ORDER BY at DESC, id DESC LIMIT %(n)s",
        {"p": pseudonym, "n": limit},
    ).fetchall()
