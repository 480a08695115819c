"""The unit of work of an account change (``AccountStore.work()``) and what an attach is asked to do."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from auth.account_values import Identity
from kernel.events import DomainEvent
from kernel.outbox import Outbox


@dataclass
class AccountWork:
    """One PostgreSQL transaction of account changes. After it commits, the store moves the absorbed
    accounts' refresh families in Redis, then runs ``after_commit`` (event delivery, SMS notices)."""

    conn: psycopg.Connection
    merges: list[tuple[str, str]] = field(default_factory=list)  # (survivor, absorbed)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)

    def add_event(self, outbox: Outbox, name: str, **data: Any) -> DomainEvent:
        """Record a fact in this transaction; it is delivered once the transaction committed."""
        if not self.events:
            self.after_commit.append(lambda: outbox.deliver(*self.events))
        event = outbox.add(self.conn, name, **data)
        self.events.append(event)
        return event


@dataclass(frozen=True)
class AttachRequest:
    channel: str
    identities: list[Identity]
    blinds: dict[str, str]
    binding_id: str
    account_id: str | None
    masked: str | None
    via: str | None
    extra: Mapping[str, Any]
    level: tuple[int, str] | None
    merge: bool
