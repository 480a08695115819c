"""Alipay mini-program template messages through ``integrations.alipay.AlipayClient.call`` (RSA2 both
ways, notes §11).

``data`` goes as a JSON *string*. Outcomes: node code 10000 → sent; ``isv.user-not-subscribe``
(the sandbox's name for "no subscription"; the real sub_code list is unpublished [U]) → failed and
the ledger zeroed; any other verified business error (40004) → failed; gateway/ISP errors, bad
signatures and outages (``UpstreamUnavailable``) → retry.
"""
from __future__ import annotations

import json
from typing import Any

from integrations.alipay import AlipayApiError, AlipayClient
from integrations.errors import UpstreamUnavailable
from push.campaigns import Campaign
from push.senders.base import ABANDONED, FAILED, RETRY, SENT, Outbound, Outcome

METHOD = "alipay.open.app.mini.templatemessage.send"
NOT_SUBSCRIBED = {"isv.user-not-subscribe"}


class AlipaySender:
    channel = "alipay"

    def __init__(self, client: AlipayClient | None) -> None:
        # None: a renderer only (campaign previews), never asked to send.
        self._client = client

    def render(self, campaign: Campaign, address: Any) -> dict[str, Any]:
        content = campaign.content["alipay"]
        biz: dict[str, Any] = {"to_open_id": address, "user_template_id": content["template_id"],
                               "data": json.dumps(content["data"], ensure_ascii=False, separators=(",", ":"))}
        page = content.get("page") or campaign.page
        if page:
            biz["page"] = page
        return biz

    def send(self, message: Outbound) -> Outcome:
        biz = self.render(message.campaign, message.address)
        if not message.on_wire():
            return Outcome(ABANDONED, "abandoned")
        try:
            self._client.call(METHOD, biz)
        except AlipayApiError as exc:
            error = exc
        except UpstreamUnavailable:
            return Outcome(RETRY, "unavailable")
        else:
            return Outcome(SENT, "ok")
        code = f"{error.code}/{error.sub_code}"
        if error.sub_code in NOT_SUBSCRIBED:
            return Outcome(FAILED, code, zero_consent=True, counts_as_error=False)
        return Outcome(FAILED, code)
