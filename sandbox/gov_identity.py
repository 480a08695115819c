"""Government unified identity platform stand-in (统一身份认证 / 实名核验).

No public spec exists, so the shape is our own, following the common
pattern (identity-and-security.md §6): app-key-authenticated REST calls,
real-name verification against the population register, the legal-person
register, and single-use SSO tickets exchanged server-side for user info.
Documented in sandbox/README.md."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from sandbox.checkdigits import is_valid_bank_card, is_valid_id_number, is_valid_uscc
from sandbox.common import current_sandbox, enter_endpoint, json_body, json_response
from sandbox.gov_registers import GovRegisters, Person
from sandbox.state import CodeOutcome, Fault, Sandbox, request_id

blueprint = Blueprint("sandbox_gov", __name__, url_prefix="/gov")

APP_KEY_HEADER = "X-App-Key"

VERIFY2 = "gov.realname.verify2"
VERIFY4 = "gov.realname.verify4"
VERIFY_FACE = "gov.realname.verify_face"
ENTERPRISE = "gov.enterprise.get"
LEGAL_REP = "gov.enterprise.legal_rep_verify"
TICKET_EXCHANGE = "gov.sso.ticket_exchange"
ENDPOINTS = (VERIFY2, VERIFY4, VERIFY_FACE, ENTERPRISE, LEGAL_REP, TICKET_EXCHANGE)

SSO_TICKET = "gov.sso_ticket"
FACE_TOKEN = "gov.face_token"

# Verification outcomes: result + result_code.
MATCH = ("MATCH", "1000")
MISMATCH = ("MISMATCH", "2001")
NOT_FOUND = ("NOT_FOUND", "2002")

# Real-name level granted by a successful check (Guangdong scale): name + ID
# against the population register is 三级; person, name and document agreeing
# (实人, face check) is 四级.
LEVEL_TWO_FACTOR = 3
LEVEL_FACE = 4

ID_TYPE_RESIDENT_CARD = "111"  # GA/T 2000.156 居民身份证
PHONE_PATTERN = re.compile(r"^1[3-9]\d{9}$")


def gov_error(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}, "request_id": request_id()}, status)


def gov_ok(body: dict[str, Any]) -> Response:
    return json_response({**body, "request_id": request_id()})


def render_fault(fault: Fault) -> Response:
    return gov_error(
        fault.http_status or 503,
        str(fault.error.get("code", "SERVICE_UNAVAILABLE")),
        str(fault.error.get("message", "服务暂不可用，请稍后重试")),
    )


def registers() -> GovRegisters:
    return current_app.extensions["sandbox.gov"]


def _authorised_app_key() -> str | None:
    presented = request.headers.get(APP_KEY_HEADER, "")
    for key in current_app.config["SANDBOX"]["gov_app_keys"]:
        if presented and secrets.compare_digest(presented, key):
            return key
    return None


def _begin(endpoint: str) -> Response | str:
    """Shared preamble: count / inject faults, then authenticate the relying
    party. Returns the app key or the error response."""
    injected = enter_endpoint(endpoint, render_fault)
    if injected:
        return injected
    app_key = _authorised_app_key()
    if app_key is None:
        return gov_error(401, "UNAUTHORIZED", f"缺少或无效的 {APP_KEY_HEADER}")
    return app_key


def _identity_fields(body: dict[str, Any] | None) -> Response | tuple[dict[str, Any], str, str]:
    if body is None:
        return gov_error(400, "INVALID_REQUEST", "请求体必须是 JSON 对象")
    name, id_number = body.get("name"), body.get("id_number")
    if not isinstance(name, str) or not name.strip() or not isinstance(id_number, str):
        return gov_error(400, "INVALID_REQUEST", "name 和 id_number 必填")
    if not is_valid_id_number(id_number):
        return gov_error(400, "INVALID_ID_NUMBER", "身份证号码格式或校验位错误")
    return body, name.strip(), id_number


def _verdict(result: tuple[str, str], **extra: Any) -> Response:
    body: dict[str, Any] = {"result": result[0], "result_code": result[1], **extra}
    return gov_ok(body)


@blueprint.post("/realname/verify2")
def verify_two_factor() -> Response:
    begun = _begin(VERIFY2)
    if isinstance(begun, Response):
        return begun
    fields = _identity_fields(json_body())
    if isinstance(fields, Response):
        return fields
    _, name, id_number = fields
    with current_sandbox().lock:
        person = registers().people.get(id_number)
    if person is None:
        return _verdict(NOT_FOUND)
    if person.name != name:
        return _verdict(MISMATCH)
    return _verdict(MATCH, realname_level=LEVEL_TWO_FACTOR)


@blueprint.post("/realname/verify4")
def verify_four_factor() -> Response:
    """Name + ID number + phone (carrier real-name record) + optional bank card."""
    begun = _begin(VERIFY4)
    if isinstance(begun, Response):
        return begun
    fields = _identity_fields(json_body())
    if isinstance(fields, Response):
        return fields
    body, name, id_number = fields
    phone, bank_card = body.get("phone"), body.get("bank_card")
    if not isinstance(phone, str) or not PHONE_PATTERN.match(phone):
        return gov_error(400, "INVALID_PHONE", "手机号码格式错误")
    if bank_card is not None and (not isinstance(bank_card, str) or not is_valid_bank_card(bank_card)):
        return gov_error(400, "INVALID_BANK_CARD", "银行卡号格式或校验位错误")
    with current_sandbox().lock:
        person = registers().people.get(id_number)
    if person is None:
        return _verdict(NOT_FOUND)
    details = {
        "name": "MATCH" if person.name == name else "MISMATCH",
        "phone": "MATCH" if person.phone == phone else "MISMATCH",
        "bank_card": "NOT_CHECKED" if bank_card is None else ("MATCH" if bank_card in person.bank_cards else "MISMATCH"),
    }
    if "MISMATCH" in details.values():
        return _verdict(MISMATCH, details=details)
    return _verdict(MATCH, details=details, realname_level=LEVEL_TWO_FACTOR)


@blueprint.post("/realname/verify-face")
def verify_face() -> Response:
    """实人核验: the face_token stands for the liveness capture a client SDK
    would upload; the drive API issues it for a person."""
    begun = _begin(VERIFY_FACE)
    if isinstance(begun, Response):
        return begun
    fields = _identity_fields(json_body())
    if isinstance(fields, Response):
        return fields
    body, name, id_number = fields
    face_token = body.get("face_token")
    if not isinstance(face_token, str) or not face_token:
        return gov_error(400, "INVALID_REQUEST", "face_token 必填")
    with current_sandbox().lock:
        outcome, payload = registers().codes.redeem(face_token, FACE_TOKEN)
        person = registers().people.get(id_number)
    if outcome is not CodeOutcome.OK or payload is None:
        return gov_error(400, "FACE_TOKEN_INVALID", "人脸核验凭证无效、已使用或已过期")
    if person is None:
        return _verdict(NOT_FOUND)
    details = {
        "name": "MATCH" if person.name == name else "MISMATCH",
        "face": "MATCH" if payload["id_number"] == id_number and payload["same_person"] else "MISMATCH",
    }
    if "MISMATCH" in details.values():
        return _verdict(MISMATCH, details=details)
    return _verdict(MATCH, details=details, realname_level=LEVEL_FACE)


@blueprint.get("/enterprise/<uscc>")
def get_enterprise(uscc: str) -> Response:
    begun = _begin(ENTERPRISE)
    if isinstance(begun, Response):
        return begun
    if not is_valid_uscc(uscc):
        return gov_error(400, "INVALID_USCC", "统一社会信用代码格式或校验位错误")
    with current_sandbox().lock:
        enterprise = registers().enterprises.get(uscc)
    if enterprise is None:
        return gov_error(404, "ENTERPRISE_NOT_FOUND", "法人库中无此统一社会信用代码")
    return gov_ok({"enterprise": enterprise.describe()})


@blueprint.post("/enterprise/legal-representative/verify")
def verify_legal_representative() -> Response:
    """The register's match API: name AND ID number against the registered legal representative.
    Answers ``match`` only: neither the representative's name nor number leaks through it."""
    begun = _begin(LEGAL_REP)
    if isinstance(begun, Response):
        return begun
    fields = _identity_fields(json_body())
    if isinstance(fields, Response):
        return fields
    body, name, id_number = fields
    uscc = body.get("uscc")
    if not isinstance(uscc, str) or not is_valid_uscc(uscc):
        return gov_error(400, "INVALID_USCC", "统一社会信用代码格式或校验位错误")
    with current_sandbox().lock:
        enterprise = registers().enterprises.get(uscc)
    if enterprise is None:
        return gov_error(404, "ENTERPRISE_NOT_FOUND", "法人库中无此统一社会信用代码")
    match = (
        enterprise.legal_representative_id_number is not None
        and secrets.compare_digest(enterprise.legal_representative_id_number, id_number)
        and enterprise.legal_representative_name == name
    )
    return gov_ok({"match": match})


def _natural_person(person: Person, level: int) -> dict[str, Any]:
    # The relying party receives the full ID number; masking is its job.
    return {
        "gov_uid": person.gov_uid,
        "name": person.name,
        "id_type": ID_TYPE_RESIDENT_CARD,
        "id_number": person.id_number,
        "phone": person.phone,
        "realname_level": level,
    }


@blueprint.post("/sso/ticket/exchange")
def exchange_ticket() -> Response:
    begun = _begin(TICKET_EXCHANGE)
    if isinstance(begun, Response):
        return begun
    app_key = begun
    body = json_body()
    ticket = body.get("ticket") if body else None
    if not isinstance(ticket, str) or not ticket:
        return gov_error(400, "INVALID_REQUEST", "ticket 必填")
    gov = registers()
    with current_sandbox().lock:
        outcome, payload = gov.codes.peek(ticket, SSO_TICKET)
        # A ticket is minted for one relying party; another app cannot redeem it.
        if outcome is CodeOutcome.UNKNOWN or payload is None or payload["app_key"] != app_key:
            return gov_error(400, "TICKET_INVALID", "票据无效")
        if outcome is CodeOutcome.USED:
            return gov_error(400, "TICKET_USED", "票据已使用")
        if outcome is CodeOutcome.EXPIRED:
            return gov_error(400, "TICKET_EXPIRED", "票据已过期")
        gov.codes.consume(ticket)
        person = gov.people[payload["id_number"]]
        user: dict[str, Any] = {
            "user_type": "NATURAL_PERSON",
            **_natural_person(person, payload["realname_level"]),
            "auth_time": payload["auth_time"],
        }
        if payload.get("uscc"):
            # Legal-person login: the natural person above is the operator (经办人).
            enterprise = gov.enterprises[payload["uscc"]]
            user["user_type"] = "LEGAL_PERSON"
            user["enterprise"] = {
                "uscc": enterprise.uscc,
                "name": enterprise.name,
                "status": enterprise.status,
                "is_legal_representative": enterprise.legal_representative_id_number == person.id_number,
            }
    return gov_ok({"user": user})


def init_app(app: Flask, sandbox: Sandbox) -> None:
    gov = GovRegisters(sandbox, app.config["SANDBOX"])
    sandbox.register_store(gov)
    sandbox.register_endpoints(*ENDPOINTS)
    app.extensions["sandbox.gov"] = gov
    app.register_blueprint(blueprint)
