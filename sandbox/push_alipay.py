"""Alipay mini-program template message stand-in: ``alipay.open.app.mini.templatemessage.send`` on
the same ``POST /gateway.do`` as ``sandbox/alipay.py`` (notes §8, §11), with the same RSA2 request
verification and signed response nodes (reused from that module), plus per-user one-time /
long-term subscriptions and a phone screen.

``biz_content``: ``to_open_id`` (or legacy ``to_user_id``), ``user_template_id``, ``page``, ``data``
(a JSON *string* ``{"keyword1":{"value":"…"}}``, each value ≤ 50 chars). Success node
``alipay_open_app_mini_templatemessage_send_response`` ``{"code":"10000","msg":"Success"}``.
Business errors are ``40004`` with these sub_codes (the real list is not published [U]):
``isv.invalid-to-user`` unknown recipient, ``isv.template-not-exist``, ``isv.invalid-data``,
``isv.user-not-subscribe`` no quota (the Alipay analogue of WeChat 43101). A bad ``biz_content``
is ``40002 isv.invalid-parameter``.

The gateway view in ``sandbox/alipay.py`` dispatches only ``alipay.system.oauth.token``; this module
answers its own method in a ``before_request`` hook so neither module has to know the other.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from sandbox import alipay
from sandbox.common import current_sandbox, enter_endpoint, json_body, json_response
from sandbox.state import Sandbox

blueprint = Blueprint("sandbox_push_alipay", __name__)

TEMPLATE_SEND = "alipay.open.app.mini.templatemessage.send"
RESPONSE_NODE = TEMPLATE_SEND.replace(".", "_") + "_response"
VALUE_MAX = 50

DEFAULT_TEMPLATES: dict[str, dict[str, Any]] = {
    "ali_tpl_policy_notice": {"title": "政策通知", "kind": "long_term", "keys": ["keyword1", "keyword2", "keyword3"]},
    "ali_tpl_service_reminder": {"title": "办事提醒", "kind": "one_time", "keys": ["keyword1", "keyword2"]},
}
SUB_MSG = {
    "isv.invalid-parameter": "参数无效",
    "isv.invalid-to-user": "接收用户不存在",
    "isv.template-not-exist": "模板不存在",
    "isv.invalid-data": "模板数据不合法",
    "isv.user-not-subscribe": "用户未订阅该消息",
}


@dataclass
class PushAlipayStore:
    config: dict[str, Any]
    subscriptions: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (open_id, tpl)
    screens: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def reset(self) -> None:
        self.subscriptions.clear()
        self.screens.clear()

    @property
    def templates(self) -> dict[str, dict[str, Any]]:
        return self.config.get("alipay_message_templates") or DEFAULT_TEMPLATES

    def sub(self, open_id: str, template_id: str) -> dict[str, Any]:
        return self.subscriptions.setdefault((open_id, template_id), {"one_time": 0, "long_term": False})


def store() -> PushAlipayStore:
    return current_app.extensions["sandbox.push_alipay"]


def _business_error(sub_code: str, code: str = "40004") -> Response:
    return alipay.error_response(code, sub_code, SUB_MSG.get(sub_code))


def _send(app: alipay.AlipayApp, params: dict[str, str]) -> Response:
    try:
        biz = json.loads(params.get("biz_content") or "")
    except ValueError:
        biz = None
    if not isinstance(biz, dict):
        return _business_error("isv.invalid-parameter", "40002")
    ali, push = alipay.store(), store()
    found = None
    if isinstance(biz.get("to_open_id"), str):
        found = ali.user_by_open_id.get(biz["to_open_id"])
        if found is not None and found[1] != app.app_id:
            found = None
    elif isinstance(biz.get("to_user_id"), str) and biz["to_user_id"] in ali.users:
        found = (ali.users[biz["to_user_id"]], app.app_id)
    if found is None:
        return _business_error("isv.invalid-to-user")
    user = found[0]
    open_id = ali.open_id_for(user, app.app_id)
    template_id = biz.get("user_template_id")
    template = push.templates.get(template_id) if isinstance(template_id, str) else None
    if template is None:
        return _business_error("isv.template-not-exist")
    try:
        data = json.loads(biz.get("data")) if isinstance(biz.get("data"), str) else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return _business_error("isv.invalid-data")
    for key in template["keys"]:
        entry = data.get(key)
        value = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(value, str) or not value or len(value) > VALUE_MAX:
            return _business_error("isv.invalid-data")
    sub = push.sub(open_id, template_id)
    if not (sub["long_term"] or sub["one_time"] > 0):
        return _business_error("isv.user-not-subscribe")
    if not sub["long_term"]:
        sub["one_time"] -= 1
    push.screens.setdefault(open_id, []).append({
        "template_id": template_id,
        "title": template.get("title"),
        "page": biz.get("page"),
        "data": {key: data[key]["value"] for key in template["keys"]},
        "received_at": ali.clock.now(),
    })
    return alipay.signed_response(RESPONSE_NODE, {"code": "10000", "msg": "Success"})


def _intercept() -> Response | None:
    if request.path != "/gateway.do" or request.method != "POST":
        return None
    params = {**request.args.to_dict(), **request.form.to_dict()}
    if params.get("method") != TEMPLATE_SEND:
        return None
    injected = enter_endpoint(TEMPLATE_SEND, alipay.render_fault)
    if injected:
        return injected
    with current_sandbox().lock:
        app = alipay._check_common(params)  # the gateway's own RSA2 verification
        if isinstance(app, Response):
            return app
        return _send(app, params)


# ---- drive --------------------------------------------------------------------------------------


def _open_id(body: dict[str, Any]) -> str | Response:
    ali = alipay.store()
    found = ali.find_user(body.get("user_id"), body.get("open_id"))
    if found is None:
        return json_response({"error": "no such simulated Alipay user (give user_id or open_id)"}, 404)
    user, app_id = found
    return ali.open_id_for(user, body.get("app_id") or app_id or next(iter(ali.apps)))


@blueprint.post("/_drive/alipay/subscriptions")
def drive_subscribe() -> Response:
    """my.requestSubscribeMessage result: {user_id|open_id, template_id, action, count?}."""
    body = json_body() or {}
    with current_sandbox().lock:
        open_id = _open_id(body)
        if isinstance(open_id, Response):
            return open_id
        push = store()
        template = push.templates.get(body.get("template_id"))
        if template is None:
            return json_response({"error": "unknown template_id"}, 404)
        sub = push.sub(open_id, body["template_id"])
        if body.get("action", "accept") == "accept":
            if template["kind"] == "long_term":
                sub["long_term"] = True
            else:
                sub["one_time"] += int(body.get("count", 1))
        else:
            sub["long_term"] = False
            sub["one_time"] = 0
        return json_response({"open_id": open_id, "template_id": body["template_id"], **sub}, 201)


@blueprint.get("/_drive/alipay/messages")
def drive_messages() -> Response:
    with current_sandbox().lock:
        open_id = _open_id(dict(request.args.items()))
        if isinstance(open_id, Response):
            return open_id
        return json_response({"open_id": open_id, "messages": list(store().screens.get(open_id, []))})


def init_app(app: Flask, sandbox: Sandbox) -> None:
    push = PushAlipayStore(app.config["SANDBOX"])
    sandbox.register_store(push)
    sandbox.register_endpoints(TEMPLATE_SEND)
    app.extensions["sandbox.push_alipay"] = push
    app.before_request(_intercept)
    app.register_blueprint(blueprint)
