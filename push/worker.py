"""The push worker: ``python -m push.worker`` (started by ``make run``).

Reads ``config.Settings.from_env()`` and ``push.settings.PushSettings.from_env()``, builds every service
through the composition root (``bootstrap``, as the API does) and the senders over its gateways (WeChat
through the shared access-token holder, Alipay, the APP push gateway, the inbox), then runs:

- ``MSB_PUSH_THREADS`` dispatcher threads, each a stream consumer (``host:pid:n``) that also takes
  over entries of dead consumers (``XAUTOCLAIM``) every ``claim_idle_seconds / 2``;
- one event thread: facts other processes published (``account.changed`` → re-sync the citizen), read
  from the domain-event stream through the ``push-worker`` consumer group, at least once;
- one housekeeping loop (every 0.5 s): start scheduled campaigns and plan them (also re-plans a
  running campaign whose planner died), promote due deferred/retry batches, settle orphaned
  in-flight sends, finish campaigns, trim acknowledged stream entries, heartbeat.

SIGTERM/SIGINT: stop reading, let in-flight sends complete and be recorded, ack, exit 0. A SIGKILL
loses nothing: unacked entries are reclaimed and per-message state prevents double sends (see
``push.dispatcher``).
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import redis

from bootstrap import WORKER_GROUP, bootstrap, record_maintenance, worker_subscriptions
from config import Settings
from kernel.events import EventBus, RedisStreamRelay
from integrations.app_push import AppPushClient
from integrations.gateways import Gateways
from integrations.json_http import JsonHttp
from integrations.wechat_subscribe import SubscribeMessageClient
from kernel.logging import configure_logging
from kernel.postgres import DatabaseUnavailable
from kernel.redis import redis_client as kernel_redis_client
from push import keys
from push.redisutil import shards_in_use
from push.campaigns import RUNNING, SYSTEM_ACTOR
from push.dispatcher import Dispatcher, finish_if_done
from push.errors import CampaignNotFound, CampaignStateConflict
from push.planner import PlanBusy
from push.senders.alipay import AlipaySender
from push.senders.app_push import AppPushSender
from push.senders.base import Sender
from push.senders.inbox import InboxSender
from push.senders.wechat import WeChatSender
from push.service import PushService
from push.settings import PushSettings

log = logging.getLogger("msb.push.worker")

HOUSEKEEPING_SECONDS = 0.5
TRIM_SECONDS = 60.0


def build_senders(gateways: Gateways, service: PushService, settings: Settings) -> dict[str, Sender]:
    """The four senders over the composition root's gateways (WeChat shares identity's token holder);
    Alipay is left out (its messages retry, then dead-letter) when its gateway could not be built."""
    timeout = settings.upstream_timeout_seconds
    senders: dict[str, Sender] = {
        "wechat": WeChatSender(SubscribeMessageClient(settings.upstream_url("wechat"), gateways.wechat_token_holder,
                                                      http=JsonHttp(), timeout=timeout)),
        "app": AppPushSender(AppPushClient(service.settings.app_push_url, service.settings.app_push_key,
                                           http=JsonHttp(), timeout=timeout)),
        "inbox": InboxSender(service.inbox_store, service.clock),
    }
    if gateways.alipay is not None:
        senders["alipay"] = AlipaySender(gateways.alipay)
    else:
        log.error("alipay channel disabled: its gateway is not configured")
    return senders


class PushRuntime:
    def __init__(self, service: PushService, senders: Mapping[str, Sender], *, threads: int | None = None,
                 stop: threading.Event | None = None, events: tuple[RedisStreamRelay, EventBus] | None = None,
                 maintenance: Any = None) -> None:
        self.service = service
        self.senders = dict(senders)
        self.threads = threads or service.settings.threads
        self.stop = stop or threading.Event()
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._housekeeper = service.dispatcher(senders=self.senders, name=f"{self.name}:hk", stop=self.stop)
        self._last_trim = 0.0
        self._events = events
        # The records' own housekeeping (outbox relay, audit partitions), handed over by the composition root.
        self._maintenance = maintenance

    # --- housekeeping --------------------------------------------------------------------------------

    def tick(self) -> dict[str, int]:
        service = self.service
        now = service.clock.now()
        started = planned = 0
        for campaign_id in service.campaigns.scheduled_due(now):
            try:
                service.campaigns.transition(SYSTEM_ACTOR, campaign_id, "start")
                started += 1
            except (CampaignStateConflict, CampaignNotFound):
                continue
        for campaign in service.campaigns.active():
            if campaign.status != RUNNING:
                continue
            if campaign.plan_state == "planned":  # read just now, and a plan never reverts: no second read
                finish_if_done(service.redis, service.campaigns, campaign.id, current=campaign)
                continue
            if service.redis.exists(keys.plan_lock(campaign.id)):
                continue
            try:
                service.planner.plan(campaign)
                planned += 1
            except PlanBusy:
                continue
            finish_if_done(service.redis, service.campaigns, campaign.id)
        promoted = self._housekeeper.promote_due()
        orphans = self._housekeeper.sweep_orphans()
        if time.monotonic() - self._last_trim > TRIM_SECONDS:
            self._last_trim = time.monotonic()
            self._housekeeper.trim_streams()
            service.redis.hset(keys.WORKERS, self.name, repr(time.time()))
        return {"started": started, "planned": planned, "promoted": promoted, "orphans": orphans}

    # --- in-process use (tests, tools) -------------------------------------------------------------

    def drain(self, *, max_seconds: float = 30.0, dispatcher: Dispatcher | None = None) -> int:
        """Tick and dispatch until nothing is ready to send (retries not yet due are left)."""
        dispatcher = dispatcher or self.service.dispatcher(senders=self.senders, name=f"{self.name}:drain", stop=self.stop)
        dispatcher.ensure_groups()
        deadline = time.monotonic() + max_seconds
        total = 0
        try:
            while time.monotonic() < deadline:
                self.tick()
                handled = dispatcher.poll(block_ms=None, count=10)
                total += handled
                if handled == 0 and not self._due_work():
                    break
        finally:
            if dispatcher is not None:
                dispatcher.close()
        return total

    def _due_work(self) -> bool:
        redis_client = self.service.redis
        now = repr(self.service.clock.now())
        if any(redis_client.zcount(keys.delayed(shard), "-inf", now) for shard in shards_in_use(redis_client)):
            return True
        return any(campaign.status == RUNNING and campaign.plan_state != "planned"
                   for campaign in self.service.campaigns.active())

    # --- the process -----------------------------------------------------------------------------------

    def run(self) -> None:
        self._retrying(self._housekeeper.ensure_groups)
        workers = [threading.Thread(target=self._dispatch_loop, args=(n,), name=f"push-dispatch-{n}", daemon=True)
                   for n in range(self.threads)]
        if self._events is not None:
            workers.append(threading.Thread(target=self._event_loop, name="push-events", daemon=True))
        for thread in workers:
            thread.start()
        log.info("push worker started", extra={"fields": {"threads": self.threads, "channels": sorted(self.senders)}})
        while not self.stop.is_set():
            try:
                self.tick()
            except (redis.RedisError, DatabaseUnavailable) as exc:
                log.warning("housekeeping failed", extra={"fields": {"error_class": type(exc).__name__}})
            except Exception:
                log.exception("housekeeping error")
            if self._maintenance is not None:
                try:
                    self._maintenance()
                except Exception:  # PostgreSQL or Redis away: the next round catches up
                    log.warning("record maintenance failed", exc_info=True)
            self.stop.wait(HOUSEKEEPING_SECONDS)
        for thread in workers:
            thread.join(timeout=30)
        self._housekeeper.close()
        log.info("push worker stopped")

    def consume_events(self, block_ms: int | None = 1000) -> int:
        """Deliver one batch of other processes' facts to the worker's subscriptions (at least once)."""
        if self._events is None:
            return 0
        relay, bus = self._events
        return relay.consume(bus, group=WORKER_GROUP, consumer=self.name, block_ms=block_ms)

    def _event_loop(self) -> None:
        while not self.stop.is_set():
            try:
                self.consume_events()
            except redis.RedisError as exc:
                log.warning("event stream unavailable", extra={"fields": {"error_class": type(exc).__name__}})
                self.stop.wait(1.0)
            except Exception:  # an unacknowledged event is delivered again on the next round
                log.exception("event consumer error")
                self.stop.wait(1.0)

    def _dispatch_loop(self, number: int) -> None:
        dispatcher = self.service.dispatcher(senders=self.senders, name=f"{self.name}:{number}", stop=self.stop)
        try:
            while not self.stop.is_set():
                try:
                    dispatcher.maybe_reclaim()
                    dispatcher.poll(block_ms=1000, count=1)
                except (redis.RedisError, DatabaseUnavailable) as exc:
                    log.warning("dispatch failed", extra={"fields": {"error_class": type(exc).__name__}})
                    self.stop.wait(1.0)
                except Exception:  # keep the thread alive whatever happens; the entry stays pending
                    log.exception("dispatcher error")
                    self.stop.wait(1.0)
        finally:
            dispatcher.close()

    def _retrying(self, action: Any) -> None:
        while not self.stop.is_set():
            try:
                action()
                return
            except redis.RedisError:
                log.warning("redis not reachable yet; retrying")
                self.stop.wait(1.0)


def main() -> int:
    settings = Settings.from_env()
    push_settings = PushSettings.from_env(settings)
    configure_logging(settings.log_level)
    # The worker waits on blocking stream reads, so its socket timeout must outlast them.
    redis_client = kernel_redis_client(settings.redis_url, socket_timeout=None, health_check_interval=30)
    services = bootstrap(settings, redis_client=redis_client, push_settings=push_settings)
    senders = build_senders(services.gateways, services.push, settings)
    runtime = PushRuntime(services.push, senders, threads=push_settings.threads,
                          events=(services.relay, worker_subscriptions(services)),
                          maintenance=record_maintenance(services))

    def stop(signum: int, _frame: Any) -> None:
        log.info("stopping", extra={"fields": {"signal": signum}})
        runtime.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    runtime.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
