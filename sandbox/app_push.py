"""APP push gateway stand-in (a vendor aggregator such as 个推/极光/TPNS; notes §12).

``POST /push/v1/messages`` with header ``X-App-Key`` and JSON
``{"device_token", "title" (≤ 50), "body" (≤ 256), "payload": {…}, "category": "service"|"marketing"}``.

| HTTP | code | when | retry? |
| --- | --- | --- | --- |
| 200 | `OK` | delivered to the device; `{"message_id","request_id"}` | – |
| 401 | `INVALID_APP_KEY` | wrong key | config |
| 400 | `INVALID_REQUEST` | missing/oversized field, unknown category | no |
| 404 | `INVALID_TOKEN` | the vendor does not know the device token | no (drop the token) |
| 410 | `TOKEN_EXPIRED` | app uninstalled / token rotated | no (drop the token) |
| 429 | `QUOTA_EXCEEDED` | marketing class over 2/device/Beijing day (vendor rule) | no, not today |
| 503 | `SYSTEM_BUSY` | injected fault | yes |

Drive: register devices, expire them, read a device's received notifications.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from sandbox.common import current_sandbox, enter_endpoint, json_body, json_response
from sandbox.state import Fault, Sandbox, request_id

blueprint = Blueprint("sandbox_app_push", __name__)

SEND = "app_push.send"
DEFAULT_APP_KEY = "push_sandbox_app_key"
PLATFORMS = ("huawei", "honor", "xiaomi", "oppo", "vivo", "apns")
CATEGORIES = ("service", "marketing")
BEIJING_OFFSET = 8 * 3600


def _reply(status: int, code: str, message: str, **extra: Any) -> Response:
    return json_response({"code": code, "message": message, "request_id": request_id(), **extra}, status)


def render_fault(fault: Fault) -> Response:
    status = fault.http_status or 503
    return _reply(status, str(fault.error.get("code", "SYSTEM_BUSY")), str(fault.error.get("message", "system busy")))


@dataclass
class Device:
    token: str
    platform: str
    expired: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)
    marketing_days: dict[int, int] = field(default_factory=dict)


@dataclass
class AppPushStore:
    sandbox: Sandbox
    config: dict[str, Any]
    devices: dict[str, Device] = field(default_factory=dict)

    def reset(self) -> None:
        self.devices.clear()

    @property
    def app_keys(self) -> list[str]:
        return self.config.get("app_push_app_keys") or [DEFAULT_APP_KEY]


def store() -> AppPushStore:
    return current_app.extensions["sandbox.app_push"]


@blueprint.post("/push/v1/messages")
def send() -> Response:
    injected = enter_endpoint(SEND, render_fault)
    if injected:
        return injected
    push = store()
    key = request.headers.get("X-App-Key", "")
    if not any(secrets.compare_digest(key, known) for known in push.app_keys):
        return _reply(401, "INVALID_APP_KEY", "invalid app key")
    body = json_body()
    if body is None:
        return _reply(400, "INVALID_REQUEST", "body must be a JSON object")
    token, title, text = body.get("device_token"), body.get("title"), body.get("body")
    category, payload = body.get("category", "marketing"), body.get("payload") or {}
    if not isinstance(token, str) or not token:
        return _reply(400, "INVALID_REQUEST", "device_token is required")
    if not isinstance(title, str) or not 1 <= len(title) <= 50 or not isinstance(text, str) or not 1 <= len(text) <= 256:
        return _reply(400, "INVALID_REQUEST", "title (1-50) and body (1-256) are required")
    if category not in CATEGORIES or not isinstance(payload, dict):
        return _reply(400, "INVALID_REQUEST", "category must be service|marketing, payload an object")
    with current_sandbox().lock:
        device = push.devices.get(token)
        if device is None:
            return _reply(404, "INVALID_TOKEN", "unknown device token")
        if device.expired:
            return _reply(410, "TOKEN_EXPIRED", "device token expired")
        now = push.sandbox.clock.now()
        if category == "marketing":
            day = int((now + BEIJING_OFFSET) // 86_400)
            if device.marketing_days.get(day, 0) >= push.config.get("app_push_marketing_daily", 2):
                return _reply(429, "QUOTA_EXCEEDED", "marketing messages per device per day exceeded")
            device.marketing_days[day] = device.marketing_days.get(day, 0) + 1
        message_id = "pm_" + secrets.token_hex(10)
        device.received.append({"message_id": message_id, "title": title, "body": text, "payload": payload,
                                "category": category, "received_at": now})
        return _reply(200, "OK", "OK", message_id=message_id)


# ---- drive --------------------------------------------------------------------------------------


@blueprint.post("/_drive/app-push/devices")
def drive_register() -> Response:
    """A phone installed the APP and got a vendor token: {"platform": "huawei"} -> {"device_token"}."""
    body = json_body() or {}
    platform = body.get("platform", "huawei")
    if platform not in PLATFORMS:
        return json_response({"error": f"platform must be one of {', '.join(PLATFORMS)}"}, 400)
    with current_sandbox().lock:
        token = f"{platform}:" + secrets.token_urlsafe(24)
        store().devices[token] = Device(token, platform)
        return json_response({"device_token": token, "platform": platform}, 201)


@blueprint.post("/_drive/app-push/devices/<path:token>/expire")
def drive_expire(token: str) -> Response:
    with current_sandbox().lock:
        device = store().devices.get(token)
        if device is None:
            return json_response({"error": "unknown device token"}, 404)
        device.expired = True
        return json_response({"device_token": token, "expired": True})


@blueprint.get("/_drive/app-push/devices/<path:token>/messages")
def drive_messages(token: str) -> Response:
    with current_sandbox().lock:
        device = store().devices.get(token)
        if device is None:
            return json_response({"error": "unknown device token"}, 404)
        return json_response({"device_token": token, "messages": list(device.received)})


def init_app(app: Flask, sandbox: Sandbox) -> None:
    push = AppPushStore(sandbox, app.config["SANDBOX"])
    sandbox.register_store(push)
    sandbox.register_endpoints(SEND)
    app.extensions["sandbox.app_push"] = push
    app.register_blueprint(blueprint)
