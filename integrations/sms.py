"""SMS gateway (Aliyun dysms semantics): ``POST /sms/send``. Implements ``auth.ports.SmsGateway``.

Business errors come with HTTP 200 and a string ``code``; only ``OK`` is a success.
"""
from __future__ import annotations

import requests

from integrations.errors import InputRefused, RateLimited, UpstreamUnavailable
from integrations.http import UpstreamHttp, config_problem, report

SYSTEM = "sms"
SEND = "sms.send"
APP_KEY_HEADER = "X-App-Key"
LOGIN_TEMPLATE = "SMS_LOGIN_CODE"
CLAIM_TEMPLATE = "SMS_CLAIM_CODE"
NOTICE_TEMPLATE = "SMS_SECURITY_NOTICE"

FLOW_CONTROL = "isv.BUSINESS_LIMIT_CONTROL"
# Flow control windows are rolling; the message names the one that tripped. Waiting out that whole
# window is the only promise that holds (an earlier retry may be refused again).
_FLOW_CONTROL_WAIT = (("分钟级", 60), ("小时级", 3600), ("天级", 86_400))
_CONFIG_CODES = {
    "InvalidAccessKeyId.NotFound", "isv.SMS_TEMPLATE_ILLEGAL", "isv.TEMPLATE_MISSING_PARAMETERS",
    "isv.INVALID_JSON_PARAM", "isv.INVALID_PARAMETERS", "isv.SMS_SIGNATURE_ILLEGAL",
}


class SmsClient:
    def __init__(
        self,
        base_url: str,
        app_key: str,
        template: str = LOGIN_TEMPLATE,
        session: requests.Session | None = None,
        timeout: float = 3.0,
    ) -> None:
        self._url = base_url.rstrip("/") + "/sms/send"
        self._headers = {APP_KEY_HEADER: app_key}
        self._template = template
        self._http = UpstreamHttp(SYSTEM, session=session, timeout=timeout)

    def send_login_code(self, phone: str, code: str) -> None:
        self._send(phone, self._template, {"code": code})

    def send_claim_code(self, phone: str, code: str) -> None:
        self._send(phone, CLAIM_TEMPLATE, {"code": code})

    def send_security_notice(self, phone: str, event: str) -> None:
        self._send(phone, NOTICE_TEMPLATE, {"event": event})

    def _send(self, phone: str, template: str, params: dict[str, str]) -> None:
        response = self._http.request(
            "POST", self._url, endpoint=SEND, headers=self._headers,
            json={"phone": phone, "template": template, "params": params},
        )
        body = self._http.json_object(response, SEND)
        code = str(body.get("code", ""))
        if response.status_code == 200 and code == "OK":
            return
        if code == FLOW_CONTROL:
            message = str(body.get("message", ""))
            wait = next((seconds for label, seconds in _FLOW_CONTROL_WAIT if label in message), 60)
            report(SYSTEM, SEND, code, reason=f"flow control {wait}s")
            raise RateLimited(retry_after=wait)
        if code == "isv.MOBILE_NUMBER_ILLEGAL":
            raise InputRefused("phone")
        if code in _CONFIG_CODES or response.status_code in (401, 403):
            raise config_problem(SYSTEM, SEND, f"{response.status_code}/{code}", "app key, template or params rejected")
        report(SYSTEM, SEND, f"{response.status_code}/{code}")
        raise UpstreamUnavailable(upstream=SYSTEM)
