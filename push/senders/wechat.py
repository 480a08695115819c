"""WeChat ``subscribeMessage.send`` (notes §7); the HTTP client and the token cache are
``integrations.wechat_subscribe``.

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

from typing import Any

from integrations.errors import UpstreamUnavailable
from integrations.json_http import TransportError, Withdrawn
from integrations.wechat_subscribe import TOKEN_ERRCODES, SubscribeMessageClient
from push.campaigns import Campaign
from push.senders.base import ABANDONED, FAILED, RETRY, SENT, Outbound, Outcome

REFUSED = 43101
PERMANENT = {40003, 40037, 41028, 41030, 47001, 47003}


class WeChatSender:
    channel = "wechat"

    def __init__(self, client: SubscribeMessageClient | None) -> None:
        # None: a renderer only (campaign previews), never asked to send.
        self._client = client

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
        client = self._client
        try:
            token = client.token()
            # the wire mark is taken by the client once connected, right before the request is written
            errcode, reply = client.send(token, body, before_write=message.before_write())
            if errcode in TOKEN_ERRCODES:  # refused before anything else: the message is still ours to send
                token = client.refresh(token)
                errcode, reply = client.send(token, body)
        except Withdrawn:
            return Outcome(ABANDONED, "abandoned")
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
