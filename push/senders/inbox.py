"""The in-app inbox: our own channel, a record in PostgreSQL (``push.inbox_records``).

One row per message and citizen, keyed by the deterministic message id, so delivering twice (the
dispatcher delivers at least once) stores it once. Each citizen keeps the newest INBOX_KEEP
messages; ``purge_expired`` drops those older than INBOX_RETENTION_SECONDS (the push worker's hourly
housekeeping). Marking a message read counts it as ``opened`` for its campaign, once.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from kernel.clock import Clock, SystemClock
from kernel.postgres import Database
from push import inbox_records
from push.campaigns import Campaign
from push.errors import InvalidInput, MessageNotFound
from push.senders.base import ABANDONED, SENT, Outbound, Outcome, parse_message_id
from push.stats import Stats

INBOX_KEEP = 200
INBOX_RETENTION_SECONDS = 180 * 86_400
_PURGE_BATCH = 5_000
_PURGE_MAX_BATCHES = 20  # per call: a backlog shrinks over a few hourly rounds, never in one long statement


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


@dataclass(frozen=True)
class InboxPage:
    items: list[dict[str, Any]]
    unread: int
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items, "unread": self.unread, "next_cursor": self.next_cursor}


class Inbox:
    def __init__(self, database: Database | None, stats: Stats, clock: Clock | None = None) -> None:
        self._database = database
        self._stats = stats
        self._clock = clock or SystemClock()

    def _transaction(self):
        if self._database is None:
            raise RuntimeError("push was built without a database: the inbox needs one (pass database=)")
        return self._database.transaction()

    def deliver(self, account_id: str, message: dict[str, Any]) -> bool:
        """Store ``message`` (its ``id`` and ``at`` included) once; False when it was delivered before."""
        with self._transaction() as conn:
            added = inbox_records.insert(conn, account_id, message["id"], _at(message["at"]), message)
            if added:
                inbox_records.trim(conn, account_id, INBOX_KEEP)
        return added

    def list(self, account_id: str, *, limit: int = 20, cursor: str | None = None) -> InboxPage:
        """Newest first. The cursor names the last message served (delivery time and id), so messages
        delivered in the same instant are neither skipped nor repeated across pages."""
        limit = max(1, min(int(limit), 100))
        after = _parse_cursor(cursor) if cursor is not None else None
        with self._transaction() as conn:
            rows = inbox_records.page(conn, account_id, limit + 1, after)
            unread = inbox_records.unread_count(conn, account_id)
        page, more = rows[:limit], len(rows) > limit
        items = [{**row["body"], "read": row["read_at"] is not None} for row in page]
        next_cursor = f"{page[-1]['delivered_at'].timestamp()!r}|{page[-1]['message_id']}" if more and page else None
        return InboxPage(items, unread, next_cursor)

    def unread_count(self, account_id: str) -> int:
        with self._transaction() as conn:
            return inbox_records.unread_count(conn, account_id)

    def mark_read(self, account_id: str, message_ids: Iterable[str] | None = None) -> int:
        """Mark the given messages (all when None) read; returns how many were unread."""
        ids = None
        if message_ids is not None:
            ids = list(message_ids)
            if not ids or len(ids) > 100 or not all(isinstance(m, str) and len(m) <= 128 for m in ids):
                raise InvalidInput("message_ids")
        now = self._clock.now()
        with self._transaction() as conn:
            if ids is not None:
                # A NUL cannot be in a stored id (nor in a PostgreSQL text): such an id is simply unknown.
                known = inbox_records.existing(conn, account_id, [mid for mid in ids if "\x00" not in mid])
                missing = [mid for mid in ids if mid not in known]
                if missing:
                    raise MessageNotFound(details={"message_ids": missing[:10]})
            newly = inbox_records.mark_read(conn, account_id, ids, _at(now))
        for mid in newly:
            parsed = parse_message_id(mid)
            if parsed:
                self._stats.bump(parsed[0], "opened", 1, now)
        return len(newly)

    def purge_expired(self) -> int:
        """Drop messages delivered more than INBOX_RETENTION_SECONDS ago; returns how many went."""
        cutoff = _at(self._clock.now() - INBOX_RETENTION_SECONDS)
        purged = 0
        for _ in range(_PURGE_MAX_BATCHES):
            with self._transaction() as conn:
                done = inbox_records.purge_delivered_before(conn, cutoff, batch=_PURGE_BATCH)
            purged += done
            if done < _PURGE_BATCH:
                break
        return purged


class InboxSender:
    channel = "inbox"

    def __init__(self, inbox: Inbox, clock: Clock | None = None) -> None:
        self._inbox = inbox
        self._clock = clock or SystemClock()

    def render(self, campaign: Campaign, address: Any = None) -> dict[str, Any]:
        content = campaign.content["inbox"]
        return {"title": content["title"], "text": content["text"], "page": campaign.page,
                "category": campaign.category, "campaign": campaign.id}

    def send(self, message: Outbound) -> Outcome:
        body = {"id": message.message_id, **self.render(message.campaign), "at": self._clock.now()}
        if not message.on_wire():
            return Outcome(ABANDONED, "abandoned")
        self._inbox.deliver(message.account_id, body)
        return Outcome(SENT, "ok")


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    """(delivery time, message id) of the last message served; InvalidInput for anything we did not issue."""
    score, separator, message_id = cursor.partition("|")
    if not separator or not message_id or "\x00" in message_id:
        raise InvalidInput("cursor")
    try:
        return _at(float(score)), message_id
    except (ValueError, OverflowError, OSError):  # not a number, NaN, infinite, or beyond a datetime's range
        raise InvalidInput("cursor") from None
