"""Alipay open-platform gateway stand-in: `POST /gateway.do` with
`alipay.system.oauth.token`. Requests are RSA2-verified with the registered
app public key; every response node is RSA2-signed with the sandbox's own
"Alipay" key (shared/notes/wechat-alipay-protocols.md §8–10)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Blueprint, Flask, Response, current_app, request

from sandbox import rsa2
from sandbox.common import current_sandbox, enter_endpoint
from sandbox.state import ALNUM, CodeOutcome, CodeStore, Fault, Sandbox, random_token

blueprint = Blueprint("sandbox_alipay", __name__)

OAUTH_TOKEN = "alipay.system.oauth.token"
METHODS = (OAUTH_TOKEN,)  # fault-injection endpoint names are the method names
AUTH_CODE = "alipay.auth_code"

ACCESS_TOKEN_SECONDS = 1_296_000  # 15 days, as real replies show
REFRESH_TOKEN_SECONDS = 2_592_000  # 30 days
BEIJING = timezone(timedelta(hours=8))

MSG = {
    "20000": "Service Currently Unavailable",
    "40001": "Missing Required Arguments",
    "40002": "Invalid Arguments",
    "40004": "Business Failed",
    "40006": "Insufficient Permissions",
}
SUB_MSG = {
    "isv.missing-method": "缺少方法名参数",
    "isv.missing-app-id": "缺少AppID参数",
    "isv.missing-timestamp": "缺少时间戳参数",
    "isv.missing-version": "缺少版本参数",
    "isv.missing-signature-type": "缺少签名类型参数",
    "isv.missing-signature": "缺少签名参数",
    "isv.invalid-charset": "字符集错误",
    "isv.invalid-timestamp": "非法的时间戳参数",
    "isv.invalid-app-id": "无效的AppID参数",
    "isv.invalid-signature-type": "无效的签名类型",
    "isv.invalid-method": "不存在的方法名",
    "isv.grant-type-invalid": "grant_type参数不正确",
    "isv.code-invalid": "授权码code无效",
    "isv.refresh-token-invalid": "刷新令牌refresh_token无效",
    "isv.refreshed-token-invalid": "刷新令牌refresh_token已使用",
    "isv.refresh-token-time-out": "刷新令牌refresh_token过期",
    "isp.unknow-error": "系统繁忙",
}


@dataclass
class AlipayApp:
    app_id: str
    public_key: rsa.RSAPublicKey | None
    userid_mode: bool = False  # legacy apps get user_id instead of open_id
    union_id: bool = False  # app belongs to an 应用分组: responses carry union_id


@dataclass
class AlipayUser:
    user_id: str  # 2088 + 12 digits
    union_id: str | None
    open_ids: dict[str, str] = field(default_factory=dict)  # app_id -> open_id


@dataclass
class OAuthGrant:
    app_id: str
    user_id: str
    refresh_expires_at: float
    refreshed: bool = False


def _open_id() -> str:
    return "0" + random_token(46, ALNUM + "_-")


class AlipayStore:
    def __init__(self, sandbox: Sandbox, config: dict[str, Any]) -> None:
        self._config = config
        self.clock = sandbox.clock
        # The signing keypair survives /_drive/reset: the BFF is configured with its public key.
        self.private_key = rsa2.load_or_generate_private_key(config.get("alipay_private_key_pem"))
        self.codes = CodeStore(self.clock)
        self.reset()

    def reset(self) -> None:
        self.users: dict[str, AlipayUser] = {}
        self.user_by_open_id: dict[str, tuple[AlipayUser, str]] = {}
        self.grants: dict[str, OAuthGrant] = {}  # refresh_token -> grant
        self.codes.clear()
        self.apps: dict[str, AlipayApp] = {}
        for app_id, spec in self._config["alipay_apps"].items():
            self.upsert_app(app_id, spec.get("public_key_pem"), bool(spec.get("userid_mode")), bool(spec.get("union_id")))

    def upsert_app(self, app_id: str, public_key_text: str | None, userid_mode: bool, union_id: bool) -> AlipayApp:
        key = rsa2.load_public_key(public_key_text) if public_key_text else None
        self.apps[app_id] = AlipayApp(app_id, key, userid_mode, union_id)
        for user in self.users.values():
            self.open_id_for(user, app_id)
        return self.apps[app_id]

    def create_user(self, with_union_id: bool) -> AlipayUser:
        user = AlipayUser(
            user_id="2088" + "".join(secrets.choice("0123456789") for _ in range(12)),
            union_id=_open_id() if with_union_id else None,
        )
        self.users[user.user_id] = user
        for app_id in self.apps:
            self.open_id_for(user, app_id)
        return user

    def open_id_for(self, user: AlipayUser, app_id: str) -> str:
        if app_id not in user.open_ids:
            user.open_ids[app_id] = _open_id()
            self.user_by_open_id[user.open_ids[app_id]] = (user, app_id)
        return user.open_ids[app_id]

    def find_user(self, user_id: str | None, open_id: str | None) -> tuple[AlipayUser, str | None] | None:
        if user_id:
            user = self.users.get(user_id)
            return (user, None) if user else None
        if open_id:
            return self.user_by_open_id.get(open_id)
        return None

    def issue_auth_code(self, user: AlipayUser, app_id: str, scope: str, ttl_seconds: float | None) -> str:
        ttl = ttl_seconds if ttl_seconds is not None else self._config["alipay_auth_code_ttl_seconds"]
        return self.codes.issue(AUTH_CODE, {"user_id": user.user_id, "app_id": app_id, "scope": scope}, ttl)

    @staticmethod
    def describe_user(user: AlipayUser) -> dict[str, Any]:
        return {"user_id": user.user_id, "union_id": user.union_id, "open_ids": dict(user.open_ids)}

    def grant_tokens(self, app: AlipayApp, user: AlipayUser) -> dict[str, Any]:
        now = self.clock.now()
        refresh_token = "authusrB" + secrets.token_hex(16)
        self.grants[refresh_token] = OAuthGrant(app.app_id, user.user_id, now + REFRESH_TOKEN_SECONDS)
        node: dict[str, Any] = {
            "access_token": "authusrB" + secrets.token_hex(16),
            "auth_start": datetime.fromtimestamp(now, BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "expires_in": ACCESS_TOKEN_SECONDS,
        }
        if app.userid_mode:
            node["user_id"] = user.user_id
        else:
            node["open_id"] = self.open_id_for(user, app.app_id)
        node["re_expires_in"] = REFRESH_TOKEN_SECONDS
        node["refresh_token"] = refresh_token
        if app.union_id and user.union_id:
            node["union_id"] = user.union_id
        return node


def store() -> AlipayStore:
    return current_app.extensions["sandbox.alipay"]


def signed_response(node_name: str, node: dict[str, Any]) -> Response:
    """Body text is built by hand so the signed bytes are exactly the node's
    JSON text inside the body, as the client must cut it out and verify it."""
    node_text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
    signature = rsa2.sign(store().private_key, node_text.encode("utf-8"))
    body = f'{{"{node_name}":{node_text},"sign":"{signature}"}}'
    return Response(body.encode("utf-8"), status=200, content_type="text/html;charset=utf-8")


def error_response(code: str, sub_code: str, sub_msg: str | None = None) -> Response:
    node = {"code": code, "msg": MSG.get(code, "Error"), "sub_code": sub_code, "sub_msg": sub_msg or SUB_MSG.get(sub_code, sub_code)}
    return signed_response("error_response", node)


def render_fault(fault: Fault) -> Response:
    code = str(fault.error.get("code", "20000"))
    node = {
        "code": code,
        "msg": fault.error.get("msg", MSG.get(code, "Error")),
        "sub_code": fault.error.get("sub_code", "isp.unknow-error"),
        "sub_msg": fault.error.get("sub_msg", SUB_MSG["isp.unknow-error"]),
    }
    if fault.http_status and fault.http_status != 200:
        return Response(json.dumps({"error_response": node}, ensure_ascii=False), status=fault.http_status)
    return signed_response("error_response", node)


_REQUIRED = (
    ("method", "isv.missing-method"),
    ("app_id", "isv.missing-app-id"),
    ("timestamp", "isv.missing-timestamp"),
    ("version", "isv.missing-version"),
    ("sign_type", "isv.missing-signature-type"),
    ("sign", "isv.missing-signature"),
)


def _check_common(params: dict[str, str]) -> Response | AlipayApp:
    for name, sub_code in _REQUIRED:
        if not params.get(name):
            return error_response("40001", sub_code)
    if params.get("charset", "").lower() != "utf-8":
        return error_response("40002", "isv.invalid-charset")
    try:
        datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return error_response("40002", "isv.invalid-timestamp")
    app = store().apps.get(params["app_id"])
    if app is None:
        return error_response("40002", "isv.invalid-app-id")
    if params["sign_type"] != "RSA2":
        return error_response("40002", "isv.invalid-signature-type")
    content = rsa2.request_sign_content(params)
    if app.public_key is None or not rsa2.verify(app.public_key, content.encode("utf-8"), params["sign"]):
        # Like the real gateway, echo the string it verified to ease debugging.
        return error_response(
            "40002",
            "isv.invalid-signature",
            f"验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：{content}",
        )
    return app


def _oauth_token(app: AlipayApp, params: dict[str, str]) -> Response:
    ali = store()
    grant_type = params.get("grant_type")
    if grant_type == "authorization_code":
        outcome, payload = ali.codes.peek(params.get("code", ""), AUTH_CODE)
        if outcome is not CodeOutcome.OK or payload is None or payload["app_id"] != app.app_id:
            return error_response("40002", "isv.code-invalid")
        ali.codes.consume(params["code"])
        return signed_response("alipay_system_oauth_token_response", ali.grant_tokens(app, ali.users[payload["user_id"]]))
    if grant_type == "refresh_token":
        grant = ali.grants.get(params.get("refresh_token", ""))
        if grant is None or grant.app_id != app.app_id:
            return error_response("40002", "isv.refresh-token-invalid")
        if grant.refreshed:
            return error_response("40002", "isv.refreshed-token-invalid")
        if ali.clock.now() >= grant.refresh_expires_at:
            return error_response("40002", "isv.refresh-token-time-out")
        grant.refreshed = True
        return signed_response("alipay_system_oauth_token_response", ali.grant_tokens(app, ali.users[grant.user_id]))
    return error_response("40002", "isv.grant-type-invalid")


@blueprint.post("/gateway.do")
def gateway() -> Response:
    # Common params travel in the query, business params in the form body;
    # the signature covers both.
    params = {**request.args.to_dict(), **request.form.to_dict()}
    method = params.get("method", "")
    if method in METHODS:
        injected = enter_endpoint(method, render_fault)
        if injected:
            return injected
    with current_sandbox().lock:
        app = _check_common(params)
        if isinstance(app, Response):
            return app
        if method == OAUTH_TOKEN:
            return _oauth_token(app, params)
        return error_response("40002", "isv.invalid-method")


def init_app(app: Flask, sandbox: Sandbox) -> None:
    ali = AlipayStore(sandbox, app.config["SANDBOX"])
    sandbox.register_store(ali)
    sandbox.register_endpoints(*METHODS)
    app.extensions["sandbox.alipay"] = ali
    app.register_blueprint(blueprint)
