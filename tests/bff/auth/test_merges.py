"""Cross-channel account resolution: unionid (see test_logins), phone, real name."""
from __future__ import annotations

from tests.bff.auth.conftest import BARTER, assert_envelope


def test_wechat_phone_button_then_app_sms_login_is_the_same_account(citizen, drive):
    user, wechat = citizen.new_wechat(phone="13900471011")
    token = wechat["access_token"]
    bound = citizen.post("/v1/auth/wechat/phone", {"code": drive.wechat_phone_code(user["user_id"])}, token)
    body = citizen.ok(bound)
    assert bound.headers["Cache-Control"] == "no-store"
    assert body["account"]["id"] == wechat["account"]["id"]
    assert sorted(body["account"]["bindings"]) == ["phone", "wechat"]
    app = citizen.sms_login("13900471011")
    assert app["account"]["id"] == wechat["account"]["id"]
    me = citizen.me(app["access_token"])
    assert {b["channel"] for b in me["bindings"]} == {"wechat", "phone"}
    assert me["phones_masked"] == ["139****1011"]


def test_phone_button_merges_into_the_app_account_that_already_has_the_phone(citizen, drive):
    app = citizen.sms_login("13900471012")
    user, wechat = citizen.new_wechat(phone="13900471012")
    assert wechat["account"]["id"] != app["account"]["id"]
    body = citizen.ok(
        citizen.post("/v1/auth/wechat/phone", {"code": drive.wechat_phone_code(user["user_id"])}, wechat["access_token"])
    )
    survivor = body["account"]["id"]
    assert survivor in (app["account"]["id"], wechat["account"]["id"])
    assert sorted(body["account"]["bindings"]) == ["phone", "wechat"]
    # both sessions keep working and now see the one account
    assert citizen.me(wechat["access_token"])["id"] == survivor
    assert citizen.me(app["access_token"])["id"] == survivor


def test_used_phone_code_is_refused(citizen, drive):
    user, wechat = citizen.new_wechat(phone="13900471013")
    code = drive.wechat_phone_code(user["user_id"])
    citizen.ok(citizen.post("/v1/auth/wechat/phone", {"code": code}, wechat["access_token"]))
    assert_envelope(citizen.post("/v1/auth/wechat/phone", {"code": code}, wechat["access_token"]), 401, "code_used")


def test_realname_raises_the_level_and_a_second_account_merges_only_after_proof(citizen, drive):
    wechat_user, wechat = citizen.new_wechat()
    alipay_user, alipay = citizen.new_alipay()
    first = citizen.verify(wechat["access_token"], BARTER["name"], BARTER["id_number"])
    assert first["realname_level"] == 3 and first["realname_level_name"] == "三级" and first["merged"] is False
    # the same person on a second account: refused until proven, then merged into the holder
    conflict = citizen.post("/v1/me/realname", {"name": BARTER["name"], "id_number": BARTER["id_number"]}, alipay["access_token"])
    body = assert_envelope(conflict, 409, "realname_bound_elsewhere")
    assert body["errors"]["methods"] == ["face"]  # the holder has no phone bound
    assert citizen.me(alipay["access_token"])["id"] == alipay["account"]["id"]
    claim = citizen.start_claim(alipay["access_token"], "face")
    pair = citizen.ok(citizen.confirm_claim(alipay["access_token"], claim["claim_id"], face_token=drive.face_token(BARTER["id_number"])))
    assert pair["account"]["id"] == wechat["account"]["id"]  # the holder's account lives on
    me = citizen.me(pair["access_token"])
    assert me["id"] == wechat["account"]["id"]
    # the holder had proven only knowledge of the name and number, so its WeChat login goes with the
    # face check (it may have been an attacker's); the person signs in with WeChat again and claims once
    # more, now against a 四级 holder: a plain merge, nothing removed, no ping-pong
    assert {b["channel"] for b in me["bindings"]} == {"alipay", "realname"}
    assert me["realname_level"] == 4  # the face check is 四级
    assert me["id_number_masked"] != BARTER["id_number"] and me["id_number_masked"].startswith("1")
    assert "巴特尔" not in (me["name_masked"] or "")
    assert_envelope(citizen.get("/v1/me", wechat["access_token"]), 401)
    again = citizen.wechat_login(wechat_user["user_id"])
    assert again["account"]["id"] != me["id"]
    assert_envelope(citizen.post("/v1/me/realname", {"name": BARTER["name"], "id_number": BARTER["id_number"]},
                                 again["access_token"]), 409, "realname_bound_elsewhere")
    claim = citizen.start_claim(again["access_token"], "face")
    joined = citizen.ok(citizen.confirm_claim(again["access_token"], claim["claim_id"],
                                              face_token=drive.face_token(BARTER["id_number"])))
    assert joined["account"]["id"] == me["id"]
    assert {b["channel"] for b in citizen.me(joined["access_token"])["bindings"]} == {"wechat", "alipay", "realname"}
    # a fresh login on either channel lands on the survivor
    assert citizen.alipay_login(alipay_user["user_id"])["account"]["id"] == me["id"]
    assert citizen.wechat_login(wechat_user["user_id"])["account"]["id"] == me["id"]


def test_bad_check_digit_is_422_without_an_upstream_call(citizen, drive):
    _, wechat = citizen.new_wechat()
    before = drive.counters().get("gov.realname.verify2", 0)
    response = citizen.post(
        "/v1/me/realname", {"name": BARTER["name"], "id_number": BARTER["id_number"][:-1] + "9"}, wechat["access_token"]
    )
    body = assert_envelope(response, 422, "invalid_id_number")
    assert body["errors"] == {"field": "id_number"}
    assert drive.counters().get("gov.realname.verify2", 0) == before


def test_realname_mismatch_is_generic(citizen):
    _, wechat = citizen.new_wechat()
    response = citizen.post("/v1/me/realname", {"name": "张伟", "id_number": BARTER["id_number"]}, wechat["access_token"])
    assert_envelope(response, 422, "realname_mismatch")
    assert citizen.me(wechat["access_token"])["realname_level"] == 2


def test_unbinding_keeps_the_last_login_method(citizen, drive):
    user, wechat = citizen.new_wechat(phone="13900471014")
    token = wechat["access_token"]
    citizen.ok(citizen.post("/v1/auth/wechat/phone", {"code": drive.wechat_phone_code(user["user_id"])}, token))
    response = citizen.client.delete("/v1/me/bindings/phone", headers={"Authorization": f"Bearer {token}"})
    body = citizen.ok(response)
    assert response.headers["Cache-Control"] == "private, no-store"
    assert [b["channel"] for b in body["bindings"]] == ["wechat"]
    last = citizen.client.delete("/v1/me/bindings/wechat", headers={"Authorization": f"Bearer {token}"})
    assert_envelope(last, 409, "last_binding")
    missing = citizen.client.delete("/v1/me/bindings/alipay", headers={"Authorization": f"Bearer {token}"})
    assert_envelope(missing, 404, "binding_not_found")
    unknown = citizen.client.delete("/v1/me/bindings/realname", headers={"Authorization": f"Bearer {token}"})
    assert_envelope(unknown, 404)
