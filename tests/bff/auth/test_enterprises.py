"""Enterprise links, the real-name step-up, and acting for an enterprise (header and token)."""
from __future__ import annotations

from tests.bff.auth.conftest import BARTER, DAIRY_USCC, assert_envelope, bearer, claims_of


def _verified(citizen, name: str, id_number: str) -> dict:
    _, login = citizen.new_wechat()
    citizen.verify(login["access_token"], name, id_number)
    return login


def test_linking_an_enterprise_needs_realname_level_3(citizen, drive):
    _, login = citizen.new_wechat()
    before = drive.counters().get("gov.enterprise.get", 0)
    response = citizen.post("/v1/me/enterprises", {"uscc": DAIRY_USCC}, login["access_token"])
    body = assert_envelope(response, 403, "realname_level_required")
    assert body["errors"] == {"required_level": 3, "current_level": 2}
    assert drive.counters().get("gov.enterprise.get", 0) == before
    # step up, and the same token now passes (the level is read live, not from the token)
    citizen.verify(login["access_token"], BARTER["name"], BARTER["id_number"])
    linked = citizen.post("/v1/me/enterprises", {"uscc": DAIRY_USCC}, login["access_token"])
    link = citizen.ok(linked, 201)
    assert linked.headers["Cache-Control"] == "private, no-store"
    assert link["role"] == "legal_representative" and link["status"] == "active"
    assert link["id"].startswith("ent_") and link["uscc"] == DAIRY_USCC
    assert citizen.me(login["access_token"])["enterprises"] == [link]


def test_agent_link_approval_acting_for_and_unlink(citizen, drive, service):
    legal = _verified(citizen, BARTER["name"], BARTER["id_number"])
    enterprise = citizen.ok(citizen.post("/v1/me/enterprises", {"uscc": DAIRY_USCC}, legal["access_token"]), 201)
    ent_id = enterprise["id"]
    person = drive.gov_person(name="乌兰")
    agent = _verified(citizen, "乌兰", person["id_number"])
    agent_token, agent_id = agent["access_token"], agent["account"]["id"]
    pending = citizen.ok(citizen.post("/v1/me/enterprises", {"uscc": DAIRY_USCC}, agent_token), 201)
    assert pending["role"] == "agent" and pending["status"] == "pending"

    # a pending agent cannot act for the enterprise, by header or by token
    assert_envelope(citizen.get("/v1/me", agent_token, headers={"X-Acting-For": ent_id}), 403, "enterprise_link_required")
    assert_envelope(citizen.post("/v1/me/acting-for", {"enterprise_id": ent_id}, agent_token), 403, "enterprise_link_required")
    # only the legal representative approves
    approve = f"/v1/me/enterprises/{ent_id}/agents/approve"
    assert_envelope(citizen.post(approve, {"account_id": agent_id}, agent_token), 403, "enterprise_link_required")
    approved = citizen.ok(citizen.post(approve, {"account_id": agent_id}, legal["access_token"]))
    assert approved["status"] == "active" and approved["role"] == "agent"

    # acting for by header: per request, checked and audited
    me = citizen.me(agent_token, headers={"X-Acting-For": ent_id})
    assert me["acting_for"] == ent_id
    assert citizen.me(agent_token)["acting_for"] is None
    audited = [e for e in service.audit.recent(agent_id) if e.event == "acting_for"]
    assert audited and audited[0].detail.get("enterprise") == ent_id

    # acting for by token: a new access token whose context survives refreshes
    grant = citizen.ok(citizen.post("/v1/me/acting-for", {"enterprise_id": ent_id}, agent_token))
    assert grant["acting_for"] == ent_id and claims_of(grant["access_token"])["acting_for"] == ent_id
    assert citizen.me(grant["access_token"])["acting_for"] == ent_id
    refreshed = citizen.ok(citizen.post("/v1/auth/refresh", {"refresh_token": agent["refresh_token"]}))
    assert claims_of(refreshed["access_token"])["acting_for"] == ent_id
    back = citizen.ok(citizen.post("/v1/me/acting-for", {"enterprise_id": None}, agent_token))
    assert back["acting_for"] is None and "acting_for" not in claims_of(back["access_token"])

    # the legal representative removes the agent: acting for is refused at once
    removed = citizen.client.delete(f"/v1/me/enterprises/{ent_id}?member={agent_id}", headers=bearer(legal["access_token"]))
    assert removed.status_code == 204
    assert_envelope(citizen.get("/v1/me", agent_token, headers={"X-Acting-For": ent_id}), 403, "enterprise_link_required")
    assert_envelope(citizen.get("/v1/me", grant["access_token"]), 403, "enterprise_link_required")
    assert citizen.me(agent_token)["enterprises"] == []


def test_malformed_acting_for_header_is_refused(citizen):
    _, login = citizen.new_wechat()
    response = citizen.get("/v1/me", login["access_token"], headers={"X-Acting-For": "../etc"})
    assert_envelope(response, 403, "enterprise_link_required")


def test_inactive_and_unknown_enterprises(citizen, drive):
    login = _verified(citizen, BARTER["name"], BARTER["id_number"])
    enterprises = drive.call("GET", "/gov/enterprises")["enterprises"]
    inactive = next(e for e in enterprises if e["status"] != "ACTIVE")
    assert_envelope(citizen.post("/v1/me/enterprises", {"uscc": inactive["uscc"]}, login["access_token"]), 409, "enterprise_inactive")
    assert_envelope(citizen.post("/v1/me/enterprises", {"uscc": "91150102MA0N3K7P1X"}, login["access_token"]), 422)
