"""Consume the per-channel streams and send, exactly once or not at all.

**Queue.** One stream per shard of the citizen index and channel (``keys.stream``), one consumer group
``dispatchers``; an entry is a batch of up to 100 citizens of one campaign and one shard (``c``, ``ch``,
``ids``, attempt ``n``), so every script that settles it runs in that shard's slot. A dispatcher acks an entry only
after every message in it reached a terminal state or was scheduled for retry, so a dead consumer's
entries stay pending and are taken over with ``XAUTOCLAIM`` after ``claim_idle_seconds``.

**Per-message state machine** (bitmaps per campaign × channel, plus a small in-flight hash)::

    queued (planned bit)
      ──claim──▶ claimed  (INFLIGHT "cid|ch|idx" = "consumer|claimed_at|attempt")
      ──wire───▶ sending  (same value + "|w|<doubt handle>", a compare-and-set sent with the request)
      sending ──▶ sent (done+sent bits) | failed (done) | retry (back to queued, due in the delayed zset)
      claimed, owner died ──(orphan_seconds)──▶ queued again (the request never left: safe to resend)
      sending, owner died ──(orphan_seconds)──▶ unknown (done+unknown bits): never re-sent

``claim`` is one Lua script: a message whose done bit is set is skipped, one already in flight is
left to its owner, anything else is marked claimed. ``complete`` (Lua) settles a chunk. Messages are
claimed in chunks of ``concurrency`` right before their HTTP calls, so a killed worker leaves at most
one chunk in flight. The wire mark is a compare-and-set on the claim value: if the sweeper re-queued a
slow owner's claim, the owner's mark fails and it does not send (``abandoned``); if the owner marked
first, the sweeper leaves it to the ``unknown`` rule. Either way one copy at most (a pipelined mark is
only used while the claim is younger than ``orphan_seconds / 2``; an older one asks first).

**A crash during an HTTP send** (decided: never duplicate). WeChat has no idempotency key and cannot
be asked whether a message arrived, so a message whose request may have left and whose outcome was
never recorded cannot be retried without risking a second copy on the citizen's phone. After
``orphan_seconds`` any dispatcher settles it as ``unknown`` (counted in stats, not retried). So the
mark must mean "on the wire" and nothing less: for WeChat and APP push it is taken once the connection
is up and the request encoded (``integrations.json_http`` ``before_write``), and pipelined with the
write — the mark's command is in the kernel before the request is written, its answer read after
(``_wire_announcer``). A kill -9 between the two (microseconds; measured: 0–1 message in 2 kills of a
3,000-message campaign, against 2–6 when the mark waited for its answer first) still loses that
message. WeChat's ``subscribe_msg_sent_event`` names recipient and template, so an ``unknown`` it
reports becomes ``sent`` (``push.reconcile``). If the original owner was only slow and later reports
success, ``complete`` turns ``unknown`` into ``sent`` too.

**Retries**: retryable outcomes (-1, 45009, timeouts, 5xx) go to the delayed zset with exponential
backoff (``backoff * 2^attempt``, capped); after ``max_attempts`` sends the message is dead-lettered
(``push:dead``) and, for WeChat/Alipay, its one-time subscription is refunded (it never reached the
user). Permanent outcomes are never retried; 43101 also zeroes the ledger.

**Auto-pause**: once a campaign has ``pause_min_attempts`` attempts and its error rate (failures
other than a user's own refusal, retries included) exceeds ``pause_error_rate``, it is paused by the
system. Entries met while a campaign is paused are parked and go back to the streams on resume, so
it continues where it stopped; cancelled campaigns' messages are settled ``cancelled``.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import redis

from kernel.clock import Clock, SystemClock, minute
from kernel.crypto import Crypto
from kernel.metrics import PUSH_SENDS
from kernel.postgres import DatabaseUnavailable
from push import keys
from push.campaigns import CANCELLED, FINISHED, RUNNING, SYSTEM_ACTOR, Campaign, CampaignStore
from push.consent_usage import ConsentUsage
from push.dispatch_scripts import (CLAIM_LUA, COMPLETE_LUA, ON_WIRE_LUA, PROMOTE_LUA, REQUEUE_ORPHAN_LUA,
                                   SETTLE_ORPHAN_LUA, UNPARK_LUA)
from push.errors import CampaignNotFound, CampaignStateConflict
from push.limits import RateLimiter
from push.profiles import AddressBook, CitizenIndex
from push.reconcile import DoubtReconciler, doubt_handle
from push.redisutil import is_cluster, shards_in_use
from push.stats import Stats, outstanding
from push.senders.base import FAILED, RETRY, SENT, SKIPPED, Outbound, Outcome, Sender, message_id
from push.settings import CHANNELS, CONSENT_CHANNELS, PushSettings
from push.templates import ONE_TIME, TemplateRegistry

log = logging.getLogger("msb.push.dispatcher")


def _held() -> bool:
    return True


def consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


@dataclass
class Batch:
    campaign_id: str
    channel: str
    ids: list[int]
    attempt: int

    @property
    def shard(self) -> int:
        """Every batch holds citizens of one shard (the planner, retries and re-queues keep it so)."""
        return keys.shard_of(self.ids[0]) if self.ids else 0

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> "Batch":
        return cls(fields["c"], fields["ch"], [int(x) for x in str(fields["ids"]).split(",") if x], int(fields.get("n", 0)))

    def to_json(self) -> str:
        return json.dumps({"c": self.campaign_id, "ch": self.channel, "ids": ",".join(map(str, self.ids)), "n": self.attempt})


class Dispatcher:
    """One consumer. Thread-safe to share Redis; use one Dispatcher per thread."""

    def __init__(self, redis_client: redis.Redis, *, campaigns: CampaignStore, senders: Mapping[str, Sender],
                 addresses: AddressBook, index: CitizenIndex, settings: PushSettings, limiter: RateLimiter,
                 templates: TemplateRegistry | None = None, clock: Clock | None = None, name: str | None = None,
                 stop: threading.Event | None = None, crypto: Crypto | None = None,
                 usage: ConsentUsage | None = None) -> None:
        self._redis = redis_client
        self._usage = usage  # records consent refunds and upstream zeroing in PostgreSQL
        self._campaigns = campaigns
        self._senders = dict(senders)
        self._addresses = addresses
        self._index = index
        self._settings = settings
        self._limiter = limiter
        self._templates = templates or TemplateRegistry()
        self._clock = clock or SystemClock()
        self.name = name or consumer_name()
        self._stop = stop or threading.Event()
        self._crypto = crypto  # for the doubt handle of a WeChat send (push.reconcile); None: no handle
        self._claim = redis_client.register_script(CLAIM_LUA)
        self._complete = redis_client.register_script(COMPLETE_LUA)
        self._settle_orphan = redis_client.register_script(SETTLE_ORPHAN_LUA)
        self._on_wire = redis_client.register_script(ON_WIRE_LUA)
        self._requeue_orphan = redis_client.register_script(REQUEUE_ORPHAN_LUA)
        self._promote = redis_client.register_script(PROMOTE_LUA)
        self._unpark = redis_client.register_script(UNPARK_LUA)
        self._pool: ThreadPoolExecutor | None = None
        self._cache: dict[str, tuple[float, Campaign]] = {}
        self._last_reclaim = 0.0
        self._grouped: set[int] = set()  # shards whose streams have our consumer group
        self._next_shard = 0
        self._doubts = DoubtReconciler(redis_client, crypto, Stats(redis_client), self._clock) if crypto else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    @property
    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._settings.concurrency, thread_name_prefix="push-send")
        return self._pool

    # --- queue plumbing ---------------------------------------------------------------------------

    def ensure_groups(self, shard: int | None = None) -> None:
        for number in (shards_in_use(self._redis) if shard is None else (shard,)):
            if number in self._grouped:
                continue
            for channel in CHANNELS:
                try:
                    self._redis.xgroup_create(keys.stream(number, channel), keys.GROUP, id="0", mkstream=True)
                except redis.ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
            self._grouped.add(number)

    def poll(self, block_ms: int | None = 1000, count: int = 1) -> int:
        """Read new entries (waiting up to ``block_ms``; None = don't wait) and process them.

        One read covers one shard's streams (one slot). With one shard in use the read blocks as
        before; with several, the shards are read in turn without blocking (starting after the last
        one served, so no shard starves), pausing briefly between empty rounds until ``block_ms``."""
        deadline = time.monotonic() + (block_ms or 0) / 1000
        while True:
            shards = shards_in_use(self._redis)
            single = len(shards) == 1
            for offset in range(len(shards)):
                shard = shards[(self._next_shard + offset) % len(shards)]
                handled = self._read(shard, count, block_ms if single else None)
                if handled:
                    self._next_shard = shard + 1
                    return handled
            if single or block_ms is None or time.monotonic() >= deadline or self._stop.is_set():
                return 0
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _read(self, shard: int, count: int, block_ms: int | None) -> int:
        self.ensure_groups(shard)
        streams = {keys.stream(shard, channel): ">" for channel in CHANNELS}
        try:
            reply = self._redis.xreadgroup(keys.GROUP, self.name, streams, count=count, block=block_ms)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._grouped.discard(shard)  # the streams were deleted (a flush): create the group again
            return 0
        handled = 0
        for stream, entries in reply or []:
            for entry_id, fields in entries:
                self.handle(stream, entry_id, fields)
                handled += 1
        return handled

    def reclaim(self, min_idle_seconds: float | None = None) -> int:
        """Take over entries a dead consumer left pending for longer than ``claim_idle_seconds``."""
        idle_ms = int(1000 * (self._settings.claim_idle_seconds if min_idle_seconds is None else min_idle_seconds))
        handled = 0
        for shard in shards_in_use(self._redis):
            self.ensure_groups(shard)
            for channel in CHANNELS:
                stream = keys.stream(shard, channel)
                start = "0-0"
                while True:
                    next_start, entries, *_ = self._redis.xautoclaim(stream, keys.GROUP, self.name,
                                                                     min_idle_time=idle_ms, start_id=start, count=10)
                    for entry_id, fields in entries:
                        if fields:  # deleted entries come back empty
                            self.handle(stream, entry_id, fields)
                            handled += 1
                        else:
                            self._redis.xack(stream, keys.GROUP, entry_id)
                    if next_start in ("0-0", b"0-0") or not entries:
                        break
                    start = next_start
        return handled

    def maybe_reclaim(self) -> int:
        now = time.monotonic()
        if now - self._last_reclaim < max(1.0, self._settings.claim_idle_seconds / 2):
            return 0
        self._last_reclaim = now
        return self.reclaim()

    # --- one entry ------------------------------------------------------------------------------------

    def handle(self, stream: str, entry_id: str, fields: Mapping[str, str]) -> None:
        # Acked only after every message is terminal, retry-scheduled, parked or in another owner's
        # hands; Redis or PostgreSQL (the campaign records) being away leaves the entry pending for a
        # reclaim — the done bits keep what was already settled from being sent again. Any other
        # exception is a bug or bad data: the batch is failed and dead-lettered so it cannot poison the queue.
        try:
            batch = Batch.from_fields(fields)
        except (KeyError, ValueError):
            log.error("malformed queue entry dead-lettered", extra={"fields": {"stream": stream}})
            self._redis.xadd(keys.dead_letters(keys.shard_of_key(stream)), {"c": str(fields.get("c", "")), "ch": str(fields.get("ch", "")), "idx": "",
                                                 "code": "malformed_entry", "attempts": "0", "at": repr(self._clock.now())},
                             maxlen=keys.DEAD_MAXLEN, approximate=True)
            self._redis.xack(stream, keys.GROUP, entry_id)
            return
        try:
            self.process(batch)
        except (redis.RedisError, DatabaseUnavailable):
            raise
        except Exception:
            log.exception("batch failed", extra={"fields": {"campaign": batch.campaign_id, "channel": batch.channel}})
            self._fail_batch(batch, "processing_error")
        self._redis.xack(stream, keys.GROUP, entry_id)

    def process(self, batch: Batch) -> None:
        try:
            campaign = self._campaign(batch.campaign_id)
        except CampaignNotFound:
            log.warning("queued batch of unknown campaign dropped", extra={"fields": {"campaign": batch.campaign_id}})
            return
        if campaign.status in (CANCELLED, FINISHED):
            self._settle_all(campaign, batch, "cancelled")
            return
        if campaign.status != RUNNING:  # paused (or not yet running): keep for resume
            self._redis.rpush(keys.parked(batch.shard, campaign.id), batch.to_json())
            return
        if campaign.end_at is not None and self._clock.now() > campaign.end_at:
            self._settle_all(campaign, batch, "expired")
            return
        sender = self._senders.get(batch.channel)
        step = self._settings.concurrency
        for start in range(0, len(batch.ids), step):
            if start and self._status_changed(campaign):
                # paused or cancelled mid-batch: the rest waits (parked) or is cancelled
                rest = Batch(batch.campaign_id, batch.channel, batch.ids[start:], batch.attempt)
                self.process(rest)
                return
            self._send_chunk(campaign, batch, batch.ids[start:start + step], sender)

    def _status_changed(self, campaign: Campaign) -> bool:
        return self._campaign(campaign.id).status != RUNNING

    def _send_chunk(self, campaign: Campaign, batch: Batch, chunk: Sequence[int], sender: Sender | None) -> None:
        ch, shard = batch.channel, batch.shard
        check_opt_out = campaign.category in ("marketing", "policy") and not campaign.forced(ch)
        claim = f"{self.name}|{self._clock.now()!r}|{batch.attempt}"
        claimed = time.monotonic()
        codes = self._claim(
            keys=[keys.done(shard, campaign.id, ch), keys.inflight(shard), keys.seg_opt_out(shard, campaign.category, ch),
                  keys.stats(campaign.id, shard)],
            args=[campaign.id, ch, claim, repr(self._clock.now()), "1" if check_opt_out else "0", keys.shard_base(shard),
                  *chunk])
        ours = [idx for idx, code in zip(chunk, codes) if code == "ok"]
        if not ours:
            return
        outcomes: list[Outcome]
        if sender is None:
            outcomes = [Outcome(RETRY, "channel_unavailable")] * len(ours)
        else:
            self._limiter.acquire(ch, len(ours), self._stop)
            accounts = self._index.accounts(ours)
            addresses = self._addresses.lookup(ch, ours)
            template = campaign.content.get(ch, {}).get("template_id", "")
            messages: list[Outbound | None] = []
            for idx, account, address in zip(ours, accounts, addresses):
                field_name = f"{campaign.id}|{ch}|{idx}"
                handle = (doubt_handle(self._crypto, address, template)
                          if ch == "wechat" and self._crypto is not None and isinstance(address, str) else "")
                mark = self._wire_marker(shard, field_name, claim, handle)
                messages.append(Outbound(campaign, ch, idx, account, address, message_id(campaign.id, ch, idx),
                                         on_wire=mark,
                                         announce=self._wire_announcer(shard, field_name, claim, handle, claimed, mark))
                                if account and address else None)
            outcomes = list(self.pool.map(lambda m: self._send_one(sender, m), messages))
        self._record(campaign, batch, ours, outcomes)

    def _wire_marker(self, shard: int, field_name: str, claim: str, handle: str = "") -> Any:
        marked = f"{claim}|w|{handle}" if handle else f"{claim}|w"

        def mark() -> bool:
            return bool(self._on_wire(keys=[keys.inflight(shard)], args=[field_name, claim, marked]))
        return mark

    def _wire_announcer(self, shard: int, field_name: str, claim: str, handle: str, claimed: float, mark: Any) -> Any:
        """The wire mark, pipelined with the write (see ``Outbound.announce``): the mark's command is in
        the kernel's send buffer before the request is written, so a kill -9 between the two still
        delivers the mark (a closing socket sends what it holds); its answer is read after the write.
        Waiting for that answer first left the Redis round trip and a GIL hand-over (about 1-2 ms, a
        tenth of a send) between the mark and the write: kills landing there lost the message.

        Pipelining is safe only while the claim cannot have been re-queued: the sweeper takes claims
        older than ``orphan_seconds``, so an older claim (a stalled thread) asks first and waits.

        On a Redis Cluster the connection is one of the pool of the node serving the in-flight hash's
        slot (found from the client's slot map); a MOVED answer (slots being migrated) is read as an
        unconfirmed mark, as is any other error."""
        marked = f"{claim}|w|{handle}" if handle else f"{claim}|w"
        inflight = keys.inflight(shard)

        def announce() -> Any:
            if time.monotonic() - claimed > self._settings.orphan_seconds / 2:
                return _held if mark() else None
            pool = self._pool_for(inflight)
            conn = pool.get_connection()
            try:
                conn.send_command("EVAL", ON_WIRE_LUA, 1, inflight, field_name, claim, marked)
            except BaseException:
                conn.disconnect()
                pool.release(conn)
                raise

            def held() -> bool:
                try:
                    if conn.read_response():
                        return True
                    log.error("a send went out after its claim was taken over: it may arrive twice",
                              extra={"fields": {"campaign": field_name.split("|", 1)[0]}})
                except (redis.RedisError, OSError):
                    conn.disconnect()
                    log.error("wire mark unconfirmed (Redis failed after the request was written)")
                finally:
                    pool.release(conn)
                return False
            return held
        return announce

    def _pool_for(self, key: str) -> Any:
        if not is_cluster(self._redis):
            return self._redis.connection_pool
        node = self._redis.get_node_from_key(key)
        return self._redis.get_redis_connection(node).connection_pool

    @staticmethod
    def _send_one(sender: Sender, message: Outbound | None) -> Outcome:
        if message is None:
            return Outcome(SKIPPED, "no_channel_address")
        try:
            return sender.send(message)
        except Exception:  # a bug in a sender must not lose the claim: retry, then dead letter
            log.exception("sender failed", extra={"fields": {"channel": sender.channel}})
            return Outcome(RETRY, "sender_error")

    def _record(self, campaign: Campaign, batch: Batch, idxs: Sequence[int], outcomes: Sequence[Outcome]) -> None:
        now = self._clock.now()
        due = now + min(self._settings.backoff_cap_seconds, self._settings.backoff_seconds * (2 ** batch.attempt))
        args: list[Any] = [campaign.id, batch.channel, repr(now), minute(now), batch.attempt, self._settings.max_attempts,
                           keys.MESSAGE_STATE_TTL, keys.shard_base(batch.shard), "", keys.SERIES_TTL, keys.DEAD_MAXLEN]
        template = campaign.content.get(batch.channel, {}).get("template_id", "-")
        msgids: dict[str, str] = {}
        registered = self._templates.find(batch.channel, template) if batch.channel in CONSENT_CHANNELS else None
        refundable = registered is not None and registered.kind == ONE_TIME
        for idx, outcome in zip(idxs, outcomes):
            PUSH_SENDS.labels(batch.channel, outcome.status).inc()
            flags = ("z" if outcome.zero_consent else "") + ("d" if outcome.drop_address else "") + (
                "e" if outcome.counts_as_error else "") + ("r" if refundable else "")
            msgid = outcome.msgid if (outcome.status == SENT and batch.channel == "wechat" and outcome.msgid) else ""
            if msgid:
                msgids[msgid] = f"{campaign.id}|{idx}"
            args.extend([idx, outcome.status, outcome.code, msgid, repr(due), flags])
        if msgids:
            # For subscribe_msg_sent_event, which names only the msgid (so its key has no shard tag). Written
            # before the settling script: a worker killed in between leaves the send in flight, the sweeper
            # settles it unknown, and the event then finds its msgid and confirms it (never a lost delivery).
            pipe = self._redis.pipeline(transaction=False)
            for msgid, owner in msgids.items():
                pipe.set(keys.wechat_msgid(msgid), owner, ex=keys.WECHAT_MSGID_TTL)
            pipe.execute()
        shard_outstanding, attempts, errors, refunded, zeroed = self._complete(
            keys=_complete_keys(batch.shard, campaign.id, batch.channel, template), args=args)
        if self._usage is not None:  # after the script: logged, not raised, if PostgreSQL refuses
            self._usage.refunded(batch.channel, template, refunded, source="dispatcher", campaign_id=campaign.id)
            self._usage.revoked(batch.channel, template, zeroed, source="dispatcher")
        self._after(campaign, int(shard_outstanding), int(attempts), int(errors))

    def _settle_all(self, campaign: Campaign, batch: Batch, status: str) -> None:
        args: list[Any] = [campaign.id, batch.channel, repr(self._clock.now()), minute(self._clock.now()), batch.attempt,
                           self._settings.max_attempts, keys.MESSAGE_STATE_TTL, keys.shard_base(batch.shard), "",
                           keys.SERIES_TTL, keys.DEAD_MAXLEN]
        for idx in batch.ids:
            args.extend([idx, status, status, "", "0", ""])
        self._complete(keys=_complete_keys(batch.shard, campaign.id, batch.channel), args=args)

    def _fail_batch(self, batch: Batch, code: str) -> None:
        now = self._clock.now()
        args: list[Any] = [batch.campaign_id, batch.channel, repr(now), minute(now), batch.attempt, self._settings.max_attempts,
                           keys.MESSAGE_STATE_TTL, keys.shard_base(batch.shard), "", keys.SERIES_TTL, keys.DEAD_MAXLEN]
        for idx in batch.ids:
            args.extend([idx, FAILED, code, "", "0", "e"])
        self._complete(keys=_complete_keys(batch.shard, batch.campaign_id, batch.channel), args=args)
        self._redis.xadd(keys.dead_letters(batch.shard), {"c": batch.campaign_id, "ch": batch.channel, "idx": ",".join(map(str, batch.ids)),
                                             "code": code, "attempts": str(batch.attempt + 1), "at": repr(now)},
                         maxlen=keys.DEAD_MAXLEN, approximate=True)

    def _after(self, campaign: Campaign, shard_outstanding: int, attempts: int, errors: int) -> None:
        # The error rate is the shard's (its stats hash is what the settling script can read): with a
        # million citizens per shard it is as good a sample, and reading every shard per chunk is not.
        if (attempts >= self._settings.pause_min_attempts and errors / max(attempts, 1) > self._settings.pause_error_rate):
            try:
                self._campaigns.transition(SYSTEM_ACTOR, campaign.id, "pause", reason="error_rate",
                                           changes={"attempts": attempts, "errors": errors})
                self._cache.pop(campaign.id, None)
                log.warning("campaign auto-paused", extra={"fields": {"campaign": campaign.id, "attempts": attempts,
                                                                       "errors": errors}})
            except CampaignStateConflict:
                pass
        if shard_outstanding <= 0:  # this shard is done; the campaign when all are
            finish_if_done(self._redis, self._campaigns, campaign.id)

    def _campaign(self, campaign_id: str) -> Campaign:
        cached = self._cache.get(campaign_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < 1.0:
            return cached[1]
        campaign = self._campaigns.get(campaign_id)
        self._cache[campaign_id] = (now, campaign)
        return campaign

    # --- housekeeping (any dispatcher may run it) ----------------------------------------------------------

    def promote_due(self, limit: int = 500) -> int:
        """Move due deferred batches and retries from the shards' delayed zsets into their streams."""
        moved = 0
        for shard in shards_in_use(self._redis):
            while True:
                n = int(self._promote(keys=[keys.delayed(shard), *[keys.stream(shard, ch) for ch in CHANNELS]],
                                      args=[repr(self._clock.now()), limit, *CHANNELS]))
                moved += n
                if n < limit:
                    break
        return moved

    def sweep_orphans(self) -> int:
        """Claims older than ``orphan_seconds`` whose owner is gone: re-queued when the request never
        left (no wire mark), settled ``unknown`` when it did (never re-sent)."""
        settled = 0
        horizon = self._clock.now() - self._settings.orphan_seconds
        for shard in shards_in_use(self._redis):
            inflight = keys.inflight(shard)
            for field_name, value in self._redis.hgetall(inflight).items():
                try:
                    cid, ch, idx = field_name.split("|")
                    parts = value.split("|")  # consumer | claimed_at | attempt [| w [| doubt handle]]
                    on_wire = len(parts) > 3 and parts[3] == "w"
                    handle = parts[4] if len(parts) > 4 else ""
                    claimed_at, attempt = float(parts[1]), int(parts[2])
                    bit = keys.bit_of(int(idx))
                except (ValueError, IndexError):
                    self._redis.hdel(inflight, field_name)
                    continue
                if claimed_at > horizon:
                    continue
                if not on_wire:
                    if self._requeue_orphan(keys=[inflight, keys.done(shard, cid, ch), keys.delayed(shard)],
                                            args=[field_name, value, idx, cid, ch, attempt, repr(self._clock.now()), bit]):
                        log.warning("claimed send re-queued (never sent)", extra={"fields": {"campaign": cid, "channel": ch}})
                    continue
                if not self._settle_orphan(keys=[inflight, keys.done(shard, cid, ch), keys.unknown(shard, cid, ch),
                                                 keys.stats(cid, shard)], args=[field_name, value, bit, ch]):
                    continue
                settled += 1
                confirmed = bool(handle) and self._doubts is not None and self._doubts.swept(handle, cid, int(idx))
                log.warning("in-flight send settled as " + ("sent (WeChat reported it)" if confirmed else "unknown"),
                            extra={"fields": {"campaign": cid, "channel": ch}})
                if outstanding(self._redis, cid) <= 0:
                    finish_if_done(self._redis, self._campaigns, cid)
        return settled

    def unpark(self, campaign_id: str) -> int:
        return sum(int(self._unpark(keys=[keys.parked(shard, campaign_id), *[keys.stream(shard, ch) for ch in CHANNELS]],
                                    args=list(CHANNELS)))
                   for shard in shards_in_use(self._redis))

    def cancel_parked(self, campaign: Campaign) -> int:
        count = 0
        for shard in shards_in_use(self._redis):
            while True:
                raw = self._redis.lpop(keys.parked(shard, campaign.id))
                if raw is None:
                    break
                batch = Batch.from_fields(json.loads(raw))
                self._settle_all(campaign, batch, "cancelled")
                count += len(batch.ids)
        return count

    def trim_streams(self) -> None:
        """Drop acknowledged entries: everything below the oldest pending or undelivered entry."""
        for shard in shards_in_use(self._redis):
            for channel in CHANNELS:
                stream = keys.stream(shard, channel)
                try:
                    groups = self._redis.xinfo_groups(stream)
                except redis.ResponseError:
                    continue
                group = next((g for g in groups if g["name"] == keys.GROUP), None)
                if group is None:
                    continue
                floor = group["last-delivered-id"]
                pending = self._redis.xpending(stream, keys.GROUP)
                if pending and pending.get("pending"):
                    floor = min(floor, pending["min"], key=_stream_id)
                self._redis.xtrim(stream, minid=floor, approximate=True)


def _complete_keys(shard: int, campaign_id: str, channel: str, template: str = "-") -> list[str]:
    """KEYS of ``COMPLETE_LUA``: one campaign × channel's message state in one shard, plus the shard's
    consent ledger of the template (``-``: none touched), address book and queues."""
    return [keys.done(shard, campaign_id, channel), keys.sent(shard, campaign_id, channel),
            keys.unknown(shard, campaign_id, channel), keys.inflight(shard), keys.stats(campaign_id, shard),
            keys.consent(shard, channel, template), keys.consent_has(shard, channel, template), keys.delayed(shard),
            keys.dead_letters(shard), keys.series(campaign_id, shard), keys.address(shard, channel),
            keys.seg_address(shard, channel), keys.dead(shard, campaign_id, channel)]


def _stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def finish_if_done(redis_client: redis.Redis, campaigns: CampaignStore, campaign_id: str, *,
                   current: Campaign | None = None) -> bool:
    """Running, fully planned and nothing outstanding (nothing parked, deferred or retrying) → finished.
    ``current`` is a copy the caller has just read (else it is read here): the finish transition checks
    the status again under the row lock, so a copy gone stale only costs a refused transition."""
    campaign = current
    if campaign is None:
        try:
            campaign = campaigns.get(campaign_id)
        except CampaignNotFound:
            return False
    if campaign.status != RUNNING or campaign.plan_state != "planned":
        return False
    if outstanding(redis_client, campaign_id) > 0:
        return False
    try:
        campaigns.transition(SYSTEM_ACTOR, campaign_id, "finish")
    except CampaignStateConflict:
        return False
    log.info("campaign finished", extra={"fields": {"campaign": campaign_id}})
    return True
