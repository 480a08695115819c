"""PIPL: run every flow with logging at DEBUG and scan every record for personal data and secrets."""
from __future__ import annotations

import logging
import traceback

from tests.bff.auth.conftest import BARTER, DAIRY_USCC, bearer

SECRETS = ["wx_sandbox_secret", "gov_sandbox_app_key", "sms_sandbox_app_key"]


def _record_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(record.args), repr(getattr(record, "fields", None)), repr(record.__dict__)]
    if record.exc_info:
        parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


def test_no_personal_data_or_secret_reaches_any_log_record(caplog, citizen, drive, operator):
    caplog.set_level(logging.DEBUG)
    for name in ("msb", "msb.auth", "msb.request", "auth", "bff"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    sensitive: set[str] = set(SECRETS) | {BARTER["id_number"], BARTER["phone"], operator["password"]}

    user = drive.wechat_user(phone=BARTER["phone"])
    sensitive |= set(user["openids"].values()) | ({user["unionid"]} if user.get("unionid") else set())
    wx_code = drive.wechat_login_code(user["user_id"])
    sensitive.add(wx_code)
    wechat = citizen.ok(citizen.post("/v1/auth/wechat/login", {"code": wx_code}))
    phone_code = drive.wechat_phone_code(user["user_id"])
    sensitive.add(phone_code)
    citizen.ok(citizen.post("/v1/auth/wechat/phone", {"code": phone_code}, wechat["access_token"]))
    citizen.post("/v1/auth/wechat/login", {"code": wx_code})  # used code
    citizen.ok(citizen.post("/v1/auth/sms/send", {"phone": BARTER["phone"]}))
    sms_code = drive.sms_code(BARTER["phone"])
    sensitive.add(sms_code)
    citizen.post("/v1/auth/app/login", {"phone": BARTER["phone"], "sms_code": "000000" if sms_code != "000000" else "111111"})
    app = citizen.ok(citizen.post("/v1/auth/app/login", {"phone": BARTER["phone"], "sms_code": sms_code}))
    alipay_user = drive.alipay_user()
    sensitive |= set(alipay_user["open_ids"].values()) | {alipay_user["user_id"]}
    alipay = citizen.alipay_login(alipay_user["user_id"])
    citizen.verify(wechat["access_token"], BARTER["name"], BARTER["id_number"])
    citizen.post("/v1/me/realname", {"name": "张伟", "id_number": BARTER["id_number"]}, alipay["access_token"])
    citizen.post("/v1/me/realname", {"name": BARTER["name"], "id_number": BARTER["id_number"][:-1] + "9"}, alipay["access_token"])
    link = citizen.ok(citizen.post("/v1/me/enterprises", {"uscc": DAIRY_USCC}, wechat["access_token"]), 201)
    citizen.me(wechat["access_token"], headers={"X-Acting-For": link["id"]})
    citizen.ok(citizen.post("/v1/me/acting-for", {"enterprise_id": link["id"]}, wechat["access_token"]))
    rotated = citizen.ok(citizen.post("/v1/auth/refresh", {"refresh_token": app["refresh_token"]}))
    citizen.ok(citizen.post("/v1/auth/refresh", {"refresh_token": rotated["refresh_token"]}))
    citizen.post("/v1/auth/refresh", {"refresh_token": app["refresh_token"]})  # reuse: family revoked
    citizen.get("/v1/me", headers=bearer(wechat["access_token"][:-3] + "abc"))
    citizen.post("/v1/auth/logout", {"all_devices": True}, wechat["access_token"])
    op = citizen.ok(citizen.post("/v1/admin/auth/login", {"username": operator["username"], "password": operator["password"]}))
    citizen.post("/v1/admin/auth/login", {"username": operator["username"], "password": "not the password"})
    citizen.ok(citizen.get("/v1/admin/me", op["access_token"]))
    for pair in (wechat, app, alipay, rotated, op):
        sensitive |= {pair["access_token"], pair["refresh_token"]}

    assert len(caplog.records) > 40
    assert any(r.levelno == logging.DEBUG for r in caplog.records) or logging.getLogger().level == logging.DEBUG
    text = "\n".join(_record_text(record) for record in caplog.records)
    leaked = sorted(value[:12] + "…" for value in sensitive if value and value in text)
    assert not leaked, f"found in logs: {leaked}"
    for word in ("session_key", "巴特尔", "js_code", "secret="):
        assert word not in text, word
