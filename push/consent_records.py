"""Data access for the consent ledger (``consent_state``, ``consent_history``).

Plain SQL over a connection the caller holds inside its transaction; ``push.consent`` decides what a
popup result or an event means. Every change of the state row writes its history row in the same
transaction. Consumption and refunds come in bulk (one statement per planning slice or settled batch:
``UPDATE … FROM unnest(…)`` with the history rows inserted from its ``RETURNING``).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

import psycopg


class EventAlreadyApplied(Exception):
    """The pushed event's history row exists: a redelivery, nothing changes (raised to roll back)."""


def to_time(epoch: float) -> datetime:
    return datetime.fromtimestamp(float(epoch), timezone.utc)


def state(conn: psycopg.Connection, account_id: str, channel: str, template_id: str) -> dict[str, Any] | None:
    return conn.execute("SELECT * FROM consent_state WHERE account_id = %s AND channel = %s AND template_id = %s",
                        (account_id, channel, template_id)).fetchone()


def event_seen(conn: psycopg.Connection, account_id: str, channel: str, template_id: str, event_ref: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM consent_history WHERE account_id = %s AND channel = %s AND template_id = %s AND event_ref = %s",
        (account_id, channel, template_id, event_ref)).fetchone() is not None


def _history(conn: psycopg.Connection, account_id: str, channel: str, template_id: str, *, action: str, source: str,
             delta: int, remaining: int, now: float, event_ref: str | None) -> None:
    row = conn.execute(
        "INSERT INTO consent_history (account_id, channel, template_id, action, source, delta, remaining, event_ref, at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (account_id, channel, template_id, event_ref) WHERE event_ref IS NOT NULL DO NOTHING RETURNING id",
        (account_id, channel, template_id, action, source, delta, remaining, event_ref, to_time(now))).fetchone()
    if row is None:
        raise EventAlreadyApplied(event_ref)


def grant(conn: psycopg.Connection, account_id: str, channel: str, template_id: str, kind: str, *, source: str,
          now: float, event_ref: str | None = None) -> dict[str, Any]:
    """One accept: a one-time template gains a send (unless it is accepted long-term already), a long-term one
    becomes -1. Returns the state row (``remaining``, ``version``)."""
    row = conn.execute(
        "INSERT INTO consent_state AS s (account_id, channel, template_id, kind, remaining, status, version, updated_at) "
        "VALUES (%(a)s, %(c)s, %(t)s, %(k)s, CASE WHEN %(k)s = 'long_term' THEN -1 ELSE 1 END, 'active', 1, %(at)s) "
        "ON CONFLICT (account_id, channel, template_id) DO UPDATE SET kind = EXCLUDED.kind, "
        "  remaining = CASE WHEN EXCLUDED.kind = 'long_term' OR s.remaining = -1 THEN -1 ELSE s.remaining + 1 END, "
        "  status = 'active', version = s.version + 1, updated_at = EXCLUDED.updated_at "
        "RETURNING remaining, version",
        {"a": account_id, "c": channel, "t": template_id, "k": kind, "at": to_time(now)}).fetchone()
    _history(conn, account_id, channel, template_id, action="grant", source=source, delta=1, remaining=row["remaining"],
             now=now, event_ref=event_ref)
    return row


def zero(conn: psycopg.Connection, account_id: str, channel: str, template_id: str, kind: str, *, action: str,
         source: str, now: float, event_ref: str | None = None) -> dict[str, Any]:
    """Every quota gone (a ban, a long-term reject, a cancellation in WeChat's settings, 43101 from upstream).
    ``action`` is reject|ban|revoke and becomes the status (rejected|banned|revoked)."""
    status = {"reject": "rejected", "ban": "banned", "revoke": "revoked"}[action]
    before = state(conn, account_id, channel, template_id)
    row = conn.execute(
        "INSERT INTO consent_state AS s (account_id, channel, template_id, kind, remaining, status, version, updated_at) "
        "VALUES (%s, %s, %s, %s, 0, %s, 1, %s) "
        "ON CONFLICT (account_id, channel, template_id) DO UPDATE SET remaining = 0, status = EXCLUDED.status, "
        "  version = s.version + 1, updated_at = EXCLUDED.updated_at RETURNING remaining, version",
        (account_id, channel, template_id, kind, status, to_time(now))).fetchone()
    had = before["remaining"] if before else 0
    _history(conn, account_id, channel, template_id, action=action, source=source,
             delta=-had if had > 0 else 0, remaining=0, now=now, event_ref=event_ref)
    return row


def note(conn: psycopg.Connection, account_id: str, channel: str, template_id: str, *, action: str, source: str,
         now: float, event_ref: str | None = None) -> None:
    """A history row that changes no state: a one-time reject (earlier accepts stay), or a second report of a
    tap already counted (``confirm``)."""
    current = state(conn, account_id, channel, template_id)
    _history(conn, account_id, channel, template_id, action=action, source=source, delta=0,
             remaining=current["remaining"] if current else 0, now=now, event_ref=event_ref)


def consume_many(conn: psycopg.Connection, account_ids: Sequence[str], channel: str, template_id: str, *, source: str,
                 campaign_id: str | None, now: float) -> int:
    """One one-time send used by each account (one statement; long-term rows and rows with nothing left are
    not touched). Returns how many rows changed."""
    return _bulk(conn, account_ids, channel, template_id, delta=-1, action="consume", source=source,
                 campaign_id=campaign_id, now=now)


def refund_many(conn: psycopg.Connection, account_ids: Sequence[str], channel: str, template_id: str, *, source: str,
                campaign_id: str | None, now: float) -> int:
    """One one-time send back to each account (a message that never reached the citizen)."""
    return _bulk(conn, account_ids, channel, template_id, delta=1, action="refund", source=source,
                 campaign_id=campaign_id, now=now)


def _bulk(conn: psycopg.Connection, account_ids: Sequence[str], channel: str, template_id: str, *, delta: int,
          action: str, source: str, campaign_id: str | None, now: float) -> int:
    if not account_ids:
        return 0
    # A consumption needs a send left; a refund goes only to a row still active or used up (not to one the
    # citizen revoked or banned since: Redis's refund script likewise never revives a zeroed long-term row).
    guard = "s.remaining > 0" if delta < 0 else "s.status IN ('active', 'used_up')"
    rows = conn.execute(
        "WITH used AS (SELECT DISTINCT account_id FROM unnest(%(ids)s::text[]) AS u(account_id)), "
        "changed AS (UPDATE consent_state s SET remaining = s.remaining + %(d)s, "
        "    status = CASE WHEN s.remaining + %(d)s > 0 THEN 'active' ELSE 'used_up' END, updated_at = %(at)s "
        "  FROM used WHERE s.account_id = used.account_id AND s.channel = %(c)s AND s.template_id = %(t)s "
        f"  AND s.kind = 'one_time' AND {guard} RETURNING s.account_id, s.remaining) "
        "INSERT INTO consent_history (account_id, channel, template_id, action, source, delta, remaining, campaign_id, at) "
        "SELECT account_id, %(c)s, %(t)s, %(action)s, %(source)s, %(d)s, remaining, %(cid)s, %(at)s FROM changed",
        {"ids": list(account_ids), "d": delta, "c": channel, "t": template_id, "action": action, "source": source,
         "cid": campaign_id, "at": to_time(now)})
    return rows.rowcount


def history(conn: psycopg.Connection, account_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
    """The citizen's ledger, oldest first."""
    return conn.execute(
        "SELECT channel, template_id, action, source, delta, remaining, campaign_id, at FROM consent_history "
        "WHERE account_id = %s ORDER BY at, id LIMIT %s", (account_id, limit)).fetchall()


def live_page(conn: psycopg.Connection, after: tuple[str, str, str] | None, limit: int) -> list[dict[str, Any]]:
    """A keyset page (primary-key order) of the state rows that allow sends (remaining <> 0)."""
    if after is None:
        return conn.execute(
            "SELECT account_id, channel, template_id, remaining, version FROM consent_state WHERE remaining <> 0 "
            "ORDER BY account_id, channel, template_id LIMIT %s", (limit,)).fetchall()
    return conn.execute(
        "SELECT account_id, channel, template_id, remaining, version FROM consent_state "
        "WHERE remaining <> 0 AND (account_id, channel, template_id) > (%s, %s, %s) "
        "ORDER BY account_id, channel, template_id LIMIT %s", (*after, limit)).fetchall()


def iter_live(database: Any, *, page: int = 10_000) -> Iterator[dict[str, Any]]:
    """Every state row that allows sends, one page per transaction."""
    after: tuple[str, str, str] | None = None
    while True:
        with database.transaction() as conn:
            rows = live_page(conn, after, page)
        yield from rows
        if len(rows) < page:
            return
        last = rows[-1]
        after = (last["account_id"], last["channel"], last["template_id"])
