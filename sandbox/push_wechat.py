"""WeChat ``subscribeMessage.send`` stand-in, the per-user subscription quotas behind it, the
"phone screen" of received messages, and the events WeChat pushes to the message-push URL
(shared/notes/wechat-alipay-protocols.md §7).

- ``POST /cgi-bin/message/subscribe/send?access_token=…``: the token is checked exactly like
  ``getuserphonenumber`` (41001 / 40001 / 42001); then 47001 body not JSON, 40003 bad or foreign
  openid, 40037 unknown template, 47003 a ``data`` value breaking its key-prefix rule (errmsg names
  ``data.<key>.value``), 43101 the user has no one-time quota left for the template and no
  long-term subscription (or cancelled it), 45009 the app's daily quota. Success consumes one
  one-time quota, lands on the user's phone screen and returns ``msgid``.
- Events are queued as WeChat would POST them in JSON mode, with ``signature/timestamp/nonce``
  computed from the configured Token: ``subscribe_msg_popup_event`` (drive accept/reject),
  ``subscribe_msg_change_event`` (drive cancel), ``subscribe_msg_sent_event`` (after each
  successful send; ErrorCode 0, or the code set for a user with an async failure). Real WeChat
  reports only failures in sent events; the sandbox also reports successes unless
  ``wechat_sent_event_on_success`` is off. Fetch them with ``GET /_drive/wechat/push-events``.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from sandbox import wechat, wechat_crypto
from sandbox.common import current_sandbox, enter_endpoint, json_body, json_response
from sandbox.state import Sandbox

blueprint = Blueprint("sandbox_push_wechat", __name__)

SUBSCRIBE_SEND = "wechat.subscribe_send"
DEFAULT_PUSH_TOKEN = "msb_sandbox_push_token"

# Mirrors push/templates.py DEFAULT_TEMPLATES: the ids an operator created in the WeChat console.
DEFAULT_TEMPLATES: dict[str, dict[str, Any]] = {
    "wx_tpl_policy_notice": {"title": "政策通知", "kind": "long_term", "keys": ["thing1", "thing2", "time3"]},
    "wx_tpl_service_reminder": {"title": "办事提醒", "kind": "one_time", "keys": ["thing1", "phrase2", "time3", "thing4"]},
    "wx_tpl_progress": {"title": "办件进度通知", "kind": "one_time", "keys": ["character_string1", "thing2", "phrase3", "date4"]},
}

ERRMSG = {
    40003: "invalid openid",
    40037: "invalid template_id",
    43101: "user refuse to accept the msg",
    45009: "reach max api daily quota limit",
    47001: "data format error",
}

# Independent of push/templates.py on purpose: this is "WeChat", it must catch the BFF's mistakes.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_DATE = r"(\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2})"
_TIME = r"([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?"
_RULES: dict[str, re.Pattern[str]] = {
    "thing": re.compile(r"(?s).{1,20}"),
    "number": re.compile(r"-?\d{1,32}(\.\d{1,31})?"),
    "letter": re.compile(r"[A-Za-z]{1,32}"),
    "symbol": re.compile(r"[^\w\s]{1,5}"),
    "character_string": re.compile(r"[\x21-\x7e]{1,32}"),
    "time": re.compile(rf"({_DATE}\s*)?{_TIME}(\s*~\s*({_DATE}\s*)?{_TIME})?"),
    "date": re.compile(rf"{_DATE}(\s*{_TIME})?(\s*~\s*{_DATE}(\s*{_TIME})?)?"),
    "amount": re.compile(r"[¥￥$€£]?\d{1,10}(\.\d{1,2})?元?"),
    "phone_number": re.compile(r"[\d+\-() ]{1,17}"),
    "car_number": re.compile(rf"[{_HAN}]?[A-Za-z0-9]{{1,7}}[{_HAN}]?"),
    "name": re.compile(rf"[{_HAN}·]{{1,10}}|[A-Za-z ]{{1,20}}"),
    "phrase": re.compile(rf"[{_HAN}]{{1,5}}"),
}
_KEY = re.compile(r"([a-z_]+?)(\d+)")


def value_ok(key: str, value: object) -> bool:
    match = _KEY.fullmatch(key)
    if match is None or not isinstance(value, str) or not value.strip():
        return False
    rule = _RULES.get(match.group(1))
    if rule is None or not rule.fullmatch(value):
        return False
    return not (match.group(1) == "car_number" and len(value) > 8)


def event_signature(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


@dataclass
class Subscription:
    one_time: int = 0
    long_term: bool = False
    cancelled: bool = False  # turned off in WeChat settings: nothing arrives until a new accept

    def describe(self) -> dict[str, Any]:
        return {"one_time": self.one_time, "long_term": self.long_term, "cancelled": self.cancelled}


@dataclass
class PushWeChatStore:
    sandbox: Sandbox
    config: dict[str, Any]
    subscriptions: dict[tuple[str, str], Subscription] = field(default_factory=dict)
    screens: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # openid -> received
    events: list[dict[str, Any]] = field(default_factory=list)
    async_failures: dict[str, int] = field(default_factory=dict)  # openid -> ErrorCode in sent events
    sends_today: dict[str, int] = field(default_factory=dict)  # "appid:day" -> count

    def reset(self) -> None:
        self.subscriptions.clear()
        self.screens.clear()
        self.events.clear()
        self.async_failures.clear()
        self.sends_today.clear()

    @property
    def templates(self) -> dict[str, dict[str, Any]]:
        return self.config.get("wechat_subscribe_templates") or DEFAULT_TEMPLATES

    def sub(self, openid: str, template_id: str) -> Subscription:
        return self.subscriptions.setdefault((openid, template_id), Subscription())

    def emit(self, appid: str, openid: str, event: str, items: list[dict[str, Any]]) -> None:
        """Queue an event as WeChat would POST it (JSON mode; plain, or safe mode with an AES key): body +
        signed query."""
        now = int(self.sandbox.clock.now())
        body = {
            "ToUserName": "gh_" + hashlib.sha1(appid.encode()).hexdigest()[:12],
            "FromUserName": openid,
            "CreateTime": now,
            "MsgType": "event",
            "Event": event,
            # WeChat sends an object for one item and an array for several.
            "List": items[0] if len(items) == 1 else items,
        }
        token = (self.config.get("wechat_push_token") or os.environ.get("MSB_SANDBOX_WECHAT_PUSH_TOKEN")
                 or DEFAULT_PUSH_TOKEN)
        timestamp, nonce = str(now), str(secrets.randbelow(10**10))
        query = {"signature": event_signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        aes_key = self.config.get("wechat_push_aes_key") or os.environ.get("MSB_SANDBOX_WECHAT_PUSH_AES_KEY")
        if aes_key:  # safe mode: only ToUserName stays in clear
            encrypted = wechat_crypto.encrypt(aes_key, appid, text)
            query.update(encrypt_type="aes", msg_signature=wechat_crypto.msg_signature(token, timestamp, nonce, encrypted))
            text = json.dumps({"ToUserName": body["ToUserName"], "Encrypt": encrypted}, separators=(",", ":"))
        self.events.append({"seq": len(self.events) + 1, "event": event, "query": query, "body": text})


def store() -> PushWeChatStore:
    return current_app.extensions["sandbox.push_wechat"]


def _error(errcode: int, errmsg: str | None = None) -> Response:
    return wechat.wechat_error(errcode, errmsg or ERRMSG.get(errcode))


@blueprint.post("/cgi-bin/message/subscribe/send")
def subscribe_send() -> Response:
    injected = enter_endpoint(SUBSCRIBE_SEND, wechat.render_fault)
    if injected:
        return injected
    wx, push = wechat.store(), store()
    with current_sandbox().lock:
        access_token = request.args.get("access_token")
        if not access_token:
            return _error(41001, wechat.ERRMSG[41001])
        errcode, token = wx.token_error(access_token)
        if errcode is not None or token is None:
            return _error(errcode or 40001, wechat.ERRMSG.get(errcode or 40001))
        body = json_body()
        if body is None:
            return _error(47001)
        openid = body.get("touser")
        found = wx.user_by_openid.get(openid) if isinstance(openid, str) else None
        if found is None or found[1] != token.appid:
            return _error(40003)
        template_id = body.get("template_id")
        template = push.templates.get(template_id) if isinstance(template_id, str) else None
        if template is None:
            return _error(40037)
        data = body.get("data")
        if not isinstance(data, dict):
            return _error(47003, "argument invalid! data is empty")
        for key in template["keys"]:
            entry = data.get(key)
            value = entry.get("value") if isinstance(entry, dict) else None
            if not value_ok(key, value):
                return _error(47003, f"argument invalid! data.{key}.value invalid")
        state = body.get("miniprogram_state", "formal")
        if state not in ("developer", "trial", "formal"):
            return _error(47003, "argument invalid! miniprogram_state invalid")
        sub = push.sub(openid, template_id)
        if sub.cancelled or not (sub.long_term or sub.one_time > 0):
            return _error(43101)
        now = push.sandbox.clock.now()
        day_key = f"{token.appid}:{int((now + wechat.BEIJING_UTC_OFFSET_SECONDS) // 86_400)}"
        if push.sends_today.get(day_key, 0) >= push.config.get("wechat_subscribe_daily_quota", 10_000_000):
            return _error(45009)
        push.sends_today[day_key] = push.sends_today.get(day_key, 0) + 1
        if not sub.long_term:
            sub.one_time -= 1
        msgid = secrets.randbits(63)
        push.screens.setdefault(openid, []).append({
            "msgid": str(msgid),
            "template_id": template_id,
            "title": template.get("title"),
            "page": body.get("page"),
            "data": {key: data[key]["value"] for key in template["keys"]},
            "miniprogram_state": state,
            "lang": body.get("lang", "zh_CN"),
            "received_at": now,
        })
        failure = push.async_failures.get(openid)
        if failure is not None or push.config.get("wechat_sent_event_on_success", True):
            push.emit(token.appid, openid, "subscribe_msg_sent_event", [{
                "TemplateId": template_id, "MsgID": str(msgid),
                "ErrorCode": failure or 0, "ErrorStatus": "success" if not failure else "failed:user block",
            }])
        return wechat.wechat_json({"errcode": 0, "errmsg": "ok", "msgid": msgid})


# ---- drive: act as the phone (taps in the subscription popup, WeChat settings) -------------------


def _fail(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def _target(body: dict[str, Any]) -> tuple[str, str] | Response:
    """(openid, appid) of the simulated user named by user_id or openid."""
    wx = wechat.store()
    found = wx.find_user(body.get("user_id") if isinstance(body.get("user_id"), str) else None,
                         body.get("openid") if isinstance(body.get("openid"), str) else None)
    if found is None:
        return _fail(404, "no such simulated WeChat user (give user_id or openid)")
    user, appid = found
    appid = body.get("appid") or appid or next(iter(wx.apps))
    if appid not in wx.apps:
        return _fail(404, "unknown appid")
    return wx.openid_for(user, appid), appid


@blueprint.post("/_drive/wechat/subscriptions")
def drive_subscribe() -> Response:
    """The user tapped in the wx.requestSubscribeMessage popup: {user_id|openid, template_id,
    action: accept|reject, count?: accepts to add (one-time)}. Emits subscribe_msg_popup_event."""
    body = json_body() or {}
    with current_sandbox().lock:
        target = _target(body)
        if isinstance(target, Response):
            return target
        openid, appid = target
        push = store()
        template_id = body.get("template_id")
        template = push.templates.get(template_id) if isinstance(template_id, str) else None
        if template is None:
            return _fail(404, "unknown template_id")
        action = body.get("action", "accept")
        count = body.get("count", 1)
        if action not in ("accept", "reject") or not isinstance(count, int) or count < 1:
            return _fail(400, "action must be accept|reject, count a positive integer")
        sub = push.sub(openid, template_id)
        taps = count if action == "accept" else 1
        if action == "accept":
            sub.cancelled = False
            if template["kind"] == "long_term":
                sub.long_term = True
            else:
                sub.one_time += count
        elif template["kind"] == "long_term":
            sub.long_term = False
        for _ in range(taps):
            push.emit(appid, openid, "subscribe_msg_popup_event", [
                {"TemplateId": template_id, "SubscribeStatusString": action, "PopupScene": "0"}])
        return json_response({"openid": openid, "template_id": template_id, **sub.describe()}, 201)


@blueprint.post("/_drive/wechat/subscriptions/cancel")
def drive_cancel() -> Response:
    """The user switched the template off in WeChat settings: emits subscribe_msg_change_event."""
    body = json_body() or {}
    with current_sandbox().lock:
        target = _target(body)
        if isinstance(target, Response):
            return target
        openid, appid = target
        push = store()
        template_id = body.get("template_id")
        if template_id not in push.templates:
            return _fail(404, "unknown template_id")
        sub = push.sub(openid, template_id)
        sub.one_time, sub.long_term, sub.cancelled = 0, False, True
        push.emit(appid, openid, "subscribe_msg_change_event", [{"TemplateId": template_id, "SubscribeStatusString": "reject"}])
        return json_response({"openid": openid, "template_id": template_id, **sub.describe()})


@blueprint.get("/_drive/wechat/subscriptions")
def drive_subscriptions() -> Response:
    body = {k: v for k, v in request.args.items()}
    with current_sandbox().lock:
        target = _target(body)
        if isinstance(target, Response):
            return target
        openid, _ = target
        subs = {tid: sub.describe() for (oid, tid), sub in store().subscriptions.items() if oid == openid}
        return json_response({"openid": openid, "subscriptions": subs})


@blueprint.get("/_drive/wechat/messages")
def drive_messages() -> Response:
    """The phone screen: subscribe messages the user received, oldest first."""
    body = {k: v for k, v in request.args.items()}
    with current_sandbox().lock:
        target = _target(body)
        if isinstance(target, Response):
            return target
        openid, _ = target
        return json_response({"openid": openid, "messages": list(store().screens.get(openid, []))})


@blueprint.get("/_drive/wechat/messages/counts")
def drive_message_counts() -> Response:
    """{openid: number of messages received} for every user who received any (bulk checks)."""
    with current_sandbox().lock:
        return json_response({"counts": {openid: len(msgs) for openid, msgs in store().screens.items()}})


@blueprint.post("/_drive/wechat/async-failures")
def drive_async_failure() -> Response:
    """Sends to this user still return ok, but the sent event reports ``error_code`` (e.g. the
    user blocked the mini-program). ``error_code: 0`` clears it."""
    body = json_body() or {}
    with current_sandbox().lock:
        target = _target(body)
        if isinstance(target, Response):
            return target
        openid, _ = target
        code = body.get("error_code", 10005)
        if not isinstance(code, int):
            return _fail(400, "error_code must be an integer")
        if code:
            store().async_failures[openid] = code
        else:
            store().async_failures.pop(openid, None)
        return json_response({"openid": openid, "error_code": code})


@blueprint.get("/_drive/wechat/push-events")
def drive_push_events() -> Response:
    """Events WeChat would have POSTed to the message-push URL, after ``after`` (a seq), each
    {seq, event, query: {signature, timestamp, nonce}, body}."""
    try:
        after = int(request.args.get("after", 0))
        limit = min(int(request.args.get("limit", 1000)), 10_000)
    except ValueError:
        return _fail(400, "after and limit must be integers")
    with current_sandbox().lock:
        events = store().events[after: after + limit]
        return json_response({"events": events, "last_seq": len(store().events)})


@blueprint.get("/_drive/wechat/subscribe-templates")
def drive_templates() -> Response:
    return json_response({"templates": store().templates})


@blueprint.post("/_drive/wechat/push/bulk-users")
def drive_bulk_users() -> Response:
    """For benchmarks: ``count`` users, each subscribed to ``template_id`` (``one_time`` accepts,
    or long-term for long-term templates). Returns their openids for the configured app."""
    body = json_body() or {}
    count = body.get("count")
    if not isinstance(count, int) or not 1 <= count <= 1_000_000:
        return _fail(400, "count must be 1..1000000")
    with current_sandbox().lock:
        wx, push = wechat.store(), store()
        appid = body.get("appid") or next(iter(wx.apps))
        template_id = body.get("template_id")
        template = push.templates.get(template_id) if template_id else None
        if template_id and template is None:
            return _fail(404, "unknown template_id")
        openids = []
        for _ in range(count):
            user = wx.create_user(with_unionid=False, risky=False, phone=None, country_code="86")
            openid = wx.openid_for(user, appid)
            openids.append(openid)
            if template is not None:
                sub = push.sub(openid, template_id)
                if template["kind"] == "long_term":
                    sub.long_term = True
                else:
                    sub.one_time += int(body.get("one_time", 1))
        return json_response({"appid": appid, "openids": openids}, 201)


def init_app(app: Flask, sandbox: Sandbox) -> None:
    push = PushWeChatStore(sandbox, app.config["SANDBOX"])
    sandbox.register_store(push)
    sandbox.register_endpoints(SUBSCRIBE_SEND)
    app.extensions["sandbox.push_wechat"] = push
    app.register_blueprint(blueprint)
