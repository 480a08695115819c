"""WeChat ``subscribeMessage.send`` on the wire (notes §7), with the deployment's single access-token holder.

The client owns the token: it keeps it in memory for ``TOKEN_CACHE_SECONDS`` and asks the holder for a
passive refresh when WeChat calls it stale. The retry after a stale token, and what each errcode means
for a message, is the sender's business (``push.senders.wechat``), because only the sender knows
whether the message may still go out (its claim may have been taken over meanwhile).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from integrations.json_http import JsonHttp, TransportError
from integrations.wechat_token import WeChatAccessTokenHolder

SYSTEM = "wechat"
SEND = "wechat.subscribe_send"
# The access token is stale (40001 superseded/unknown, 42001 expired, 40014 malformed).
TOKEN_ERRCODES = {40001, 40014, 42001}
# The holder lives in Redis; workers may keep the token in memory briefly (notes §4: "~1 min"). The
# holder renews 5 min before expiry and old + new overlap, so 30 s of caching is always safe.
TOKEN_CACHE_SECONDS = 30.0


class SubscribeMessageClient:
    def __init__(self, base_url: str, token_holder: WeChatAccessTokenHolder, *, http: JsonHttp | None = None,
                 timeout: float = 3.0) -> None:
        self._url = base_url.rstrip("/") + "/cgi-bin/message/subscribe/send"
        self._tokens = token_holder
        self._http = http or JsonHttp()
        self._timeout = timeout
        self._cached: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def token(self) -> str:
        """The access token to send with; raises ``UpstreamUnavailable`` when none can be had."""
        cached = self._cached
        if cached is not None and time.monotonic() - cached[1] < TOKEN_CACHE_SECONDS:
            return cached[0]
        token = self._tokens.get()
        self._cached = (token, time.monotonic())
        return token

    def refresh(self, bad: str) -> str:
        """WeChat refused ``bad`` as stale: a token to retry with (one refresh across the deployment)."""
        with self._lock:
            token = self._tokens.invalidate(bad)
            self._cached = (token, time.monotonic())
            return token

    def send(self, token: str, message: dict[str, Any], *,
             before_write: Callable[[], bool] | None = None) -> tuple[int, dict[str, Any]]:
        """(errcode, reply); raises ``TransportError`` (retryable) when there is no usable answer and
        ``Withdrawn`` when ``before_write`` (called once connected, right before the request is
        written) refused."""
        _, reply = self._http.post(self._url, timeout=self._timeout, params={"access_token": token},
                                   json_body=message, endpoint=SEND, before_write=before_write)
        if not isinstance(reply, dict):
            raise TransportError("not_an_object")
        try:
            return int(reply.get("errcode") or 0), reply
        except (TypeError, ValueError):
            raise TransportError("bad_errcode") from None
