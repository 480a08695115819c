"""``push_service``: the one ``push.service.PushService`` per app, built lazily on first use.

Like ``bff.auth.extension``: each app keeps its own slot in ``app.extensions`` (several apps in one
process never share a service), and nothing is built until a request needs it, so creating an app
(CLI, docs) reads no push settings. ``init_app`` also installs the hook that keeps push's copy of a
citizen's targeting facts (home region, opt-outs, bindings, birth month, enterprise link) in step
with identity: after a successful login, preference, binding, real-name or enterprise change the
citizen is re-synced (``PushService.sync_citizen``), so the planner honours ``PUT /v1/me/preferences``
opt-outs on the next plan.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import redis
from flask import Flask, Response, current_app, g, request

from config import Settings
from push.clock import Clock
from push.service import PushService
from push.settings import PushSettings

log = logging.getLogger("msb.push.http")

EXTENSION_KEY = "push_service"
_HOOK_FLAG = "push_sync_hook"
_PRINCIPAL = "msb_principal"  # where bff.auth.security keeps the request's principal
# Successful unsafe requests under these prefixes may change what push knows about the citizen.
_SYNC_PREFIXES = ("/v1/me", "/v1/auth/")
# Login answers carry the account in the body (there is no principal on the request yet).
_LOGIN_PATHS = frozenset({"/v1/auth/wechat/login", "/v1/auth/alipay/login", "/v1/auth/app/login"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
        if not app.extensions.get(_HOOK_FLAG):
            app.extensions[_HOOK_FLAG] = True
            app.after_request(_sync_after_identity_change)

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


def _accounts_to_sync(response: Response) -> set[str]:
    if response.status_code >= 300 or request.method in _SAFE_METHODS:
        return set()
    path = request.path
    accounts: set[str] = set()
    principal = g.get(_PRINCIPAL)
    if principal is not None and principal.type == "person" and path.startswith(_SYNC_PREFIXES):
        accounts.add(principal.account_id)
    if path in _LOGIN_PATHS or path == "/v1/me/realname":  # a login, or a merge that changed the id
        body = response.get_json(silent=True) if response.is_json else None
        if isinstance(body, dict):
            account = body.get("account")
            account_id = account.get("id") if isinstance(account, dict) else body.get("account_id")
            if isinstance(account_id, str) and (account is None or account.get("type", "person") == "person"):
                accounts.add(account_id)
    return accounts


def _sync_after_identity_change(response: Response) -> Response:
    accounts = _accounts_to_sync(response)
    if not accounts:
        return response
    try:
        service = push_service.get()
        for account_id in sorted(accounts):
            service.sync_citizen(account_id)
    except Exception as error:  # never fail the identity answer; the next change or push call re-syncs
        log.warning("push sync failed", extra={"fields": {"error_class": type(error).__name__}})
    return response


def ensure_synced(service: PushService, account_id: str) -> None:
    """First push call of a citizen that push has never seen (signed in before push existed)."""
    if service.profiles.for_account(account_id) is None:
        try:
            service.sync_citizen(account_id)
        except Exception as error:
            log.warning("push sync failed", extra={"fields": {"error_class": type(error).__name__}})
