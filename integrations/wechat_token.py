"""The WeChat server access_token: one holder for the whole deployment (中控, notes §4).

WeChat wants exactly one place that refreshes the token; several refreshing on their own overwrite
each other and callers get 40001. Here the token lives in Redis and every process and thread goes
through the same protocol:

- ``get()`` returns the stored token. Once fewer than ``EARLY_REFRESH_SECONDS`` of validity remain,
  one caller refreshes it with ``stable_token`` in normal mode; the others keep using the old token,
  which is still valid. Only when there is no valid token at all do callers wait for the refresh.
- ``invalidate(bad_token)`` is the passive refresh after a 40001/42001. It forces a new token only
  if Redis still holds that same bad token, so ten callers failing on one token cause one refresh.
- A refresh happens under a Redis lock (``SET NX PX`` with a random owner, released by Lua
  compare-and-delete); the new token is written only while the lock is still ours, so a refresher
  that outlived its lock cannot overwrite a newer token with an older one.

Everything not-WeChat-specific is kept general: the push code reuses this holder for
``subscribeMessage.send``.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

import redis

from integrations import keys
from integrations.errors import UpstreamUnavailable
from integrations.http import UpstreamHttp, config_problem, report
from kernel.clock import Clock, SystemClock

log = logging.getLogger("msb.integrations.wechat_token")

SYSTEM = "wechat"
STABLE_TOKEN = "wechat.stable_token"
# stable_token renews a token only in its last 300 s (before that it returns the same one), so
# refreshing earlier than this would just fetch the old token again.
EARLY_REFRESH_SECONDS = 300
# errcodes that mean our appid/secret/request is wrong rather than WeChat being unwell.
_CONFIG_ERRCODES = {40002, 40013, 40125, 40164, 41002, 41004, 47001}

_RELEASE_LOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# KEYS: token hash, lock. ARGV: owner, token, refresh_at, expires_at, ttl_ms.
_STORE_IF_LOCK_HELD = """
if redis.call('get', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('del', KEYS[1])
redis.call('hset', KEYS[1], 'token', ARGV[2], 'refresh_at', ARGV[3], 'expires_at', ARGV[4])
redis.call('pexpire', KEYS[1], ARGV[5])
return 1
"""


@dataclass(frozen=True)
class IssuedToken:
    value: str
    expires_in: int

    def __repr__(self) -> str:
        return f"IssuedToken(value=<hidden>, expires_in={self.expires_in})"


# force_refresh -> a token as WeChat issued it.
TokenSource = Callable[[bool], IssuedToken]


class StableTokenSource:
    """``POST /cgi-bin/stable_token`` (JSON body only; the secret never goes in the URL)."""

    def __init__(self, base_url: str, appid: str, secret: str, http: UpstreamHttp) -> None:
        self._url = base_url.rstrip("/") + "/cgi-bin/stable_token"
        self._appid = appid
        self._secret = secret
        self._http = http

    def __call__(self, force_refresh: bool) -> IssuedToken:
        body = {"grant_type": "client_credential", "appid": self._appid, "secret": self._secret, "force_refresh": force_refresh}
        response = self._http.request("POST", self._url, endpoint=STABLE_TOKEN, json=body)
        reply = self._http.json_object(response, STABLE_TOKEN)
        errcode = reply.get("errcode") or 0
        if errcode in _CONFIG_ERRCODES:
            raise config_problem(SYSTEM, STABLE_TOKEN, errcode, "appid/secret or request rejected")
        if errcode:
            # -1 busy, 45009 daily force-refresh quota spent, anything new.
            report(SYSTEM, STABLE_TOKEN, errcode, level=logging.ERROR if errcode == 45009 else logging.WARNING)
            raise UpstreamUnavailable(upstream=SYSTEM)
        token, expires_in = reply.get("access_token"), reply.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
            report(SYSTEM, STABLE_TOKEN, "malformed", reason="no access_token/expires_in")
            raise UpstreamUnavailable(upstream=SYSTEM)
        return IssuedToken(token, expires_in)


@dataclass(frozen=True)
class _Stored:
    token: str
    refresh_at: float
    expires_at: float


class WeChatAccessTokenHolder:
    def __init__(
        self,
        redis_client: redis.Redis,
        appid: str,
        fetch: TokenSource,
        *,
        clock: Clock | None = None,
        fetch_timeout: float = 3.0,
        poll_seconds: float = 0.05,
    ) -> None:
        self._redis = redis_client
        self._fetch = fetch
        self._clock = clock or SystemClock()
        self._poll_seconds = poll_seconds
        self._token_key = keys.wechat_access_token(appid)
        self._lock_key = keys.wechat_access_token_lock(appid)
        self._lock_ttl_ms = max(keys.WECHAT_TOKEN_LOCK_MIN_TTL_MS, int((2 * fetch_timeout + 1) * 1000))
        # Waiters give up a little after the longest a refresh can take.
        self._wait_seconds = fetch_timeout + 2.0
        self._release_script = redis_client.register_script(_RELEASE_LOCK)
        self._store_script = redis_client.register_script(_STORE_IF_LOCK_HELD)

    # --- public ------------------------------------------------------------------------------------

    def get(self) -> str:
        stored = self._read()
        if self._fresh(stored):
            return stored.token  # type: ignore[union-attr]
        still_valid = stored.token if stored is not None and self._clock.now() < stored.expires_at else None
        return self._refresh(self._fresh, force_if_holding=None, while_waiting=still_valid)

    def invalidate(self, bad_token: str) -> str:
        """WeChat said ``bad_token`` is invalid or expired: return a token to retry with."""

        def replaced(stored: _Stored | None) -> bool:
            return stored is not None and stored.token != bad_token and self._clock.now() < stored.expires_at

        return self._refresh(replaced, force_if_holding=bad_token, while_waiting=None)

    # --- single flight -----------------------------------------------------------------------------

    def _refresh(self, good: Callable[[_Stored | None], bool], *, force_if_holding: str | None, while_waiting: str | None) -> str:
        """Make ``good(stored)`` true with at most one refresh in flight across the deployment.

        The caller that takes the lock refreshes; the others use ``while_waiting`` if they have a
        still-valid token, otherwise they wait for the refresher's result and share it, failure
        included (so a WeChat outage costs one call per flight, not one per waiting thread).
        """
        owner = self._try_lock()
        if owner is None:
            if while_waiting is not None:
                return while_waiting
            return self._wait_for_refresh(good)
        try:
            stored = self._read()  # someone may have finished a refresh between our read and our lock
            if good(stored):
                return stored.token  # type: ignore[union-attr]
            force = force_if_holding is not None and stored is not None and stored.token == force_if_holding
            return self._fetch_and_store(owner, force=force)
        finally:
            self._release_script(keys=[self._lock_key], args=[owner])

    def _wait_for_refresh(self, good: Callable[[_Stored | None], bool]) -> str:
        deadline = time.monotonic() + self._wait_seconds
        while time.monotonic() < deadline:
            time.sleep(self._poll_seconds)
            # Lock first, token second: the refresher stores before it releases, so a token read
            # after seeing the lock gone includes whatever it stored.
            refresher_done = not self._redis.exists(self._lock_key)
            stored = self._read()
            if good(stored):
                return stored.token  # type: ignore[union-attr]
            if refresher_done:
                # It let go of the lock without storing a usable token: the refresh failed.
                break
        raise UpstreamUnavailable(upstream=SYSTEM)

    def _fetch_and_store(self, owner: str, *, force: bool) -> str:
        sent_at = self._clock.now()  # before the call: errs on the side of an earlier expiry
        issued = self._fetch(force)
        written = self._store_script(
            keys=[self._token_key, self._lock_key],
            args=[owner, issued.value, sent_at + max(issued.expires_in - EARLY_REFRESH_SECONDS, 0), sent_at + issued.expires_in, issued.expires_in * 1000],
        )
        log.info("wechat access token refreshed", extra={"fields": {"forced": force, "stored": bool(written), "expires_in": issued.expires_in}})
        return issued.value

    def _try_lock(self) -> str | None:
        owner = secrets.token_hex(16)
        return owner if self._redis.set(self._lock_key, owner, nx=True, px=self._lock_ttl_ms) else None

    # --- storage -----------------------------------------------------------------------------------

    def _fresh(self, stored: _Stored | None) -> bool:
        return stored is not None and self._clock.now() < stored.refresh_at

    def _read(self) -> _Stored | None:
        raw: dict[Any, Any] = self._redis.hgetall(self._token_key)
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        try:
            return _Stored(fields["token"], float(fields["refresh_at"]), float(fields["expires_at"]))
        except (KeyError, ValueError):
            return None  # unreadable: treated as absent, the next refresh overwrites it


def _text(value: str | bytes) -> str:
    # Works with clients created with or without decode_responses.
    return value.decode() if isinstance(value, bytes) else value
