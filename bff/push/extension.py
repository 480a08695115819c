"""``push_service``: the one ``push.service.PushService`` per app, built lazily on first use.

Like ``bff.auth.extension``: each app keeps its own slot in ``app.extensions`` (several apps in one
process never share a service), and nothing is built until a request needs it, so creating an app
(CLI, docs) reads no push settings. ``sync_citizen`` is registered by the app factory as an identity
account listener: push's copy of a citizen's targeting facts (home region, opt-outs, bindings, birth
month, enterprise link) is re-synced after every login, preference, binding, real-name or enterprise
change, so the planner honours ``PUT /v1/me/preferences`` opt-outs on the next plan.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import redis
from flask import Flask, current_app

from config import Settings
from push.clock import Clock
from push.service import PushService
from push.settings import PushSettings

log = logging.getLogger("msb.push.http")

EXTENSION_KEY = "push_service"


class _LiveCatalogue:
    """The recommender's ``catalogue``: always the holder's current one (it reloads rebuilds)."""

    def hot(self, *, region: str | None = None, limit: int = 10) -> Any:
        from bff.extensions import catalogue_holder

        return catalogue_holder.get().hot(region=region, limit=limit)


@dataclass
class _Slot:
    settings: Settings
    redis_client: redis.Redis
    clock: Clock | None
    push_settings: PushSettings | None
    service: PushService | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self) -> PushService:
        service = self.service
        if service is not None:
            return service
        with self.lock:
            if self.service is None:
                self.service = PushService.from_settings(
                    self.settings, self.redis_client, push_settings=self.push_settings,
                    catalogue=_LiveCatalogue(), clock=self.clock)
            return self.service


class PushServiceHolder:
    def init_app(self, app: Flask, settings: Settings, redis_client: redis.Redis, *, clock: Clock | None = None,
                 push_settings: PushSettings | None = None) -> None:
        """(Re)configure the app's push service; tests pass a controllable ``clock`` and settings."""
        app.extensions[EXTENSION_KEY] = _Slot(settings, redis_client, clock, push_settings)

    def get(self, app: Flask | None = None) -> PushService:
        app = app or current_app
        try:
            slot: _Slot = app.extensions[EXTENSION_KEY]
        except KeyError:
            raise RuntimeError("push_service used before init_app") from None
        return slot.get()

    @property
    def service(self) -> PushService:
        return self.get()

    def proxy(self, app: Flask) -> "_ServiceProxy":
        """A stand-in for the app's service that builds it on first use and needs no app context
        (for ``bff.home.sources.PushSources``, which may run in background cache refreshes)."""
        return _ServiceProxy(self, app)


class _ServiceProxy:
    def __init__(self, holder: PushServiceHolder, app: Flask) -> None:
        self._holder = holder
        self._app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self._holder.get(self._app), name)


push_service = PushServiceHolder()


def ensure_synced(service: PushService, account_id: str) -> None:
    """First push call of a citizen that push has never seen (signed in before push existed)."""
    if service.profiles.for_account(account_id) is None:
        try:
            service.sync_citizen(account_id)
        except Exception as error:
            log.warning("push sync failed", extra={"fields": {"error_class": type(error).__name__}})
