"""Domain events: how one package tells the others that something happened, without reaching into them.

A publisher names a fact (``account.merged``, ``campaign.state_changed``, ``application.status_changed``)
and hands over plain, JSON-serialisable, non-personal data (ids, codes, states — never names, phones or
ID numbers). Subscribers in the same process run at once, in subscription order; a handler that fails is
logged and does not stop the others or the publisher, because the fact has already happened.

Facts other *processes* must learn (the push worker reacting to an API request) are also appended to a
Redis stream when the bus has one (``RedisStreamRelay``). Each consuming process kind reads through its own
consumer group and acknowledges after its handlers ran, so delivery is at least once: handlers must be
idempotent (every event carries an ``event_id`` to deduplicate on).
"""
from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import redis

log = logging.getLogger(__name__)

Handler = Callable[["DomainEvent"], None]

# One stream for every cross-process fact: a single key lives on one cluster slot, and its length is capped
# (approximately, so trimming stays cheap) — consumers that fall this far behind rebuild from the records.
STREAM_KEY = "events:{domain}"
STREAM_MAX_LENGTH = 100_000


@dataclass(frozen=True)
class DomainEvent:
    name: str
    data: dict[str, Any]
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def to_fields(self) -> dict[str, str]:
        return {"name": self.name, "event_id": self.event_id, "occurred_at": self.occurred_at.isoformat(),
                "data": json.dumps(self.data, ensure_ascii=False, sort_keys=True)}

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> "DomainEvent":
        return cls(name=fields["name"], data=json.loads(fields["data"]), event_id=fields["event_id"],
                   occurred_at=datetime.fromisoformat(fields["occurred_at"]))


class EventBus:
    def __init__(self, relay: "RedisStreamRelay | None" = None) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._relay = relay

    @property
    def relay(self) -> "RedisStreamRelay | None":
        return self._relay

    def subscribe(self, name: str, handler: Handler) -> None:
        self._handlers[name].append(handler)

    def publish(self, name: str, **data: Any) -> DomainEvent:
        event = DomainEvent(name=name, data=data)
        self.deliver(event)
        if self._relay is not None:
            self._relay.append(event)
        return event

    def deliver(self, event: DomainEvent) -> int:
        """Run this process's handlers for ``event``; returns how many failed."""
        failures = 0
        for handler in self._handlers.get(event.name, ()):
            try:
                handler(event)
            except Exception:  # a subscriber's bug must not undo a fact that already happened
                failures += 1
                log.exception("event handler failed", extra={"event": event.name, "event_id": event.event_id})
        return failures


class RedisStreamRelay:
    """Carries events between processes over one capped Redis stream with a consumer group per process kind."""

    def __init__(self, client: redis.Redis, *, stream_key: str = STREAM_KEY) -> None:
        self._redis = client
        self._stream = stream_key

    def append(self, event: DomainEvent) -> None:
        try:
            self.append_or_raise(event)
        except redis.RedisError:
            # The in-process handlers already ran; consumers in other processes fall back to their periodic
            # reconciliation from the records, so a Redis hiccup delays them rather than failing the request.
            log.warning("event not relayed", extra={"event": event.name, "event_id": event.event_id})

    def append_or_raise(self, event: DomainEvent) -> None:
        """For the outbox: a failure is reported, so the event stays to be relayed later."""
        self._redis.xadd(self._stream, event.to_fields(), maxlen=STREAM_MAX_LENGTH, approximate=True)

    def ensure_group(self, group: str) -> None:
        try:
            self._redis.xgroup_create(self._stream, group, id="$", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def consume(self, bus: EventBus, *, group: str, consumer: str, block_ms: int = 1000,
                count: int = 100) -> int:
        """Deliver one batch to ``bus``'s handlers: first this consumer's unacknowledged events (a crash
        between delivery and ack), then new ones. Returns how many events were delivered."""
        self.ensure_group(group)
        delivered = self._consume_from(bus, group, consumer, "0", count, block_ms=None)
        if delivered:
            return delivered
        return self._consume_from(bus, group, consumer, ">", count, block_ms=block_ms)

    def _consume_from(self, bus: EventBus, group: str, consumer: str, start: str, count: int,
                      block_ms: int | None) -> int:
        reply = self._redis.xreadgroup(group, consumer, {self._stream: start}, count=count, block=block_ms)
        delivered = 0
        for _stream, entries in reply or ():
            for entry_id, fields in entries:
                if fields:  # a trimmed entry still pending comes back empty: nothing to deliver
                    bus.deliver(DomainEvent.from_fields(fields))
                    delivered += 1
                self._redis.xack(self._stream, group, entry_id)
        return delivered
