"""Data access for enterprises and the links of people to them (``enterprises``, ``enterprise_links``).
One link row serves both directions (a person's enterprises, an enterprise's members)."""
from __future__ import annotations

from typing import Any

import psycopg

from kernel.clock import epoch, instant


def ensure(conn: psycopg.Connection, candidate_id: str, *, uscc: str, name: str, status: str, region_code: str,
           now: float) -> str:
    """The enterprise's id, created on first sight; registry fields are refreshed every time. Two first
    sights at once meet on the USCC's uniqueness: one id wins, both get it."""
    row = conn.execute(
        "INSERT INTO enterprises (id, uscc, name, status, region_code, created_at) VALUES (%s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (uscc) DO UPDATE SET name = EXCLUDED.name, status = EXCLUDED.status, "
        "region_code = EXCLUDED.region_code RETURNING id",
        (candidate_id, uscc, name, status, region_code, instant(now))).fetchone()
    return row["id"]


def _link(row: dict[str, Any]) -> dict[str, Any]:
    return {"enterprise_id": row["enterprise_id"], "uscc": row["uscc"] or "", "name": row["name"] or "",
            "role": row["role"], "status": row["status"], "linked_at": epoch(row["linked_at"])}


_SELECT_LINKS = ("SELECT l.enterprise_id, l.role, l.status, l.linked_at, e.uscc, e.name FROM enterprise_links l "
                 "LEFT JOIN enterprises e ON e.id = l.enterprise_id WHERE l.person_id = %s")


def link(conn: psycopg.Connection, person_id: str, enterprise_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    row = conn.execute(_SELECT_LINKS + " AND l.enterprise_id = %s" + (" FOR UPDATE OF l" if for_update else ""),
                       (person_id, enterprise_id)).fetchone()
    return _link(row) if row else None


def links(conn: psycopg.Connection, person_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(_SELECT_LINKS + " ORDER BY l.linked_at, l.enterprise_id", (person_id,)).fetchall()
    return [_link(row) for row in rows]


def has_active_link(conn: psycopg.Connection, person_id: str) -> bool:
    row = conn.execute("SELECT 1 FROM enterprise_links WHERE person_id = %s AND status = 'active' LIMIT 1",
                       (person_id,)).fetchone()
    return row is not None


def write_link(conn: psycopg.Connection, person_id: str, enterprise_id: str, role: str, status: str,
               now: float) -> None:
    conn.execute(
        "INSERT INTO enterprise_links (person_id, enterprise_id, role, status, linked_at) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (person_id, enterprise_id) DO UPDATE SET role = EXCLUDED.role, status = EXCLUDED.status, "
        "linked_at = EXCLUDED.linked_at", (person_id, enterprise_id, role, status, instant(now)))


def delete_link(conn: psycopg.Connection, person_id: str, enterprise_id: str) -> None:
    conn.execute("DELETE FROM enterprise_links WHERE person_id = %s AND enterprise_id = %s", (person_id, enterprise_id))


def move_links(conn: psycopg.Connection, absorbed: str, survivor: str) -> None:
    """A merge: the survivor gets every link of the absorbed account; where both are linked to one
    enterprise the stronger link stays (active beats pending, legal representative beats agent)."""
    conn.execute("""
        INSERT INTO enterprise_links (person_id, enterprise_id, role, status, linked_at)
        SELECT %(survivor)s, enterprise_id, role, status, linked_at FROM enterprise_links WHERE person_id = %(absorbed)s
        ON CONFLICT (person_id, enterprise_id) DO UPDATE
        SET role = EXCLUDED.role, status = EXCLUDED.status, linked_at = EXCLUDED.linked_at
        WHERE (EXCLUDED.status = 'active', EXCLUDED.role = 'legal_representative')
            > (enterprise_links.status = 'active', enterprise_links.role = 'legal_representative')
    """, {"survivor": survivor, "absorbed": absorbed})
    conn.execute("DELETE FROM enterprise_links WHERE person_id = %s", (absorbed,))
