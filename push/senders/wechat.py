"""WeChat ``subscribeMessage.send`` (notes §7) with the deployment's single access-token holder.

A stale token (40001/42001/40014) gets one passive refresh through ``WeChatAccessTokenHolder.
invalidate`` and one immediate retry: WeChat checks the token before anything else, so the refused
call sent nothing. Classification:

| errcode | outcome |
| --- | --- |
| 0 | sent (``msgid`` kept to attribute ``subscribe_msg_sent_event``) |
| 43101 | failed, zero the subscription ledger (the user refused or cancelled) |
| 40003, 40037, 47003, 41030, 41028, 47001 | failed (bad openid / template / data / page): retrying cannot help |
| -1, 45009, 45011, timeouts, 5xx, token still stale, anything new | retry with backoff, then dead letter |
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from auth.errors import UpstreamUnavailable
from auth.upstream.wechat_token import WeChatAccessTokenHolder
from push.campaigns import Campaign
from push.senders.base import ABANDONED, FAILED, RETRY, SENT, Outbound, Outcome
from push.senders.http import JsonHttp, TransportError

log = logging.getLogger("msb.push.senders.wechat")

ENDPOINT = "wechat.subscribe_send"
TOKEN_ERRCODES = {40001, 40014, 42001}
REFUSED = 43101
PERMANENT = {40003, 40037, 41028, 41030, 47001, 47003}
# The holder lives in Redis; workers may keep the token in memory briefly (notes §4: "~1 min"). The
# holder renews 5 min before expiry and old + new overlap, so 30 s of caching is always safe.
TOKEN_CACHE_SECONDS = 30.0


class WeChatSender:
    channel = "wechat"

    def __init__(self, base_url: str, token_holder: WeChatAccessTokenHolder, *, http: JsonHttp | None = None,
                 timeout: float = 3.0) -> None:
        self._url = base_url.rstrip("/") + "/cgi-bin/message/subscribe/send"
        self._tokens = token_holder
        self._http = http or JsonHttp()
        self._timeout = timeout
        self._cached: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def _token(self) -> str:
        cached = self._cached
        if cached is not None and time.monotonic() - cached[1] < TOKEN_CACHE_SECONDS:
            return cached[0]
        token = self._tokens.get()
        self._cached = (token, time.monotonic())
        return token

    def _refresh(self, bad: str) -> str:
        with self._lock:
            token = self._tokens.invalidate(bad)
            self._cached = (token, time.monotonic())
            return token

    def render(self, campaign: Campaign, address: Any) -> dict[str, Any]:
        content = campaign.content["wechat"]
        body = {"touser": address, "template_id": content["template_id"], "data": content["data"],
                "miniprogram_state": content.get("miniprogram_state", "formal"), "lang": "zh_CN"}
        page = content.get("page") or campaign.page
        if page:
            body["page"] = page
        return body

    def send(self, message: Outbound) -> Outcome:
        body = self.render(message.campaign, message.address)
        try:
            token = self._token()
            if not message.on_wire():
                return Outcome(ABANDONED, "abandoned")
            errcode, reply = self._post(token, body)
            if errcode in TOKEN_ERRCODES:
                token = self._refresh(token)
                errcode, reply = self._post(token, body)
        except TransportError as exc:
            return Outcome(RETRY, exc.code)
        except UpstreamUnavailable:
            return Outcome(RETRY, "token_unavailable")
        if errcode == 0:
            return Outcome(SENT, "ok", msgid=str(reply.get("msgid", "")) or None)
        if errcode == REFUSED:
            return Outcome(FAILED, str(errcode), zero_consent=True, counts_as_error=False)
        if errcode in PERMANENT:
            return Outcome(FAILED, str(errcode))
        return Outcome(RETRY, str(errcode))

    def _post(self, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        _, reply = self._http.post(self._url, timeout=self._timeout, params={"access_token": token},
                             json_body=body, endpoint=ENDPOINT)
        if not isinstance(reply, dict):
            raise TransportError("not_an_object")
        try:
            return int(reply.get("errcode") or 0), reply
        except (TypeError, ValueError):
            raise TransportError("bad_errcode") from None
