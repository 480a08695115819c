from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient

from sandbox.checkdigits import is_valid_bank_card, is_valid_id_number, is_valid_uscc


@pytest.fixture
def gov(client: FlaskClient, known: SimpleNamespace):
    """Calls the identity platform as the BFF would, with its app key."""

    def call(method: str, path: str, body: dict[str, Any] | None = None, key: str | None = known.gov_app_key):
        headers = {"X-App-Key": key} if key else {}
        return client.open(path, method=method, json=body, headers=headers)

    return call


@pytest.fixture
def batu(client: FlaskClient) -> dict[str, Any]:
    """Seeded person 巴特尔 (legal representative of a seeded company)."""
    return next(p for p in client.get("/_drive/gov/people").json["people"] if p["name"] == "巴特尔")


def test_check_digit_samples_from_the_notes() -> None:
    assert is_valid_id_number("11010519491231002X")
    assert not is_valid_id_number("110105194912310021")
    assert not is_valid_id_number("11010519491231002x")
    assert not is_valid_id_number("110105194902300020")  # no 30 February
    assert is_valid_uscc("91350100M000100Y43")
    assert not is_valid_uscc("91350100M000100Y44")
    assert is_valid_bank_card("4111111111111111") and not is_valid_bank_card("4111111111111112")


def test_seeded_registers_are_valid(client: FlaskClient) -> None:
    people = client.get("/_drive/gov/people").json["people"]
    enterprises = client.get("/_drive/gov/enterprises").json["enterprises"]
    assert len(people) >= 5 and len(enterprises) >= 4
    assert all(is_valid_id_number(p["id_number"]) for p in people)
    assert all(is_valid_bank_card(card) for p in people for card in p["bank_cards"])
    assert all(is_valid_uscc(e["uscc"]) for e in enterprises)
    # Deterministic: a second app seeds the same records.
    assert people[0]["id_number"] == "150102198503120010"


def test_app_key_is_required(gov, batu) -> None:
    body = {"name": batu["name"], "id_number": batu["id_number"]}
    for key in (None, "wrong"):
        response = gov("POST", "/gov/realname/verify2", body, key=key)
        assert response.status_code == 401 and response.json["error"]["code"] == "UNAUTHORIZED"


def test_verify2_outcomes(gov, batu) -> None:
    match = gov("POST", "/gov/realname/verify2", {"name": batu["name"], "id_number": batu["id_number"]})
    assert match.status_code == 200
    assert match.json["result"] == "MATCH" and match.json["result_code"] == "1000" and match.json["realname_level"] == 3
    mismatch = gov("POST", "/gov/realname/verify2", {"name": "张三", "id_number": batu["id_number"]}).json
    assert (mismatch["result"], mismatch["result_code"]) == ("MISMATCH", "2001") and "realname_level" not in mismatch
    not_found = gov("POST", "/gov/realname/verify2", {"name": "张三", "id_number": "11010519491231002X"}).json
    assert (not_found["result"], not_found["result_code"]) == ("NOT_FOUND", "2002")


def test_verify2_rejects_bad_check_digit_and_bad_body(gov) -> None:
    bad = gov("POST", "/gov/realname/verify2", {"name": "张三", "id_number": "110105194912310021"})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "INVALID_ID_NUMBER"
    assert gov("POST", "/gov/realname/verify2", {"name": "张三"}).json["error"]["code"] == "INVALID_REQUEST"


def test_verify4_elements(gov, batu) -> None:
    base = {"name": batu["name"], "id_number": batu["id_number"], "phone": batu["phone"]}
    match = gov("POST", "/gov/realname/verify4", {**base, "bank_card": batu["bank_cards"][0]}).json
    assert match["result"] == "MATCH" and match["details"] == {"name": "MATCH", "phone": "MATCH", "bank_card": "MATCH"}
    no_card = gov("POST", "/gov/realname/verify4", base).json
    assert no_card["result"] == "MATCH" and no_card["details"]["bank_card"] == "NOT_CHECKED"
    other_phone = gov("POST", "/gov/realname/verify4", {**base, "phone": "13900000000"}).json
    assert other_phone["result"] == "MISMATCH" and other_phone["details"]["phone"] == "MISMATCH"
    assert gov("POST", "/gov/realname/verify4", {**base, "phone": "12345"}).json["error"]["code"] == "INVALID_PHONE"
    bad_card = gov("POST", "/gov/realname/verify4", {**base, "bank_card": "4111111111111112"}).json
    assert bad_card["error"]["code"] == "INVALID_BANK_CARD"


def test_face_verification_grants_level_four(client: FlaskClient, gov, batu) -> None:
    token = client.post("/_drive/gov/face-token", json={"id_number": batu["id_number"]}).json["face_token"]
    body = {"name": batu["name"], "id_number": batu["id_number"], "face_token": token}
    result = gov("POST", "/gov/realname/verify-face", body).json
    assert result["result"] == "MATCH" and result["realname_level"] == 4
    reused = gov("POST", "/gov/realname/verify-face", body)
    assert reused.status_code == 400 and reused.json["error"]["code"] == "FACE_TOKEN_INVALID"
    impostor = client.post("/_drive/gov/face-token", json={"id_number": batu["id_number"], "same_person": False}).json["face_token"]
    result = gov("POST", "/gov/realname/verify-face", {**body, "face_token": impostor}).json
    assert result["result"] == "MISMATCH" and result["details"]["face"] == "MISMATCH"


def test_enterprise_lookup(gov) -> None:
    record = gov("GET", "/gov/enterprise/91150102MA0N3K7P10")
    assert record.status_code == 200
    enterprise = record.json["enterprise"]
    assert enterprise["name"] == "内蒙古草原云乳业有限公司"
    assert enterprise["legal_representative"] == {"name": "巴特尔"}
    assert (enterprise["status"], enterprise["status_text"]) == ("ACTIVE", "存续")
    assert enterprise["region_code"] == "150102" and enterprise["region_name"].endswith("新城区")
    bad = gov("GET", "/gov/enterprise/91150102MA0N3K7P11")
    assert bad.status_code == 400 and bad.json["error"]["code"] == "INVALID_USCC"
    missing = gov("GET", "/gov/enterprise/91350100M000100Y43")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "ENTERPRISE_NOT_FOUND"


def test_legal_representative_match_needs_name_and_id_number(client: FlaskClient, gov, batu) -> None:
    path = "/gov/enterprise/legal-representative/verify"
    uscc = "91150102MA0N3K7P10"
    real = gov("POST", path, {"uscc": uscc, "name": "巴特尔", "id_number": batu["id_number"]})
    assert real.status_code == 200 and real.json["match"] is True
    assert set(real.json) == {"match", "request_id"}  # never the representative's data
    namesake = client.post("/_drive/gov/people", json={"name": "巴特尔"}).json
    same_name = gov("POST", path, {"uscc": uscc, "name": "巴特尔", "id_number": namesake["id_number"]})
    assert same_name.status_code == 200 and same_name.json == {"match": False, "request_id": same_name.json["request_id"]}
    assert gov("POST", path, {"uscc": uscc, "name": "张伟", "id_number": batu["id_number"]}).json["match"] is False
    bad_uscc = gov("POST", path, {"uscc": "91150102MA0N3K7P11", "name": "巴特尔", "id_number": batu["id_number"]})
    assert bad_uscc.status_code == 400 and bad_uscc.json["error"]["code"] == "INVALID_USCC"
    missing = gov("POST", path, {"uscc": "91350100M000100Y43", "name": "巴特尔", "id_number": batu["id_number"]})
    assert missing.status_code == 404 and missing.json["error"]["code"] == "ENTERPRISE_NOT_FOUND"
    assert gov("POST", path, {"uscc": uscc, "name": "巴特尔", "id_number": batu["id_number"]}, key=None).status_code == 401
    # a drive-added company names its representative's number, or nobody matches
    company = client.post("/_drive/gov/enterprises", json={
        "name": "测试牧业合作社", "legal_representative_name": "巴特尔",
        "legal_representative_id_number": namesake["id_number"]}).json
    assert "legal_representative_id_number" not in str(company)
    assert gov("POST", path, {"uscc": company["uscc"], "name": "巴特尔", "id_number": namesake["id_number"]}).json["match"] is True
    assert gov("POST", path, {"uscc": company["uscc"], "name": "巴特尔", "id_number": batu["id_number"]}).json["match"] is False


def test_registers_are_extendable(client: FlaskClient, gov) -> None:
    person = client.post("/_drive/gov/people", json={"name": "娜仁", "phone": "13700000001"}).json
    assert is_valid_id_number(person["id_number"])
    assert gov("POST", "/gov/realname/verify2", {"name": "娜仁", "id_number": person["id_number"]}).json["result"] == "MATCH"
    assert client.post("/_drive/gov/people", json={"name": "x", "id_number": "110105194912310021"}).status_code == 400

    company = client.post("/_drive/gov/enterprises", json={"name": "测试牧业合作社", "legal_representative_name": "娜仁"}).json
    assert is_valid_uscc(company["uscc"])
    assert gov("GET", f"/gov/enterprise/{company['uscc']}").json["enterprise"]["name"] == "测试牧业合作社"
    client.post("/_drive/reset")
    assert gov("GET", f"/gov/enterprise/{company['uscc']}").status_code == 404


def test_sso_ticket_exchange(client: FlaskClient, gov, batu, clock) -> None:
    ticket = client.post("/_drive/gov/sso-ticket", json={"id_number": batu["id_number"]}).json["ticket"]
    user = gov("POST", "/gov/sso/ticket/exchange", {"ticket": ticket}).json["user"]
    assert user["user_type"] == "NATURAL_PERSON"
    assert user["id_number"] == batu["id_number"]  # the relying party gets the full number
    assert user["name"] == "巴特尔" and user["realname_level"] == 3 and user["id_type"] == "111"
    reused = gov("POST", "/gov/sso/ticket/exchange", {"ticket": ticket})
    assert reused.status_code == 400 and reused.json["error"]["code"] == "TICKET_USED"

    stale = client.post("/_drive/gov/sso-ticket", json={"id_number": batu["id_number"]}).json["ticket"]
    clock.now += 300
    assert gov("POST", "/gov/sso/ticket/exchange", {"ticket": stale}).json["error"]["code"] == "TICKET_EXPIRED"
    assert gov("POST", "/gov/sso/ticket/exchange", {"ticket": "nope"}).json["error"]["code"] == "TICKET_INVALID"


def test_sso_ticket_is_bound_to_the_relying_party(client: FlaskClient, gov, batu) -> None:
    ticket = client.post("/_drive/gov/sso-ticket", json={"id_number": batu["id_number"], "app_key": "gov-other-key"}).json["ticket"]
    assert gov("POST", "/gov/sso/ticket/exchange", {"ticket": ticket}).json["error"]["code"] == "TICKET_INVALID"
    assert gov("POST", "/gov/sso/ticket/exchange", {"ticket": ticket}, key="gov-other-key").status_code == 200


def test_legal_person_sso(client: FlaskClient, gov, batu) -> None:
    ticket = client.post(
        "/_drive/gov/sso-ticket", json={"id_number": batu["id_number"], "uscc": "91150102MA0N3K7P10", "realname_level": 4}
    ).json["ticket"]
    user = gov("POST", "/gov/sso/ticket/exchange", {"ticket": ticket}).json["user"]
    assert user["user_type"] == "LEGAL_PERSON" and user["realname_level"] == 4
    assert user["enterprise"]["uscc"] == "91150102MA0N3K7P10" and user["enterprise"]["is_legal_representative"] is True
