"""``auth_service``: the one ``AuthService`` per app, built lazily on first use.

The service is built on first use rather than in ``init_app`` so that creating an app (CLI, docs,
tests that never sign anyone in) does not read the Alipay keys or the secrets directory. Each app
keeps its own instance in ``app.extensions`` so several apps in one process (tests) never share one.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from flask import Flask, current_app

from auth.clock import Clock
from auth.service import AuthConfig, AuthService
from config import Settings

EXTENSION_KEY = "auth_service"


@dataclass
class _Slot:
    settings: Settings
    redis_client: redis.Redis
    clock: Clock | None
    account_listeners: list[Callable[[str], None]] = field(default_factory=list)
    notice_listeners: list[Callable[[str, object], None]] = field(default_factory=list)
    service: AuthService | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self) -> AuthService:
        service = self.service
        if service is not None:
            return service
        with self.lock:
            if self.service is None:
                service = _build(self.settings, self.redis_client, self.clock)
                for listener in self.account_listeners:
                    service.add_account_listener(listener)
                for notice_listener in self.notice_listeners:
                    service.add_notice_listener(notice_listener)
                self.service = service
            return self.service


def _build(settings: Settings, redis_client: redis.Redis, clock: Clock | None) -> AuthService:
    from auth.upstream.factory import build_gateways

    gateways = build_gateways(settings, redis_client, clock=clock)
    return AuthService(
        redis_client,
        wechat=gateways.wechat,
        alipay=gateways.alipay,
        identity=gateways.identity,
        sms=gateways.sms,
        secret_dir=settings.secret_dir,
        clock=clock,
        config=AuthConfig(issuer=settings.token_issuer),
    )


class AuthServiceHolder:
    def init_app(self, app: Flask, settings: Settings, redis_client: redis.Redis, *, clock: Clock | None = None) -> None:
        """Call after ``api.init_app``: also publishes the bearer security scheme in the spec."""
        from bff.auth.security import register_security_scheme

        app.extensions[EXTENSION_KEY] = _Slot(settings, redis_client, clock)
        register_security_scheme(app)

    def add_account_listener(self, app: Flask, listener: Callable[[str], None]) -> None:
        """``listener(account_id)`` after every identity change (see ``AuthService.add_account_listener``)."""
        self._slot(app).account_listeners.append(listener)

    def add_notice_listener(self, app: Flask, listener: Callable[[str, object], None]) -> None:
        """``listener(account_id, notice)`` for security notices (see ``AuthService.add_notice_listener``)."""
        self._slot(app).notice_listeners.append(listener)

    def get(self, app: Flask | None = None) -> AuthService:
        return self._slot(app or current_app).get()

    @staticmethod
    def _slot(app: Flask) -> _Slot:
        try:
            return app.extensions[EXTENSION_KEY]
        except KeyError:
            raise RuntimeError("auth_service used before init_app") from None

    @property
    def service(self) -> AuthService:
        return self.get()


auth_service = AuthServiceHolder()
