"""The transactional outbox: a record change and the facts other packages must learn from it commit together.

``add(conn, name, **data)`` writes the event in the caller's PostgreSQL transaction; after the commit,
``deliver`` runs this process's subscribers and appends the event to the cross-process stream, then marks
it published. If the process dies or Redis refuses between the commit and the mark, the event stays
unpublished and ``relay_pending`` (the push worker runs it every round, ~0.5 s) appends it to the stream
later. Delivery is therefore at least once: consumers are idempotent (every event has an ``event_id``).
GOV.UK Notify and most payment systems do the same for the same reason: a 200 to the citizen means the
opt-out *will* reach push, not that it probably did.
"""
from __future__ import annotations

import json
import logging
from datetime import timezone
from typing import Any

import psycopg
import redis

from kernel.events import DomainEvent, EventBus
from kernel.postgres import Database, DatabaseUnavailable

log = logging.getLogger(__name__)


class Outbox:
    def __init__(self, database: Database, bus: EventBus) -> None:
        self._database = database
        self._bus = bus
        self._relay = bus.relay  # None: a bus without a stream (unit tests) delivers in-process only

    def add(self, conn: psycopg.Connection, name: str, **data: Any) -> DomainEvent:
        """Record ``name`` in the open transaction of ``conn``; call ``deliver`` after it commits."""
        event = DomainEvent(name=name, data=data)
        conn.execute("INSERT INTO outbox (event_id, name, data, occurred_at) VALUES (%s, %s, %s, %s)",
                     (event.event_id, name, json.dumps(data, ensure_ascii=False, sort_keys=True), event.occurred_at))
        return event

    def deliver(self, *events: DomainEvent) -> None:
        """After commit: this process's subscribers at once, then the stream; never raises (the fact is
        already recorded, and the relay will carry what this call could not)."""
        for event in events:
            self._bus.deliver(event)
        if self._relay is None:
            return
        try:
            for event in events:
                self._relay.append_or_raise(event)
            self._mark_published([event.event_id for event in events])
        except (redis.RedisError, DatabaseUnavailable):
            log.warning("events left to the outbox relay", extra={"fields": {"events": [e.name for e in events]}})

    def _mark_published(self, event_ids: list[str]) -> None:
        with self._database.transaction() as conn:
            conn.execute("UPDATE outbox SET published_at = now() WHERE event_id = ANY(%s)", (event_ids,))

    def relay_pending(self, *, older_than_seconds: float = 2.0, limit: int = 500) -> int:
        """Append to the stream what committed but was never published (a crash, a Redis hiccup).
        Several relays may run: SKIP LOCKED gives each its own rows. Returns how many were relayed."""
        if self._relay is None:
            return 0
        with self._database.transaction() as conn:
            rows = conn.execute(
                "SELECT id, event_id, name, data, occurred_at FROM outbox WHERE published_at IS NULL "
                "AND occurred_at < now() - make_interval(secs => %s) ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (older_than_seconds, limit)).fetchall()
            for row in rows:
                event = DomainEvent(name=row["name"], data=row["data"], event_id=row["event_id"],
                                    occurred_at=row["occurred_at"].astimezone(timezone.utc))
                self._relay.append_or_raise(event)
            if rows:
                conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY(%s)", ([r["id"] for r in rows],))
        return len(rows)

    def prune_published(self, *, older_than_days: int = 7) -> int:
        with self._database.transaction() as conn:
            cursor = conn.execute("DELETE FROM outbox WHERE published_at < now() - make_interval(days => %s)",
                                  (older_than_days,))
            return cursor.rowcount
