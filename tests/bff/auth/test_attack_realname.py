"""Issue 9 §1 as an attacker would try it, over HTTP against the real app and the sandbox.

The attacker knows the victim's name and ID number (三级 data that leaks in bulk) and nothing else.
Whatever the order of events, that must never open the victim's account, its data, its enterprise or
its sessions; the victim is told on every channel and can throw the attacker out.
"""
from __future__ import annotations

from tests.bff.auth.conftest import BARTER, DAIRY_USCC, assert_envelope, bearer

VICTIM = {"name": BARTER["name"], "id_number": BARTER["id_number"]}
VICTIM_PHONE = BARTER["phone"]


def _victim_with_phone(citizen, drive) -> dict:
    """The victim on WeChat with their phone bound by the phone button (no SMS spent)."""
    user, login = citizen.new_wechat(phone=VICTIM_PHONE)
    citizen.ok(citizen.post("/v1/auth/wechat/phone", {"code": drive.wechat_phone_code(user["user_id"])}, login["access_token"]))
    return login


def _security_notices(citizen, token: str) -> list[dict]:
    return [item for item in citizen.inbox(token) if item["category"] == "security"]


def _sms_notices(drive, phone: str) -> list[str]:
    return [m["text"] for m in drive.sms_messages(phone) if m["template"] == "SMS_SECURITY_NOTICE"]


def _other_code(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_victim_verified_first_the_attacker_gets_nothing(citizen, drive, service):
    victim = _victim_with_phone(citizen, drive)
    citizen.verify(victim["access_token"], **VICTIM)
    enterprise = citizen.ok(citizen.post("/v1/me/enterprises", {"uscc": DAIRY_USCC}, victim["access_token"]), 201)
    assert enterprise["role"] == "legal_representative"

    _, attacker = citizen.new_wechat()
    token = attacker["access_token"]
    conflict = assert_envelope(citizen.post("/v1/me/realname", VICTIM, token), 409, "realname_bound_elsewhere")
    assert conflict["errors"]["methods"] == ["sms", "face"]
    assert conflict["errors"]["phone_masked"] == "138****1001"
    assert VICTIM_PHONE not in str(conflict) and VICTIM["id_number"] not in str(conflict)

    # the attacker's account stays apart: its own id, level 2, no ID number, none of the victim's data
    me = citizen.me(token)
    assert me["id"] == attacker["account"]["id"] != victim["account"]["id"]
    assert (me["realname_level"], me["id_number_masked"], me["name_masked"]) == (2, None, None)
    assert me["enterprises"] == [] and me["phones_masked"] == []
    assert [b["channel"] for b in me["bindings"]] == ["wechat"]
    assert _security_notices(citizen, token) == []
    # … and cannot act for the victim's enterprise or approve agents for it
    assert_envelope(citizen.get("/v1/me", token, headers={"X-Acting-For": enterprise["id"]}), 403, "enterprise_link_required")
    approve = f"/v1/me/enterprises/{enterprise['id']}/agents/approve"
    assert_envelope(citizen.post(approve, {"account_id": attacker["account"]["id"]}, token), 403, "enterprise_link_required")

    # the SMS claim sends the code to the VICTIM's phone: guessing burns the claim
    claim = citizen.start_claim(token, "sms")
    assert claim["phone_masked"] == "138****1001" and claim["attempts_left"] == 5
    sent = drive.sms_messages(VICTIM_PHONE)[-1]
    assert sent["template"] == "SMS_CLAIM_CODE" and "如不是您本人申请" in sent["text"]
    wrong = _other_code(sent["params"]["code"])
    for left in (4, 3, 2, 1, 0):
        body = assert_envelope(citizen.confirm_claim(token, claim["claim_id"], code=wrong), 422, "claim_proof_invalid")
        assert body["errors"] == {"attempts_left": left}
    assert_envelope(citizen.confirm_claim(token, claim["claim_id"], code=sent["params"]["code"]), 404, "claim_not_found")
    # another account cannot use the claim either, and the attacker's own face is not the victim's
    face_claim = citizen.start_claim(token, "face")
    stranger_face = drive.face_token(VICTIM["id_number"], same_person=False)
    assert_envelope(citizen.confirm_claim(token, face_claim["claim_id"], face_token=stranger_face), 422, "claim_proof_invalid")

    # nothing moved; the victim keeps everything and was told about the attempt
    assert citizen.me(token)["id"] == attacker["account"]["id"]
    victim_me = citizen.me(victim["access_token"])
    assert {b["channel"] for b in victim_me["bindings"]} == {"wechat", "phone", "realname"}
    assert victim_me["enterprises"] == [enterprise]
    notices = _security_notices(citizen, victim["access_token"])
    assert any("尝试" in n["title"] and "这不是我" in n["text"] and "12345" in n["text"] for n in notices)
    assert service.accounts.resolve(attacker["account"]["id"]) == attacker["account"]["id"]


def test_the_rightful_second_account_merges_after_the_code_on_the_holders_phone(citizen, drive):
    victim = _victim_with_phone(citizen, drive)
    citizen.verify(victim["access_token"], **VICTIM)
    # re-verifying on the own account is free and changes nothing
    before = drive.counters().get("gov.realname.verify2", 0)
    assert citizen.verify(victim["access_token"], **VICTIM)["account_id"] == victim["account"]["id"]
    assert drive.counters().get("gov.realname.verify2", 0) == before

    alipay_user, alipay = citizen.new_alipay()
    assert_envelope(citizen.post("/v1/me/realname", VICTIM, alipay["access_token"]), 409, "realname_bound_elsewhere")
    claim = citizen.start_claim(alipay["access_token"], "sms")
    code = drive.sms_messages(VICTIM_PHONE)[-1]["params"]["code"]
    pair = citizen.ok(citizen.confirm_claim(alipay["access_token"], claim["claim_id"], code=code))
    assert pair["account"]["id"] == victim["account"]["id"]
    assert sorted(pair["account"]["bindings"]) == ["alipay", "phone", "realname", "wechat"]
    # the calling session ended; the fresh pair and the holder's own session see the one account
    assert_envelope(citizen.get("/v1/me", alipay["access_token"]), 401)
    assert citizen.me(pair["access_token"])["id"] == victim["account"]["id"]
    assert citizen.alipay_login(alipay_user["user_id"])["account"]["id"] == victim["account"]["id"]
    # the code is burned
    assert_envelope(citizen.confirm_claim(pair["access_token"], claim["claim_id"], code=code), 404, "claim_not_found")
    # the holder is told of the merge on every channel: inbox and SMS, with what to do if it was not them
    assert any("合并" in n["title"] for n in _security_notices(citizen, victim["access_token"]))
    texts = _sms_notices(drive, VICTIM_PHONE)
    assert any("与另一个账号合并了" in t and "12345" in t and "这不是我" in t for t in texts)


def test_attacker_verified_first_loses_the_account_to_the_victims_face(citizen, drive, service):
    # the attacker gets to the ID number first, on a fresh WeChat account with their own phone
    attacker_user, attacker = citizen.new_wechat(phone="13900479999")
    citizen.ok(citizen.post("/v1/auth/wechat/phone", {"code": drive.wechat_phone_code(attacker_user["user_id"])}, attacker["access_token"]))
    citizen.verify(attacker["access_token"], **VICTIM)

    # the victim logs in: their own account, nothing of theirs visible to the attacker
    victim = _victim_with_phone(citizen, drive)
    assert victim["account"]["id"] != attacker["account"]["id"]
    assert citizen.me(attacker["access_token"])["phones_masked"] == ["139****9999"]
    # verifying: refused, and the SMS option would go to the attacker's phone, so the victim uses face
    conflict = assert_envelope(citizen.post("/v1/me/realname", VICTIM, victim["access_token"]), 409, "realname_bound_elsewhere")
    assert conflict["errors"]["phone_masked"] == "139****9999"
    own = {b["id"] for b in citizen.me(victim["access_token"])["bindings"]}
    claim = citizen.start_claim(victim["access_token"], "face")
    stranger = drive.face_token(VICTIM["id_number"], same_person=False)
    assert_envelope(citizen.confirm_claim(victim["access_token"], claim["claim_id"], face_token=stranger), 422, "claim_proof_invalid")
    merged = citizen.ok(citizen.confirm_claim(victim["access_token"], claim["claim_id"], face_token=drive.face_token(VICTIM["id_number"])))
    token = merged["access_token"]

    # the holder had only ever proved knowledge of the name and number: with the victim's face check
    # its login methods are gone and every one of its sessions ends at once
    me = citizen.me(token)
    assert me["realname_level"] == 4
    assert {b["id"] for b in me["bindings"] if b["channel"] != "realname"} == own
    assert {b["masked"] for b in me["bindings"] if b["channel"] == "phone"} == {"138****1001"}
    assert_envelope(citizen.get("/v1/me", attacker["access_token"]), 401)
    assert_envelope(citizen.post("/v1/auth/refresh", {"refresh_token": attacker["refresh_token"]}), 401)

    # the attacker logging in again lands on a bare new account and cannot claim the number back
    again = citizen.wechat_login(attacker_user["user_id"])
    assert again["account"]["id"] != me["id"] and again["account"]["realname_level"] == 2
    assert_envelope(citizen.post("/v1/me/realname", VICTIM, again["access_token"]), 409, "realname_bound_elsewhere")
    back = citizen.start_claim(again["access_token"], "face")
    assert_envelope(citizen.confirm_claim(again["access_token"], back["claim_id"], face_token=stranger), 422, "claim_proof_invalid")
    # the victim re-verifying stays on their account; the eviction is audited and announced
    assert citizen.verify(token, **VICTIM)["account_id"] == me["id"]
    events = [e for e in service.audit.recent(me["id"], limit=50) if e.event == "recovery"]
    assert events and events[0].detail["evicted"] == "2"
    assert any("移除" in t for t in _sms_notices(drive, VICTIM_PHONE))


def test_a_code_tricked_out_of_the_victim_is_undone_by_recovery(citizen, drive, service):
    """这不是我: a caller talks the victim into reading out the code sent for a claim (the common fraud
    against elderly people). The merge happens; the victim's face check throws the caller out."""
    victim = _victim_with_phone(citizen, drive)
    citizen.verify(victim["access_token"], **VICTIM)
    attacker_user, attacker = citizen.new_wechat()
    assert_envelope(citizen.post("/v1/me/realname", VICTIM, attacker["access_token"]), 409, "realname_bound_elsewhere")
    claim = citizen.start_claim(attacker["access_token"], "sms")
    code = drive.sms_messages(VICTIM_PHONE)[-1]["params"]["code"]  # read out over the phone
    taken = citizen.ok(citizen.confirm_claim(attacker["access_token"], claim["claim_id"], code=code))
    assert taken["account"]["id"] == victim["account"]["id"]
    assert any("合并" in n["title"] for n in _security_notices(citizen, victim["access_token"]))

    token = victim["access_token"]
    me = citizen.me(token)
    own = {b["id"] for b in me["bindings"] if b["channel"] == "phone"} | {
        b["id"] for b in me["bindings"] if b["channel"] == "wechat" and b["id"] != _binding_of(me, attacker_user)}
    foreign = [b["id"] for b in me["bindings"] if b["channel"] != "realname" and b["id"] not in own]
    assert len(foreign) == 1  # the attacker's WeChat

    # this device's own login method cannot be evicted from it (checked before any face check)
    own_wechat = next(b for b in own if b.startswith("wechat:"))
    mine = citizen.post("/v1/me/recovery", {"face_token": "f" * 32, "evict_bindings": [own_wechat]}, token)
    assert_envelope(mine, 409, "recovery_refused")
    # a stranger's face evicts nothing; the victim's own face does, and every session ends
    refused = citizen.post("/v1/me/recovery", {"face_token": drive.face_token(VICTIM["id_number"], same_person=False), "evict_bindings": foreign}, token)
    assert_envelope(refused, 422, "face_check_failed")
    assert len(citizen.me(token)["bindings"]) == len(me["bindings"])  # nothing evicted
    recovered = citizen.ok(citizen.post("/v1/me/recovery", {"face_token": drive.face_token(VICTIM["id_number"]), "evict_bindings": foreign}, token))
    assert recovered["account"]["id"] == me["id"] and sorted(recovered["account"]["bindings"]) == ["phone", "realname", "wechat"]
    assert_envelope(citizen.get("/v1/me", taken["access_token"]), 401)  # the attacker's token refused at once
    assert_envelope(citizen.post("/v1/auth/refresh", {"refresh_token": taken["refresh_token"]}), 401)
    assert_envelope(citizen.get("/v1/me", token), 401)  # every session, the caller's old one too
    assert citizen.wechat_login(attacker_user["user_id"])["account"]["id"] != me["id"]
    events = [e for e in service.audit.recent(me["id"], limit=50) if e.event == "recovery"]
    assert [e.outcome for e in events][:2] == ["success", "failure"] and events[0].detail["evicted"] == "1"
    assert any("移除" in t for t in _sms_notices(drive, VICTIM_PHONE))


def _binding_of(me: dict, wechat_user: dict) -> str | None:
    """The binding id of ``wechat_user``'s WeChat on the account, if any (bindings are listed masked)."""
    wechat = [b["id"] for b in me["bindings"] if b["channel"] == "wechat"]
    return wechat[-1] if len(wechat) > 1 else None


def test_one_id_number_tried_from_ten_fresh_accounts_hits_the_limit(citizen, drive):
    victim = _victim_with_phone(citizen, drive)
    citizen.verify(victim["access_token"], **VICTIM)  # counts once against the number
    before = drive.counters().get("gov.realname.verify2", 0)
    statuses, retry_after = [], None
    for _ in range(10):
        _, fresh = citizen.new_wechat()
        response = citizen.post("/v1/me/realname", VICTIM, fresh["access_token"])
        statuses.append(response.status_code)
        if response.status_code == 429:
            body = assert_envelope(response, 429, "rate_limited")
            retry_after = int(response.headers["Retry-After"])
            assert body["errors"]["retry_after"] == retry_after
    assert statuses == [409] * 4 + [429] * 6
    assert 0 < retry_after <= 86_400
    assert drive.counters().get("gov.realname.verify2", 0) - before == 4  # refused before the upstream
    # the holder's own account is unaffected
    assert citizen.verify(victim["access_token"], **VICTIM)["realname_level"] == 3


def test_same_name_person_never_becomes_legal_representative(citizen, drive, sandbox):
    namesake = drive.gov_person(name=BARTER["name"])  # another 巴特尔, another ID number
    assert namesake["id_number"] != BARTER["id_number"]
    _, login = citizen.new_wechat()
    citizen.verify(login["access_token"], BARTER["name"], namesake["id_number"])
    link = citizen.ok(citizen.post("/v1/me/enterprises", {"uscc": DAIRY_USCC}, login["access_token"]), 201)
    assert (link["role"], link["status"]) == ("agent", "pending")
    assert_envelope(citizen.get("/v1/me", login["access_token"], headers={"X-Acting-For": link["id"]}), 403, "enterprise_link_required")
    # the real one is matched on name AND number
    real = _victim_with_phone(citizen, drive)
    citizen.verify(real["access_token"], **VICTIM)
    legal = citizen.ok(citizen.post("/v1/me/enterprises", {"uscc": DAIRY_USCC}, real["access_token"]), 201)
    assert (legal["role"], legal["status"]) == ("legal_representative", "active")
    # the register's match API answers yes/no only, never the representative's data
    import requests

    answer = requests.post(
        f"{sandbox}/gov/enterprise/legal-representative/verify",
        json={"uscc": DAIRY_USCC, "name": BARTER["name"], "id_number": namesake["id_number"]},
        headers={"X-App-Key": "gov_sandbox_app_key"}, timeout=5,
    ).json()
    assert set(answer) == {"match", "request_id"} and answer["match"] is False


def test_claim_routes_refuse_junk_and_strangers(citizen, drive):
    _, login = citizen.new_wechat()
    token = login["access_token"]
    assert_envelope(citizen.post("/v1/me/realname/claims", {"method": "sms"}, token), 409, "claim_not_available")
    assert_envelope(citizen.post("/v1/me/realname/claims", {"method": "postcard"}, token), 422)
    assert_envelope(citizen.confirm_claim(token, "A" * 16, code="123456"), 404, "claim_not_found")
    assert_envelope(citizen.confirm_claim(token, "A" * 16, code="123456", face_token="x" * 32), 422)
    assert_envelope(citizen.confirm_claim(token, "../../etc", code="123456"), 404)
    assert_envelope(citizen.post("/v1/me/realname/claims", {"method": "sms"}), 401)
    recovery = citizen.post("/v1/me/recovery", {"face_token": "x" * 32, "evict_bindings": ["wechat:0123456789ab"]}, token)
    assert_envelope(recovery, 403, "realname_level_required")
    assert citizen.client.post("/v1/me/recovery", json={}, headers=bearer(token)).status_code == 422
