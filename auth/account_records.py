"""Data access for person accounts, their bindings and the blind-index lookups (``accounts``,
``account_bindings``, ``identity_index``). Plain SQL on the caller's connection; the caller owns the
transaction. Instants are epoch seconds on the Python side (the injected clock) and timestamptz here.

A binding travels as the dict ``auth.account_values.binding_from`` reads: channel, indexes
(kind -> blind), enc (kind -> ciphertext), bound_at, via, masked, masked_name.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import psycopg

from kernel.clock import epoch, instant

# Merge chains are short (each merge re-points every lookup at the survivor); a longer one is a bug.
MAX_MERGE_HOPS = 8


# --- accounts ---------------------------------------------------------------------------------------

_FOLLOW = f"""
WITH RECURSIVE chain (start, id, merged_into, realname_level, tokens_after, depth) AS (
    SELECT id, id, merged_into, realname_level, tokens_after, 0 FROM accounts WHERE id = ANY(%s)
  UNION ALL
    SELECT chain.start, a.id, a.merged_into, a.realname_level, a.tokens_after, chain.depth + 1
    FROM chain JOIN accounts a ON a.id = chain.merged_into WHERE chain.depth < {MAX_MERGE_HOPS}
)
SELECT DISTINCT ON (start) start, id, merged_into, realname_level, tokens_after
FROM chain ORDER BY start, depth DESC
"""


def follow(conn: psycopg.Connection, account_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each known id -> its live account's row (id, realname_level, tokens_after): every merge hop in one
    statement, so the per-request token check stays one round trip. Unknown ids are left out."""
    rows = conn.execute(_FOLLOW, (list(set(account_ids)),)).fetchall()
    found = {}
    for row in rows:
        if row["merged_into"] is not None:
            raise RuntimeError("merge chain too long")
        found[row.pop("start")] = row
    return found


def get(conn: psycopg.Connection, account_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM accounts WHERE id = %s", (account_id,)).fetchone()
    return _account(row) if row else None


def lock(conn: psycopg.Connection, account_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Row-lock the accounts, always in id order: two transactions locking the same pair cannot deadlock."""
    rows = conn.execute("SELECT * FROM accounts WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                        (sorted(set(account_ids)),)).fetchall()
    return {row["id"]: _account(row) for row in rows}


def _account(row: dict[str, Any]) -> dict[str, Any]:
    for name in ("created_at", "realname_at", "merged_at"):
        row[name] = epoch(row[name])
    return row


def create_person(conn: psycopg.Connection, account_id: str, now: float) -> None:
    conn.execute("INSERT INTO accounts (id, type, created_at) VALUES (%s, 'person', %s)", (account_id, instant(now)))


def raise_level(conn: psycopg.Connection, account_id: str, level: int, source: str | None,
                at: float | None) -> bool:
    """Raise (never lower) the real-name level; True when it changed."""
    cursor = conn.execute(
        "UPDATE accounts SET realname_level = %s, realname_source = %s, realname_at = %s "
        "WHERE id = %s AND realname_level < %s", (level, source, instant(at), account_id, level))
    return cursor.rowcount > 0


def set_tokens_after(conn: psycopg.Connection, account_id: str, epoch_second: int) -> None:
    conn.execute("UPDATE accounts SET tokens_after = %s WHERE id = %s", (int(epoch_second), account_id))


def mark_merged(conn: psycopg.Connection, absorbed: str, survivor: str, *, reason: str, now: float,
                basic_level: int) -> None:
    """The absorbed account keeps only the pointer (and its creation time). Accounts merged into it
    earlier now point at the survivor too, so a chain stays one hop long."""
    conn.execute("UPDATE accounts SET merged_into = %s WHERE merged_into = %s", (survivor, absorbed))
    conn.execute(
        "UPDATE accounts SET merged_into = %s, merged_at = %s, merge_reason = %s, realname_level = %s, "
        "realname_source = NULL, realname_at = NULL WHERE id = %s",
        (survivor, instant(now), reason, basic_level, absorbed))


# --- bindings ---------------------------------------------------------------------------------------

def _binding(row: dict[str, Any]) -> dict[str, Any]:
    record = {"channel": row["channel"], "indexes": row["indexes"], "enc": row["encrypted"],
              "bound_at": epoch(row["bound_at"]), "via": row["via"]}
    for name in ("masked", "masked_name"):
        if row[name] is not None:
            record[name] = row[name]
    return record


def bindings(conn: psycopg.Connection, account_id: str) -> dict[str, dict[str, Any]]:
    rows = conn.execute("SELECT * FROM account_bindings WHERE account_id = %s ORDER BY bound_at, binding_id",
                        (account_id,)).fetchall()
    return {row["binding_id"]: _binding(row) for row in rows}


def binding(conn: psycopg.Connection, account_id: str, binding_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM account_bindings WHERE account_id = %s AND binding_id = %s",
                       (account_id, binding_id)).fetchone()
    return _binding(row) if row else None


def save_binding(conn: psycopg.Connection, account_id: str, binding_id: str, record: Mapping[str, Any]) -> None:
    conn.execute(
        "INSERT INTO account_bindings (account_id, binding_id, channel, indexes, encrypted, masked, masked_name, "
        "via, bound_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (account_id, binding_id) DO UPDATE "
        "SET indexes = EXCLUDED.indexes, encrypted = EXCLUDED.encrypted, masked = EXCLUDED.masked, "
        "masked_name = EXCLUDED.masked_name",
        (account_id, binding_id, record["channel"], json.dumps(record["indexes"]), json.dumps(record["enc"]),
         record.get("masked"), record.get("masked_name"), record.get("via"), instant(record["bound_at"])))


def delete_bindings(conn: psycopg.Connection, account_id: str, binding_ids: Iterable[str]) -> None:
    conn.execute("DELETE FROM account_bindings WHERE account_id = %s AND binding_id = ANY(%s)",
                 (account_id, list(binding_ids)))


# --- blind-index lookups ----------------------------------------------------------------------------

def _pairs(blinds: Mapping[str, str]) -> tuple[list[str], list[str]]:
    kinds = sorted(blinds)
    return kinds, [blinds[kind] for kind in kinds]


def index_owners(conn: psycopg.Connection, blinds: Mapping[str, str], *, for_update: bool = False) -> dict[str, str]:
    """kind -> the account its lookup row points at, for the rows that exist (locked when asked)."""
    kinds, values = _pairs(blinds)
    rows = conn.execute(
        "SELECT i.kind, i.account_id FROM identity_index i JOIN unnest(%s::text[], %s::text[]) AS wanted (kind, blind) "
        "ON i.kind = wanted.kind AND i.blind = wanted.blind ORDER BY i.kind, i.blind"
        + (" FOR UPDATE OF i" if for_update else ""), (kinds, values)).fetchall()
    return {row["kind"]: row["account_id"] for row in rows}


def owner(conn: psycopg.Connection, kind: str, blind: str) -> str | None:
    row = conn.execute("SELECT account_id FROM identity_index WHERE kind = %s AND blind = %s", (kind, blind)).fetchone()
    return row["account_id"] if row else None


def claim_index(conn: psycopg.Connection, blinds: Mapping[str, str], account_id: str) -> int:
    """Insert the lookups that do not exist yet; returns how many this call inserted. A row another
    transaction holds is waited for and then left alone: the caller compares the count and starts over."""
    if not blinds:
        return 0
    kinds, values = _pairs(blinds)
    rows = conn.execute(
        "INSERT INTO identity_index (kind, blind, account_id) SELECT kind, blind, %s "
        "FROM unnest(%s::text[], %s::text[]) AS wanted (kind, blind) ORDER BY kind, blind "
        "ON CONFLICT (kind, blind) DO NOTHING RETURNING kind", (account_id, kinds, values)).fetchall()
    return len(rows)


def repoint_index(conn: psycopg.Connection, absorbed: str, survivor: str) -> None:
    conn.execute("UPDATE identity_index SET account_id = %s WHERE account_id = %s", (survivor, absorbed))


def release_index(conn: psycopg.Connection, account_id: str, pairs: Iterable[tuple[str, str]]) -> None:
    """Free lookups the account no longer uses (only while they still point at it)."""
    pairs = sorted(set(pairs))
    if not pairs:
        return
    conn.execute(
        "DELETE FROM identity_index i USING unnest(%s::text[], %s::text[]) AS gone (kind, blind) "
        "WHERE i.kind = gone.kind AND i.blind = gone.blind AND i.account_id = %s",
        ([kind for kind, _ in pairs], [blind for _, blind in pairs], account_id))


# Every live person with what push derives targeting from: preferences, the ciphertexts of the
# identifiers push needs, an active enterprise link. One row per citizen, in id order (a keyset cursor).
_TARGETING_SQL = """
SELECT a.id, p.preferences,
       (SELECT b.encrypted ->> 'wechat_openid' FROM account_bindings b
         WHERE b.account_id = a.id AND b.channel = 'wechat' LIMIT 1) AS wechat_openid,
       (SELECT b.encrypted ->> 'alipay_open_id' FROM account_bindings b
         WHERE b.account_id = a.id AND b.channel = 'alipay' LIMIT 1) AS alipay_open_id,
       (SELECT b.encrypted ->> 'id_number' FROM account_bindings b
         WHERE b.account_id = a.id AND b.channel = 'realname' LIMIT 1) AS id_number,
       EXISTS (SELECT 1 FROM enterprise_links l WHERE l.person_id = a.id AND l.status = 'active') AS enterprise
  FROM accounts a LEFT JOIN account_preferences p ON p.account_id = a.id
 WHERE a.merged_into IS NULL AND a.type = 'person' AND a.id > %s
 ORDER BY a.id LIMIT %s
"""


def targeting_page(conn: psycopg.Connection, after: str, limit: int) -> list[dict[str, Any]]:
    return conn.execute(_TARGETING_SQL, (after, limit)).fetchall()
