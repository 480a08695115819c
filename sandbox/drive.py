"""Test-driving API under /_drive: lets a test (or a developer) act as the
phone and as the operator of the outside systems: create simulated users,
obtain the codes the mini-program SDKs would return, read the SMS outbox,
move the clock, inject failures, reset. Documented in sandbox/README.md."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn

from flask import Blueprint, Flask, Response, current_app, request

from sandbox import alipay, gov_identity, rsa2, sms, wechat
from sandbox.checkdigits import is_valid_bank_card, is_valid_id_number, is_valid_uscc
from sandbox.common import current_sandbox, json_body, json_response
from sandbox.gov_registers import ENTERPRISE_STATUS_TEXT
from sandbox.state import Fault

blueprint = Blueprint("sandbox_drive", __name__, url_prefix="/_drive")


class DriveError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@blueprint.errorhandler(DriveError)
def _drive_error(error: DriveError) -> Response:
    return json_response({"error": error.message}, error.status)


def _fail(status: int, message: str) -> NoReturn:
    raise DriveError(status, message)


def _body() -> dict[str, Any]:
    if not request.get_data():
        return {}
    body = json_body()
    if body is None:
        _fail(400, "body must be a JSON object")
    return body


def _typed(body: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    value = body.get(key, default)
    if value is not None and not isinstance(value, kind):
        _fail(400, f"{key} has the wrong type")
    return value


# ---- general ----


@blueprint.get("/health")
def health() -> Response:
    return json_response({"status": "ok"})


@blueprint.post("/reset")
def reset() -> Response:
    """Everything back to the startup state (apps from config, seeded
    registers, no users, clock offset 0, counters and faults cleared). The
    sandbox Alipay signing key is kept."""
    current_sandbox().reset()
    return json_response({"status": "reset"})


@blueprint.get("/clock")
def get_clock() -> Response:
    clock = current_sandbox().clock
    return json_response({"now": clock.now(), "offset_seconds": clock.offset_seconds})


@blueprint.post("/clock")
def advance_clock() -> Response:
    seconds = _typed(_body(), "advance_seconds", (int, float))
    if seconds is None or seconds < 0:
        _fail(400, "advance_seconds must be a non-negative number")
    sandbox = current_sandbox()
    with sandbox.lock:
        now = sandbox.clock.advance(float(seconds))
        return json_response({"now": now, "offset_seconds": sandbox.clock.offset_seconds})


@blueprint.get("/counters")
def get_counters() -> Response:
    sandbox = current_sandbox()
    with sandbox.lock:
        return json_response({"counters": dict(sandbox.counters)})


@blueprint.delete("/counters")
def clear_counters() -> Response:
    sandbox = current_sandbox()
    with sandbox.lock:
        sandbox.counters.clear()
    return json_response({"counters": {}})


@blueprint.get("/faults")
def list_faults() -> Response:
    sandbox = current_sandbox()
    with sandbox.lock:
        return json_response({"faults": sandbox.faults.describe(), "endpoints": sorted(sandbox.known_endpoints)})


@blueprint.post("/faults")
def add_fault() -> Response:
    body = _body()
    sandbox = current_sandbox()
    endpoint = _typed(body, "endpoint", str)
    if endpoint not in sandbox.known_endpoints:
        _fail(400, f"unknown endpoint; known: {', '.join(sorted(sandbox.known_endpoints))}")
    times = body["times"] if "times" in body else 1  # explicit null: until cleared
    if times is not None and (not isinstance(times, int) or times < 1):
        _fail(400, "times must be a positive integer or null")
    fault = Fault(
        endpoint=endpoint,
        remaining=times,
        error=_typed(body, "error", dict, {}),
        http_status=_typed(body, "http_status", int),
        delay_ms=_typed(body, "delay_ms", int, 0),
        raw_body=_typed(body, "raw_body", str),
    )
    with sandbox.lock:
        sandbox.faults.add(fault)
    return json_response({"fault": fault.describe()}, 201)


@blueprint.delete("/faults")
def clear_faults() -> Response:
    sandbox = current_sandbox()
    with sandbox.lock:
        sandbox.faults.clear(request.args.get("endpoint"))
        return json_response({"faults": sandbox.faults.describe()})


# ---- WeChat ----


def _wechat_target(body: dict[str, Any]) -> tuple[wechat.WeChatUser, str]:
    wx = wechat.store()
    found = wx.find_user(_typed(body, "user_id", str), _typed(body, "openid", str))
    if found is None:
        _fail(404, "no such simulated WeChat user (give user_id or openid)")
    user, openid_app = found
    appid = _typed(body, "appid", str) or openid_app
    if appid is None:
        if len(wx.apps) != 1:
            _fail(400, "several WeChat apps are configured: give appid")
        appid = next(iter(wx.apps))
    if appid not in wx.apps:
        _fail(404, "unknown appid")
    return user, appid


@blueprint.put("/wechat/apps/<appid>")
def put_wechat_app(appid: str) -> Response:
    body = _body()
    secret = _typed(body, "secret", str)
    if not secret:
        _fail(400, "secret is required")
    with current_sandbox().lock:
        app = wechat.store().upsert_app(appid, secret, bool(_typed(body, "open_platform_bound", bool, True)))
    return json_response({"appid": app.appid, "open_platform_bound": app.open_platform_bound})


@blueprint.post("/wechat/users")
def create_wechat_user() -> Response:
    body = _body()
    with current_sandbox().lock:
        wx = wechat.store()
        user = wx.create_user(
            with_unionid=bool(_typed(body, "unionid", bool, True)),
            risky=bool(_typed(body, "risky", bool, False)),
            phone=_typed(body, "phone", str),
            country_code=_typed(body, "country_code", str, "86"),
        )
        return json_response(wx.describe_user(user), 201)


@blueprint.get("/wechat/users/<user_id>")
def get_wechat_user(user_id: str) -> Response:
    with current_sandbox().lock:
        user = wechat.store().users.get(user_id)
        if user is None:
            _fail(404, "no such simulated WeChat user")
        return json_response(wechat.WeChatStore.describe_user(user))


@blueprint.patch("/wechat/users/<user_id>")
def update_wechat_user(user_id: str) -> Response:
    """Flip risky (→ 40226), rate_limited (→ 45011), or change the phone."""
    body = _body()
    with current_sandbox().lock:
        user = wechat.store().users.get(user_id)
        if user is None:
            _fail(404, "no such simulated WeChat user")
        for flag in ("risky", "rate_limited"):
            if flag in body:
                setattr(user, flag, bool(_typed(body, flag, bool)))
        for text in ("phone", "country_code"):
            if text in body:
                setattr(user, text, _typed(body, text, str))
        return json_response(wechat.WeChatStore.describe_user(user))


@blueprint.post("/wechat/login-code")
def wechat_login_code() -> Response:
    """What wx.login() gives the mini-program for this user."""
    body = _body()
    with current_sandbox().lock:
        wx = wechat.store()
        user, appid = _wechat_target(body)
        code = wx.issue_login_code(user, appid)
        return json_response({"code": code, "appid": appid, "openid": wx.openid_for(user, appid)}, 201)


@blueprint.post("/wechat/phone-code")
def wechat_phone_code() -> Response:
    """What <button open-type="getPhoneNumber"> gives the mini-program."""
    body = _body()
    with current_sandbox().lock:
        wx = wechat.store()
        user, appid = _wechat_target(body)
        if not user.phone:
            _fail(400, "the simulated user has no phone number")
        return json_response({"code": wx.issue_phone_code(user, appid), "appid": appid}, 201)


# ---- Alipay ----


@blueprint.put("/alipay/apps/<app_id>")
def put_alipay_app(app_id: str) -> Response:
    """Register or update an app: its public key (PEM or bare base64) and modes."""
    body = _body()
    public_key = _typed(body, "public_key", str)
    with current_sandbox().lock:
        ali = alipay.store()
        existing = ali.apps.get(app_id)
        try:
            app = ali.upsert_app(
                app_id,
                public_key,
                bool(_typed(body, "userid_mode", bool, existing.userid_mode if existing else False)),
                bool(_typed(body, "union_id", bool, existing.union_id if existing else False)),
            )
        except ValueError:
            _fail(400, "public_key is not an RSA public key (PEM or base64 DER)")
        if public_key is None and existing is not None:
            app.public_key = existing.public_key  # keep the key when only toggling modes
        return json_response(
            {"app_id": app_id, "has_public_key": app.public_key is not None, "userid_mode": app.userid_mode, "union_id": app.union_id}
        )


@blueprint.post("/alipay/users")
def create_alipay_user() -> Response:
    body = _body()
    with current_sandbox().lock:
        ali = alipay.store()
        user = ali.create_user(with_union_id=bool(_typed(body, "union_id", bool, False)))
        return json_response(ali.describe_user(user), 201)


@blueprint.post("/alipay/auth-code")
def alipay_auth_code() -> Response:
    """What my.getAuthCode() gives the mini-program for this user."""
    body = _body()
    ttl = _typed(body, "ttl_seconds", (int, float))
    with current_sandbox().lock:
        ali = alipay.store()
        found = ali.find_user(_typed(body, "user_id", str), _typed(body, "open_id", str))
        if found is None:
            _fail(404, "no such simulated Alipay user (give user_id or open_id)")
        user, open_id_app = found
        app_id = _typed(body, "app_id", str) or open_id_app
        if app_id is None:
            if len(ali.apps) != 1:
                _fail(400, "several Alipay apps are configured: give app_id")
            app_id = next(iter(ali.apps))
        if app_id not in ali.apps:
            _fail(404, "unknown app_id")
        code = ali.issue_auth_code(user, app_id, _typed(body, "scope", str, "auth_base"), ttl)
        return json_response({"auth_code": code, "app_id": app_id}, 201)


@blueprint.get("/alipay/public-key")
def alipay_public_key() -> Response:
    """The key the BFF must verify Alipay responses with (not its own app key)."""
    key = alipay.store().private_key
    return json_response({"public_key_pem": rsa2.public_key_pem(key), "public_key": rsa2.public_key_bare(key)})


# ---- government identity platform ----


@blueprint.get("/gov/people")
def list_people() -> Response:
    with current_sandbox().lock:
        return json_response({"people": [p.describe() for p in gov_identity.registers().people.values()]})


@blueprint.post("/gov/people")
def add_person() -> Response:
    body = _body()
    name = _typed(body, "name", str)
    if not name:
        _fail(400, "name is required")
    id_number = _typed(body, "id_number", str)
    if id_number is not None and not is_valid_id_number(id_number):
        _fail(400, "id_number fails the GB 11643 check")
    bank_cards = _typed(body, "bank_cards", list, [])
    if not all(isinstance(card, str) and is_valid_bank_card(card) for card in bank_cards):
        _fail(400, "bank_cards must be Luhn-valid card numbers")
    with current_sandbox().lock:
        gov = gov_identity.registers()
        person = gov.add_person(name, id_number or gov.next_free_id_number(), _typed(body, "phone", str), bank_cards)
        return json_response(person.describe(), 201)


@blueprint.get("/gov/enterprises")
def list_enterprises() -> Response:
    with current_sandbox().lock:
        return json_response({"enterprises": [e.describe() for e in gov_identity.registers().enterprises.values()]})


@blueprint.post("/gov/enterprises")
def add_enterprise() -> Response:
    body = _body()
    name = _typed(body, "name", str)
    legal_rep = _typed(body, "legal_representative_name", str)
    if not name or not legal_rep:
        _fail(400, "name and legal_representative_name are required")
    uscc = _typed(body, "uscc", str)
    if uscc is not None and not is_valid_uscc(uscc):
        _fail(400, "uscc fails the GB 32100 check")
    status = _typed(body, "status", str, "ACTIVE")
    if status not in ENTERPRISE_STATUS_TEXT:
        _fail(400, f"status must be one of {', '.join(ENTERPRISE_STATUS_TEXT)}")
    with current_sandbox().lock:
        gov = gov_identity.registers()
        enterprise = gov.add_enterprise(
            uscc or gov.next_free_uscc(),
            name,
            legal_rep,
            status,
            _typed(body, "region_code", str, "150102"),
            _typed(body, "entity_type", str, "有限责任公司"),
            _typed(body, "legal_representative_id_number", str),
        )
        return json_response(enterprise.describe(), 201)


@blueprint.post("/gov/sso-ticket")
def gov_sso_ticket() -> Response:
    """The ticket the government portal hands back after the user logs in
    there (natural person, or with `uscc` a legal-person login)."""
    body = _body()
    sandbox = current_sandbox()
    config = current_app.config["SANDBOX"]
    with sandbox.lock:
        gov = gov_identity.registers()
        id_number = _typed(body, "id_number", str)
        if id_number not in gov.people:
            _fail(404, "id_number is not in the population register")
        uscc = _typed(body, "uscc", str)
        if uscc is not None and uscc not in gov.enterprises:
            _fail(404, "uscc is not in the legal-person register")
        level = _typed(body, "realname_level", int, gov_identity.LEVEL_TWO_FACTOR)
        app_key = _typed(body, "app_key", str) or config["gov_app_keys"][0]
        auth_time = datetime.fromtimestamp(sandbox.clock.now(), alipay.BEIJING).isoformat(timespec="seconds")
        payload = {"id_number": id_number, "uscc": uscc, "realname_level": level, "app_key": app_key, "auth_time": auth_time}
        ticket = gov.codes.issue(gov_identity.SSO_TICKET, payload, config["gov_ticket_ttl_seconds"], length=40)
        return json_response({"ticket": ticket}, 201)


@blueprint.post("/gov/face-token")
def gov_face_token() -> Response:
    """Stands for a completed liveness capture; same_person=false simulates
    someone else in front of the camera."""
    body = _body()
    with current_sandbox().lock:
        gov = gov_identity.registers()
        id_number = _typed(body, "id_number", str)
        if id_number not in gov.people:
            _fail(404, "id_number is not in the population register")
        payload = {"id_number": id_number, "same_person": bool(_typed(body, "same_person", bool, True))}
        token = gov.codes.issue(gov_identity.FACE_TOKEN, payload, current_app.config["SANDBOX"]["gov_face_token_ttl_seconds"])
        return json_response({"face_token": token}, 201)


# ---- SMS ----


@blueprint.get("/sms/outbox")
def sms_outbox() -> Response:
    with current_sandbox().lock:
        messages = sms.store().messages(request.args.get("phone"))
        return json_response({"messages": [m.describe() for m in messages]})


@blueprint.delete("/sms/outbox")
def clear_sms_outbox() -> Response:
    with current_sandbox().lock:
        sms.store().outbox.clear()
    return json_response({"messages": []})


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
