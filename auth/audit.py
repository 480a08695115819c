"""Audit trail of authentication events in a Redis Stream.

Records hold pseudonyms only (``Crypto.pseudonymous_id`` of account ids and IPs): never a phone,
ID number, name, openid or token. Entry ids come from the injected clock, so retention is judged
on the same time line as everything else; each write trims entries older than 183 days with an
approximate ``MINID`` (whole stream nodes, cheap). The stream is the hot copy: ship it to durable
log storage for the six-month duty rather than sizing Redis for it (see README).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import redis

from auth import keys
from kernel.clock import Clock
from kernel.crypto import Crypto

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
RECENT_SCAN = 2000


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
    def __init__(self, redis_client: redis.Redis, crypto: Crypto, clock: Clock) -> None:
        self._redis = redis_client
        self._crypto = crypto
        self._clock = clock

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
        entry: dict[str, str] = {"event": event, "at": repr(now), "outcome": outcome}
        if account_id:
            entry["actor"] = self._pseudonym(account_id)
        if related_account_id:
            entry["related"] = self._pseudonym(related_account_id)
        if ip:
            entry["ip"] = self._crypto.pseudonymous_id("ip", ip)
        if channel:
            entry["channel"] = channel
        entry.update({f"d_{name}": str(value) for name, value in detail.items()})
        now_ms = int(now * 1000)
        minid = now_ms - keys.AUDIT_RETENTION * 1000
        try:
            self._redis.xadd(keys.AUDIT_STREAM, entry, id=f"{now_ms}-*", minid=minid, approximate=True)
        except redis.ResponseError:
            # This worker's clock is behind the stream's last entry: let Redis number it.
            self._redis.xadd(keys.AUDIT_STREAM, entry, minid=minid, approximate=True)
        log.info("auth event", extra={"fields": {"audit": entry}})

    def recent(self, account_id: str, *, limit: int = 20) -> list[AuditEvent]:
        """Newest events about an account, scanning the last ``RECENT_SCAN`` entries (console, tests)."""
        pseudonym = self._pseudonym(account_id)
        found = []
        for entry_id, entry in self._redis.xrevrange(keys.AUDIT_STREAM, count=RECENT_SCAN):
            if pseudonym not in (entry.get("actor"), entry.get("related")):
                continue
            found.append(
                AuditEvent(
                    entry_id=entry_id,
                    event=entry["event"],
                    at=float(entry["at"]),
                    actor=entry.get("actor"),
                    channel=entry.get("channel"),
                    outcome=entry["outcome"],
                    detail={name[2:]: value for name, value in entry.items() if name.startswith("d_")},
                )
            )
            if len(found) == limit:
                break
        return found
