"""The composition root: every service of the BFF built in one place, for the API and the push worker alike.

``bootstrap(settings)`` returns ``Services``; ``bff.create_app`` keeps it in ``app.extensions["services"]``
and ``push.worker`` runs on it. Nothing else builds a domain service, a gateway or a Redis client, so what
a process is made of, and how the packages are wired to each other, reads top to bottom below:

* the system of record (PostgreSQL, one pool per process) and the shared kernel's Redis client and
  domain-event bus (relayed over a Redis stream to other processes; facts tied to a record go through
  the outbox in the same PostgreSQL transaction);
* the live catalogue (opened lazily: a process may start before ``make index`` has built it);
* the outside-system gateways that can be built from the settings (``integrations.gateways``);
* identity (``auth``) and push, and push's subscriptions to identity's and its own facts;
* the HTTP response cache and the home screen's sources, which campaign facts keep fresh.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis

from auth.notices import ACCOUNT_NOTICE
from auth.service import ACCOUNT_CHANGED, AuthService
from auth.session_types import AuthConfig
from bff.caching.response_store import ResponseCache
from bff.home.sources import NOTICE_CATEGORY, HomeSources, PushSources
from catalog.live import LiveCatalogue
from config import Settings
from integrations.gateways import Gateways, build_gateways
from kernel.clock import Clock, SystemClock
from kernel.events import DomainEvent, EventBus, RedisStreamRelay
from kernel.breaker import CircuitBreaker
from kernel.postgres import Database, database_for
from kernel.redis import redis_breaker, redis_client as kernel_redis_client
from push.campaigns import CAMPAIGN_STATE_CHANGED
from push.service import PushService
from push.settings import PushSettings

log = logging.getLogger("msb.bootstrap")



@dataclass
class Services:
    settings: Settings
    database: Database
    redis: redis.Redis
    clock: Clock
    events: EventBus
    catalogue: LiveCatalogue
    gateways: Gateways
    identity: AuthService
    push: PushService
    response_cache: ResponseCache
    home_sources: HomeSources
    # One circuit breaker per store of this process, by store name (/readyz reports each).
    breakers: dict[str, CircuitBreaker]

    @property
    def relay(self) -> RedisStreamRelay:
        """The cross-process event stream (the bus's own relay)."""
        return self.events.relay  # type: ignore[return-value]

    def close(self) -> None:
        self.response_cache.close()
        self.redis.close()


def bootstrap(settings: Settings, *, redis_client: redis.Redis | None = None, clock: Clock | None = None,
              push_clock: Clock | None = None, push_settings: PushSettings | None = None) -> Services:
    """Build every service. ``push_clock`` lets tests steer push's time (quiet hours, schedules) without
    moving token lifetimes; ``redis_client`` lets the worker use blocking reads without a socket timeout."""
    clock = clock or SystemClock()
    database = database_for(settings.database_url, max_size=settings.database_pool_size)
    # Shared by every Redis client of the process, so the response cache learns of a hung Redis from
    # identity's timeouts and the other way round.
    redis_store_breaker = redis_breaker()
    redis_client = redis_client or kernel_redis_client(settings.redis_url, breaker=redis_store_breaker)
    events = EventBus(RedisStreamRelay(redis_client))
    catalogue = LiveCatalogue(settings.index_dir)
    gateways = build_gateways(settings, redis_client, clock=clock)
    identity = AuthService(
        redis_client, wechat=gateways.wechat, alipay=gateways.alipay, identity=gateways.identity, sms=gateways.sms,
        secret_dir=settings.secret_dir, clock=clock, config=AuthConfig(issuer=settings.token_issuer), events=events,
        database=database,
    )
    push = PushService.from_settings(
        settings, redis_client, push_settings=push_settings, catalogue=catalogue, clock=push_clock or clock,
        events=events, directory=identity.directory, database=database,
    )
    response_cache = ResponseCache(settings.redis_url, breaker=redis_store_breaker)
    services = Services(settings=settings, database=database, redis=redis_client, clock=clock, events=events,
                        catalogue=catalogue, gateways=gateways, identity=identity, push=push,
                        response_cache=response_cache, home_sources=PushSources(push),
                        breakers={"redis": redis_store_breaker, "postgres": database.breaker})
    _subscribe(services)
    return services


def _subscribe(services: Services) -> None:
    # Push keeps its own copy of each citizen's targeting facts (region, opt-outs, bindings…): identity says
    # which account changed, push asks identity for the rest.
    services.events.subscribe(ACCOUNT_CHANGED, lambda event: services.push.sync_citizen(event.data["account_id"]))

    def deliver_security_notice(event: DomainEvent) -> None:
        # Merges, new login methods, real-name changes, recovery: into the holder's inbox at once (identity
        # sends the SMS itself).
        data = dict(event.data)
        account_id = data.pop("account_id")
        data.pop("kind", None)
        services.push.deliver_account_notice(account_id, **data)

    services.events.subscribe(ACCOUNT_NOTICE, deliver_security_notice)

    def refresh_homes(event: DomainEvent) -> None:
        # Started, paused, finished or withdrawn notices change what every cached home shows: in the API
        # (operators' actions) and in the worker (scheduled starts, finishes) alike.
        if event.data.get("category") == NOTICE_CATEGORY:
            services.response_cache.invalidate_tag("notices")

    services.events.subscribe(CAMPAIGN_STATE_CHANGED, refresh_homes)


# The consumer group through which the push worker hears facts published by other processes.
WORKER_GROUP = "push-worker"


def worker_subscriptions(services: Services) -> EventBus:
    """What the push worker does with facts other processes (the API's workers) published, read from the
    stream at least once. Re-syncing is idempotent: it repairs a sync the API's own subscriber could not
    finish (push's Redis keys busy, a crash between the identity change and the sync)."""
    bus = EventBus()
    bus.subscribe(ACCOUNT_CHANGED, lambda event: services.push.sync_citizen(event.data["account_id"]))
    return bus


def record_maintenance(services: Services, *, partition_check_seconds: float = 3600.0):
    """The records' housekeeping the push worker runs between rounds: relay outbox events an API process
    committed but could not publish, keep the audit log's monthly partitions (create ahead, drop
    past retention) and drop inbox messages past their retention — hourly, cheap and idempotent."""
    last_hourly = 0.0

    def run() -> None:
        nonlocal last_hourly
        services.identity.outbox.relay_pending()
        if time.monotonic() - last_hourly >= partition_check_seconds:
            services.identity.audit.keep_partitions()
            services.identity.outbox.prune_published()
            services.push.inbox_store.purge_expired()
            last_hourly = time.monotonic()

    return run
