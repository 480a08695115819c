"""Data access for per-account preferences (``account_preferences``): mode, language, home region, opt-outs."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from auth.preferences import Preferences, apply_changes


def from_stored(value: Mapping[str, Any] | None) -> Preferences:
    """The ``preferences`` column's value (absent or empty = the defaults) as ``Preferences``."""
    return apply_changes(Preferences(), value) if value else Preferences()


def load(conn: psycopg.Connection, account_id: str, *, for_update: bool = False) -> Preferences:
    row = conn.execute("SELECT preferences FROM account_preferences WHERE account_id = %s"
                       + (" FOR UPDATE" if for_update else ""), (account_id,)).fetchone()
    return from_stored(row["preferences"] if row else None)


def update(conn: psycopg.Connection, account_id: str, changes: Mapping[str, Any]) -> Preferences:
    """PATCH in the caller's transaction. The row lock (or the insert's conflict) serialises two
    concurrent PATCHes of one account, so neither loses the other's fields."""
    conn.execute("INSERT INTO account_preferences (account_id, preferences) VALUES (%s, '{}'::jsonb) "
                 "ON CONFLICT (account_id) DO NOTHING", (account_id,))
    updated = apply_changes(load(conn, account_id, for_update=True), changes)
    conn.execute("UPDATE account_preferences SET preferences = %s, updated_at = now() WHERE account_id = %s",
                 (updated.to_json(), account_id))
    return updated


def forget(conn: psycopg.Connection, account_id: str) -> None:
    """An absorbed account's preferences go with the merge (the survivor's win)."""
    conn.execute("DELETE FROM account_preferences WHERE account_id = %s", (account_id,))
