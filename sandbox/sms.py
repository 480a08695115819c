"""SMS gateway stand-in, modelled on Aliyun SMS (dysms) results and default
flow control: business errors come with HTTP 200 and a string `code`;
verification templates are limited per phone to 1/min, 5/hour, 10/day
(rolling), notification templates to 50/day per phone and template."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from sandbox.common import current_sandbox, enter_endpoint, json_body, json_response
from sandbox.state import EventWindows, Fault, Sandbox, request_id

blueprint = Blueprint("sandbox_sms", __name__, url_prefix="/sms")

APP_KEY_HEADER = "X-App-Key"
SEND = "sms.send"
ENDPOINTS = (SEND,)

MOBILE_PATTERN = re.compile(r"^1[3-9]\d{9}$")
TEMPLATE_PARAM = re.compile(r"\$\{(\w+)\}")
MINUTE, HOUR, DAY = 60, 3600, 86_400


@dataclass
class SentMessage:
    biz_id: str
    phone: str
    template: str
    params: dict[str, str]
    text: str
    sent_at: float

    def describe(self) -> dict[str, Any]:
        return {
            "biz_id": self.biz_id,
            "phone": self.phone,
            "template": self.template,
            "params": dict(self.params),
            "text": self.text,
            "sent_at": self.sent_at,
        }


class SmsStore:
    def __init__(self, sandbox: Sandbox) -> None:
        self.clock = sandbox.clock
        self.sends = EventWindows(self.clock, horizon_seconds=DAY)
        self.reset()

    def reset(self) -> None:
        self.outbox: list[SentMessage] = []
        self.sends.clear()

    def messages(self, phone: str | None) -> list[SentMessage]:
        return [m for m in self.outbox if phone is None or m.phone == phone]


def store() -> SmsStore:
    return current_app.extensions["sandbox.sms"]


def sms_result(code: str, message: str, status: int = 200, **extra: Any) -> Response:
    return json_response({"code": code, "message": message, "request_id": request_id(), **extra}, status)


def render_fault(fault: Fault) -> Response:
    return sms_result(
        str(fault.error.get("code", "isp.SYSTEM_ERROR")),
        str(fault.error.get("message", "系统错误")),
        fault.http_status or 200,
    )


def _flow_control(kind: str, phone: str, template: str) -> str | None:
    """The Aliyun message for the first window exceeded, or None."""
    limits = current_app.config["SANDBOX"]["sms_limits"]
    sends = store().sends
    if kind == "verification":
        checks = (
            (("verification", phone), MINUTE, limits["verification_per_minute"], "分钟级"),
            (("verification", phone), HOUR, limits["verification_per_hour"], "小时级"),
            (("verification", phone), DAY, limits["verification_per_day"], "天级"),
        )
    else:
        checks = ((("notification", phone, template), DAY, limits["notification_per_day"], "天级"),)
    for key, window, limit, label in checks:
        if sends.count(key, window) >= limit:
            return f"触发{label}流控Permits:{limit}"
    return None


@blueprint.post("/send")
def send() -> Response:
    injected = enter_endpoint(SEND, render_fault)
    if injected:
        return injected
    presented = request.headers.get(APP_KEY_HEADER, "")
    if not any(presented and secrets.compare_digest(presented, key) for key in current_app.config["SANDBOX"]["sms_app_keys"]):
        return sms_result("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 401)
    body = json_body()
    if body is None:
        return sms_result("isv.INVALID_PARAMETERS", "参数异常")
    phone, template_code, params = body.get("phone"), body.get("template"), body.get("params", {})
    if not isinstance(phone, str) or not MOBILE_PATTERN.match(phone):
        return sms_result("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
    template = current_app.config["SANDBOX"]["sms_templates"].get(template_code)
    if template is None:
        return sms_result("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
    # Aliyun accepts only string values in TemplateParam.
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        return sms_result("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
    missing = [name for name in TEMPLATE_PARAM.findall(template["text"]) if name not in params]
    if missing:
        return sms_result("isv.TEMPLATE_MISSING_PARAMETERS", f"模板变量中存在未赋值变量：{','.join(missing)}")
    sms = store()
    with current_sandbox().lock:
        limited = _flow_control(template["kind"], phone, template_code)
        if limited:
            return sms_result("isv.BUSINESS_LIMIT_CONTROL", limited)
        if template["kind"] == "verification":
            sms.sends.add(("verification", phone))
        else:
            sms.sends.add(("notification", phone, template_code))
        message = SentMessage(
            biz_id=f"{secrets.randbelow(10**15):015d}^0",
            phone=phone,
            template=template_code,
            params=dict(params),
            text=TEMPLATE_PARAM.sub(lambda m: params[m.group(1)], template["text"]),
            sent_at=sms.clock.now(),
        )
        sms.outbox.append(message)
    return sms_result("OK", "OK", biz_id=message.biz_id)


def init_app(app: Flask, sandbox: Sandbox) -> None:
    sms = SmsStore(sandbox)
    sandbox.register_store(sms)
    sandbox.register_endpoints(*ENDPOINTS)
    app.extensions["sandbox.sms"] = sms
    app.register_blueprint(blueprint)
