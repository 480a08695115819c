"""The security audit trail: every authentication event, in PostgreSQL (``auth.audit_records``).

Records hold pseudonyms only (``Crypto.pseudonymous_id`` of account ids and IPs): never a phone,
ID number, name, openid or token. Times come from the injected clock, so retention is judged on the
same time line as everything else. The table is partitioned by month and kept for seven months
(``auth.audit_records.drop_expired_partitions``; ``AuditLog.keep_partitions``, hourly in the push worker). Each entry is also
logged as JSON for the log pipeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from auth import audit_records
from kernel.clock import Clock, epoch, instant
from kernel.crypto import Crypto
from kernel.postgres import Database

log = logging.getLogger("msb.auth.audit")

EVENTS = frozenset(
    {
        "login",
        "login_failed",
        "bind",
        "unbind",
        "merge",
        "realname",
        "refresh_reuse",
        "lockout",
        "logout",
        "enterprise_link",
        "enterprise_unlink",
        "acting_for",
        "operator_login",
        "operator_created",
        "realname_conflict",
        "realname_claim",
        "recovery",
        "notice",
    }
)
# Detail values must be opaque or categorical. Keys outside this list are refused loudly, so a
# careless caller cannot slip a phone number into the trail.
DETAIL_KEYS = frozenset(
    {
        "reason",
        "new_account",
        "binding",
        "level",
        "family",
        "families",
        "enterprise",
        "role",
        "status",
        "retry_after",
        "scope",
        "via",
        "method",
        "evicted",
        "attempts_left",
    }
)


@dataclass(frozen=True)
class AuditEvent:
    entry_id: str
    event: str
    at: float
    actor: str | None
    channel: str | None
    outcome: str
    detail: dict[str, str] = field(default_factory=dict)


class AuditLog:
    def __init__(self, database: Database, crypto: Crypto, clock: Clock) -> None:
        self._database = database
        self._crypto = crypto
        self._clock = clock

    def keep_partitions(self) -> None:
        """Create the coming months' partitions and drop those past retention (idempotent; the push worker
        runs it hourly)."""
        with self._database.transaction() as conn:
            audit_records.ensure_partitions(conn)
            audit_records.drop_expired_partitions(conn)

    def _pseudonym(self, account_id: str) -> str:
        return self._crypto.pseudonymous_id("account", account_id)

    def record(
        self,
        event: str,
        *,
        account_id: str | None = None,
        related_account_id: str | None = None,
        ip: str | None = None,
        channel: str | None = None,
        outcome: str = "success",
        **detail: str | int | bool,
    ) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}")
        unknown = set(detail) - DETAIL_KEYS
        if unknown:
            raise ValueError(f"audit detail keys not allowed: {sorted(unknown)}")
        now = self._clock.now()
        entry = {
            "at": instant(now),
            "event": event,
            "outcome": outcome,
            "actor": self._pseudonym(account_id) if account_id else None,
            "related": self._pseudonym(related_account_id) if related_account_id else None,
            "ip": self._crypto.pseudonymous_id("ip", ip) if ip else None,
            "channel": channel,
            "detail": {name: str(value) for name, value in detail.items()},
        }
        with self._database.transaction() as conn:
            audit_records.insert(conn, entry)
        logged = {name: value for name, value in entry.items() if value and name not in ("at", "detail")}
        logged.update({f"d_{name}": value for name, value in entry["detail"].items()}, at=repr(now))
        log.info("auth event", extra={"fields": {"audit": logged}})

    def recent(self, account_id: str, *, limit: int = 20) -> list[AuditEvent]:
        """Newest events about an account, as actor or as the related account (console, tests)."""
        with self._database.transaction() as conn:
            rows = audit_records.recent_for(conn, self._pseudonym(account_id), limit)
        return [
            AuditEvent(entry_id=str(row["id"]), event=row["event"], at=epoch(row["at"]), actor=row["actor"],
                       channel=row["channel"], outcome=row["outcome"], detail=dict(row["detail"]))
            for row in rows
        ]
