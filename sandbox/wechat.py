"""WeChat mini-program stand-in: code2Session, stable_token, classic token,
getuserphonenumber. Semantics from shared/notes/wechat-alipay-protocols.md
§1–4: HTTP 200 on every error, errmsg ending in `rid: <hex>-<hex>-<hex>`."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from sandbox.common import current_sandbox, enter_endpoint, json_body, json_response
from sandbox.state import ALNUM, CodeOutcome, CodeStore, EventWindows, Fault, Sandbox, SandboxClock, random_token

blueprint = Blueprint("sandbox_wechat", __name__)

JSCODE2SESSION = "wechat.jscode2session"
STABLE_TOKEN = "wechat.stable_token"
CLASSIC_TOKEN = "wechat.token"
GET_PHONE_NUMBER = "wechat.getuserphonenumber"
ENDPOINTS = (JSCODE2SESSION, STABLE_TOKEN, CLASSIC_TOKEN, GET_PHONE_NUMBER)
# Not endpoints: incremented each time a new access_token is minted, so BFF
# tests can tell "called the endpoint" from "caused a refresh".
TOKENS_ISSUED = "wechat.access_tokens_issued"

TOKEN_LIFETIME_SECONDS = 7200
# Both token families keep the old and new token valid for 5 minutes around
# a renewal; stable_token renews 5 minutes early in normal mode.
OVERLAP_SECONDS = 300
FORCE_REFRESH_PER_DAY = 20
FORCE_REFRESH_MIN_INTERVAL_SECONDS = 30
BEIJING_UTC_OFFSET_SECONDS = 8 * 3600

LOGIN_CODE = "wechat.login"
PHONE_CODE = "wechat.phone"

# errmsg texts before the rid suffix; punctuation as seen upstream.
ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40013: "invalid appid",
    40029: "invalid code,",
    40125: "invalid appsecret",
    40163: "code been used,",
    40226: "code blocked",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41008: "missing code",
    42001: "access_token expired",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit mustslower retry next minute",
    47001: "data format error",
}


def rid() -> str:
    return f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"


def wechat_json(body: dict[str, Any], status: int = 200) -> Response:
    # The content type api.weixin.qq.com actually sends.
    return json_response(body, status, content_type="application/json; encoding=utf-8")


def wechat_error(errcode: int, errmsg: str | None = None, status: int = 200) -> Response:
    text = errmsg if errmsg is not None else ERRMSG.get(errcode, "error")
    return wechat_json({"errcode": errcode, "errmsg": f"{text} rid: {rid()}"}, status)


def render_fault(fault: Fault) -> Response:
    errcode = int(fault.error.get("errcode", -1))
    return wechat_error(errcode, fault.error.get("errmsg"), fault.http_status or 200)


@dataclass
class WeChatApp:
    appid: str
    secret: str
    open_platform_bound: bool


@dataclass
class WeChatUser:
    user_id: str
    unionid: str | None
    risky: bool = False
    rate_limited: bool = False
    phone: str | None = None
    country_code: str = "86"
    openids: dict[str, str] = field(default_factory=dict)  # appid -> openid
    session_keys: dict[str, str] = field(default_factory=dict)  # appid -> current session_key


@dataclass
class AccessToken:
    value: str
    appid: str
    expires_at: float
    invalid_from: float | None = None  # set when a newer token supersedes this one

    def error_at(self, now: float) -> int | None:
        if self.invalid_from is not None and now >= self.invalid_from:
            return 40001
        if now >= self.expires_at:
            return 42001
        return None

    def supersede(self, at: float) -> None:
        if at < self.expires_at and (self.invalid_from is None or at < self.invalid_from):
            self.invalid_from = at


def _openid() -> str:
    return "o" + random_token(27, ALNUM + "-_")


class WeChatStore:
    def __init__(self, sandbox: Sandbox, config: dict[str, Any]) -> None:
        self._sandbox = sandbox
        self._config = config
        self.clock: SandboxClock = sandbox.clock
        self.codes = CodeStore(self.clock)
        self.login_calls = EventWindows(self.clock, horizon_seconds=60)
        self.reset()

    def reset(self) -> None:
        self.apps: dict[str, WeChatApp] = {
            appid: WeChatApp(appid, spec["secret"], bool(spec.get("open_platform_bound", True)))
            for appid, spec in self._config["wechat_apps"].items()
        }
        self.users: dict[str, WeChatUser] = {}
        self.user_by_openid: dict[str, tuple[WeChatUser, str]] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.current_token: dict[tuple[str, str], AccessToken] = {}  # (family, appid)
        self.forced_refreshes: dict[str, list[float]] = {}
        self.codes.clear()
        self.login_calls.clear()

    # ---- simulated users and apps (used by the drive API) ----

    def upsert_app(self, appid: str, secret: str, open_platform_bound: bool) -> WeChatApp:
        self.apps[appid] = WeChatApp(appid, secret, open_platform_bound)
        for user in self.users.values():
            self.openid_for(user, appid)
        return self.apps[appid]

    def create_user(self, *, with_unionid: bool, risky: bool, phone: str | None, country_code: str) -> WeChatUser:
        user = WeChatUser(
            user_id=f"wxu_{len(self.users) + 1}",
            unionid=_openid() if with_unionid else None,
            risky=risky,
            phone=phone,
            country_code=country_code,
        )
        self.users[user.user_id] = user
        for appid in self.apps:
            self.openid_for(user, appid)
        return user

    def openid_for(self, user: WeChatUser, appid: str) -> str:
        # openid is per (user, app); unionid is shared across the Open Platform.
        if appid not in user.openids:
            user.openids[appid] = _openid()
            self.user_by_openid[user.openids[appid]] = (user, appid)
        return user.openids[appid]

    def find_user(self, user_id: str | None, openid: str | None) -> tuple[WeChatUser, str | None] | None:
        if user_id:
            user = self.users.get(user_id)
            return (user, None) if user else None
        if openid:
            return self.user_by_openid.get(openid)
        return None

    def issue_login_code(self, user: WeChatUser, appid: str) -> str:
        ttl = self._config["wechat_code_ttl_seconds"]
        return self.codes.issue(LOGIN_CODE, {"user_id": user.user_id, "appid": appid}, ttl)

    def issue_phone_code(self, user: WeChatUser, appid: str) -> str:
        ttl = self._config["wechat_code_ttl_seconds"]
        return self.codes.issue(PHONE_CODE, {"user_id": user.user_id, "appid": appid}, ttl, length=64)

    @staticmethod
    def describe_user(user: WeChatUser) -> dict[str, Any]:
        return {
            "user_id": user.user_id,
            "unionid": user.unionid,
            "openids": dict(user.openids),
            "risky": user.risky,
            "rate_limited": user.rate_limited,
            "phone": user.phone,
            "country_code": user.country_code,
        }

    # ---- access tokens ----

    def mint_token(self, family: str, appid: str) -> AccessToken:
        now = self.clock.now()
        value = f"{len(self.tokens) + 1}_{random_token(150, ALNUM + '-_')}"
        token = AccessToken(value, appid, now + TOKEN_LIFETIME_SECONDS)
        self.tokens[value] = token
        self.current_token[(family, appid)] = token
        self._sandbox.counters[TOKENS_ISSUED] += 1
        return token

    def token_error(self, value: str) -> tuple[int | None, AccessToken | None]:
        token = self.tokens.get(value)
        if token is None:
            return 40001, None
        return token.error_at(self.clock.now()), token

    def forced_today(self, appid: str) -> list[float]:
        now = self.clock.now()
        day_start = now - (now + BEIJING_UTC_OFFSET_SECONDS) % 86_400  # quota resets at Beijing midnight
        times = [t for t in self.forced_refreshes.get(appid, []) if t >= day_start]
        self.forced_refreshes[appid] = times
        return times


def store() -> WeChatStore:
    return current_app.extensions["sandbox.wechat"]


def _check_app(appid: str | None, secret: str | None, wrong_secret_errcode: int) -> Response | WeChatApp:
    if not appid:
        return wechat_error(41002)
    app = store().apps.get(appid)
    if app is None:
        return wechat_error(40013)
    if not secret:
        return wechat_error(41004)
    if not secrets.compare_digest(secret, app.secret):
        return wechat_error(wrong_secret_errcode)
    return app


@blueprint.get("/sns/jscode2session")
def jscode2session() -> Response:
    injected = enter_endpoint(JSCODE2SESSION, render_fault)
    if injected:
        return injected
    args = request.args
    wx = store()
    with current_sandbox().lock:
        app = _check_app(args.get("appid"), args.get("secret"), 40125)
        if isinstance(app, Response):
            return app
        if args.get("grant_type") != "authorization_code":
            return wechat_error(40002)
        js_code = args.get("js_code")
        if not js_code:
            return wechat_error(41008)
        outcome, payload = wx.codes.peek(js_code, LOGIN_CODE)
        if outcome is CodeOutcome.USED:
            return wechat_error(40163)
        if outcome is not CodeOutcome.OK or payload is None or payload["appid"] != app.appid:
            return wechat_error(40029)
        user = wx.users[payload["user_id"]]
        quota_key = (app.appid, user.user_id)
        if user.rate_limited or wx.login_calls.count(quota_key, 60) >= current_app.config["SANDBOX"]["wechat_user_minute_quota"]:
            return wechat_error(45011)
        wx.login_calls.add(quota_key)
        wx.codes.consume(js_code)  # a blocked login burns the code as well
        if user.risky:
            return wechat_error(40226)
        # A new login replaces the user's previous session_key for this app.
        session_key = base64.b64encode(secrets.token_bytes(16)).decode()
        user.session_keys[app.appid] = session_key
        body = {"session_key": session_key, "openid": wx.openid_for(user, app.appid)}
        if app.open_platform_bound and user.unionid:
            body["unionid"] = user.unionid
        return wechat_json(body)


@blueprint.post("/cgi-bin/stable_token")
def stable_token() -> Response:
    injected = enter_endpoint(STABLE_TOKEN, render_fault)
    if injected:
        return injected
    body = json_body()  # JSON only, whatever the Content-Type
    if body is None:
        return wechat_error(47001)
    wx = store()
    with current_sandbox().lock:
        if body.get("grant_type") != "client_credential":
            return wechat_error(40002)
        app = _check_app(body.get("appid"), body.get("secret"), 40125)
        if isinstance(app, Response):
            return app
        now = wx.clock.now()
        current = wx.current_token.get(("stable", app.appid))
        current_ok = current is not None and current.error_at(now) is None
        if body.get("force_refresh") is True:
            forced = wx.forced_today(app.appid)
            if current_ok and forced and now - forced[-1] < FORCE_REFRESH_MIN_INTERVAL_SECONDS:
                token = current  # upstream: "请保证调用时间隔至少为30s，否则不会刷新"
            elif len(forced) >= FORCE_REFRESH_PER_DAY:
                return wechat_error(45009)
            else:
                forced.append(now)
                token = wx.mint_token("stable", app.appid)
                if current is not None:
                    grace = current_app.config["SANDBOX"]["wechat_stable_force_refresh_grace_seconds"]
                    current.supersede(now + grace)
        elif current_ok and current.expires_at - now > OVERLAP_SECONDS:
            token = current
        else:
            # Renewal 5 minutes early: the old token keeps its natural expiry,
            # so old and new overlap for up to 5 minutes.
            token = wx.mint_token("stable", app.appid)
        assert token is not None
        return wechat_json({"access_token": token.value, "expires_in": int(token.expires_at - now)})


@blueprint.get("/cgi-bin/token")
def classic_token() -> Response:
    injected = enter_endpoint(CLASSIC_TOKEN, render_fault)
    if injected:
        return injected
    args = request.args
    wx = store()
    with current_sandbox().lock:
        if args.get("grant_type") != "client_credential":
            return wechat_error(40002)
        # The classic endpoint answers a wrong secret with 40001.
        app = _check_app(args.get("appid"), args.get("secret"), 40001)
        if isinstance(app, Response):
            return app
        now = wx.clock.now()
        previous = wx.current_token.get(("classic", app.appid))
        token = wx.mint_token("classic", app.appid)
        if previous is not None:
            # Every fetch invalidates the previous token after a 5 min overlap.
            previous.supersede(now + OVERLAP_SECONDS)
        return wechat_json({"access_token": token.value, "expires_in": TOKEN_LIFETIME_SECONDS})


@blueprint.post("/wxa/business/getuserphonenumber")
def get_user_phone_number() -> Response:
    injected = enter_endpoint(GET_PHONE_NUMBER, render_fault)
    if injected:
        return injected
    wx = store()
    with current_sandbox().lock:
        access_token = request.args.get("access_token")
        if not access_token:
            return wechat_error(41001)
        errcode, token = wx.token_error(access_token)
        if errcode is not None or token is None:
            return wechat_error(errcode or 40001)
        body = json_body()
        if body is None:
            return wechat_error(47001)
        code = body.get("code")
        if not isinstance(code, str) or not code:
            return wechat_error(41008)
        outcome, payload = wx.codes.peek(code, PHONE_CODE)
        if outcome is CodeOutcome.USED:
            return wechat_error(40163)
        if outcome is not CodeOutcome.OK or payload is None or payload["appid"] != token.appid:
            return wechat_error(40029)
        wx.codes.consume(code)
        user = wx.users[payload["user_id"]]
        pure = user.phone or ""
        full = pure if user.country_code == "86" else f"+{user.country_code}{pure}"
        return wechat_json(
            {
                "errcode": 0,
                "errmsg": "ok",
                "phone_info": {
                    "phoneNumber": full,
                    "purePhoneNumber": pure,
                    "countryCode": user.country_code,
                    "watermark": {"timestamp": int(wx.clock.now()), "appid": token.appid},
                },
            }
        )


def init_app(app: Flask, sandbox: Sandbox) -> None:
    wx = WeChatStore(sandbox, app.config["SANDBOX"])
    sandbox.register_store(wx)
    sandbox.register_endpoints(*ENDPOINTS)
    app.extensions["sandbox.wechat"] = wx
    app.register_blueprint(blueprint)
