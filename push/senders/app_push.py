"""APP push through the vendor aggregator's gateway (the HTTP client is ``integrations.app_push``).

Every message carries its vendor class: ``service`` only for service notices, ``marketing`` for
policy and marketing (notes §12: mis-classification can freeze the account). Outcomes: 200 → sent;
404 ``INVALID_TOKEN`` / 410 ``TOKEN_EXPIRED`` → failed and the device forgotten; 429
``QUOTA_EXCEEDED`` (vendor's 2 marketing/device/day) and 400 → failed; 401, 5xx, timeouts → retry.
"""
from __future__ import annotations

from typing import Any

from integrations.app_push import AppPushClient
from integrations.json_http import TransportError, Withdrawn
from push.campaigns import Campaign
from push.senders.base import ABANDONED, FAILED, RETRY, SENT, Outbound, Outcome

DROP_TOKEN = {"INVALID_TOKEN", "TOKEN_EXPIRED"}


class AppPushSender:
    channel = "app"

    def __init__(self, client: AppPushClient | None) -> None:
        # None: a renderer only (campaign previews), never asked to send.
        self._client = client

    def render(self, campaign: Campaign, address: Any) -> dict[str, Any]:
        content = campaign.content["app"]
        payload = dict(content.get("payload") or {})
        if campaign.page and "page" not in payload:
            payload["page"] = campaign.page
        token = address.get("token") if isinstance(address, dict) else address
        return {"device_token": token, "title": content["title"], "body": content["body"], "payload": payload,
                "category": "service" if campaign.category == "service" else "marketing"}

    def send(self, message: Outbound) -> Outcome:
        body = self.render(message.campaign, message.address)
        body["payload"]["message_id"] = message.message_id
        try:
            status, reply = self._client.send(body, before_write=message.before_write())  # wire mark: right before the write
        except Withdrawn:
            return Outcome(ABANDONED, "abandoned")
        except TransportError as exc:
            return Outcome(RETRY, exc.code)
        code = str(reply.get("code", status)) if isinstance(reply, dict) else str(status)
        if status == 200 and code == "OK":
            return Outcome(SENT, "ok", msgid=str(reply.get("message_id") or "") or None)
        if code in DROP_TOKEN:
            return Outcome(FAILED, code, drop_address=True, counts_as_error=False)
        if status == 429 and code == "QUOTA_EXCEEDED":
            return Outcome(FAILED, code, counts_as_error=False)
        if status in (400, 404, 410):
            return Outcome(FAILED, code)
        return Outcome(RETRY, code)
