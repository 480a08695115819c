"""Attack: the four-eyes bypass by co-editing, over HTTP against the real app.

An operator holding editor + approver (or admin) edits someone else's campaign — content, targeting or
schedule — then tries to approve it. Each try must fail, an edit after approval must withdraw the
approval, a stale approval must be refused, and the audit must say who wrote what."""
from __future__ import annotations

import pytest

from tests.bff.push.conftest import REMINDER, REMINDER_DATA, wechat_campaign

ROOT = "/v1/admin/campaigns"
REWORDED = {"wechat": {"template_id": REMINDER, "data": {**REMINDER_DATA, "thing4": "点击领取补贴（钓鱼链接）"}}}


@pytest.fixture
def admin(api) -> str:
    return api.operator("ops.admin", "admin")


def _refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == code and body["code"] == status and body["message"]  # the one envelope


@pytest.mark.parametrize("who", ["both", "admin"])
@pytest.mark.parametrize("change", [{"content": REWORDED}, {"audience": {"regions": ["150200"]}},
                                    {"schedule": {"start_at": 1_900_000_000}}], ids=["content", "targeting", "schedule"])
def test_co_editor_cannot_approve_what_they_changed(api, ops, admin, runtime, drive, who, change) -> None:
    attacker = admin if who == "admin" else ops["both"]
    citizen = api.wechat_citizen(subscribe={REMINDER: 1})
    cid = api.ok("POST", ROOT, ops["editor"], wechat_campaign(), status=201)["id"]
    edited = api.ok("PATCH", f"{ROOT}/{cid}", attacker, change)
    assert len(edited["authors"]) == 2 and edited["author"] == edited["authors"][0]
    submitted = api.ok("POST", f"{ROOT}/{cid}/submit", ops["editor"])  # the creator submits, the co-editor approves …
    _refused(api.approve(cid, attacker, version=submitted["version"]), 403, "approver_is_author")
    assert api.ok("GET", f"{ROOT}/{cid}", ops["approver"])["status"] == "submitted"  # … and nothing moved
    # Scheduling needs an approval: nothing can reach a citizen.
    _refused(api.call("POST", f"{ROOT}/{cid}/schedule", attacker, {}), 409, "campaign_state_conflict")
    runtime.drain()
    assert drive.screen(citizen["openid"]) == []

    audit = api.ok("GET", f"{ROOT}/{cid}/audit", ops["approver"])["items"]
    edit = next(e for e in audit if e["action"] == "update")
    assert edit["actor"] == edited["authors"][1] and edit["changes"]["fields"] == list(change)
    assert edit["version"] == edited["version"] and [e["version"] for e in audit] == list(range(1, len(audit) + 1))


@pytest.mark.parametrize("status", ["submitted", "approved", "scheduled"])
def test_an_edit_after_submission_or_approval_sends_it_back_to_draft(api, ops, runtime, drive, status) -> None:
    citizen = api.wechat_citizen(subscribe={REMINDER: 1})
    cid = api.ok("POST", ROOT, ops["editor"], wechat_campaign(schedule={"start_at": 1_900_000_000}), status=201)["id"]
    api.ok("POST", f"{ROOT}/{cid}/submit", ops["editor"])
    if status != "submitted":
        assert api.approve(cid, ops["both"]).status_code == 200
    if status == "scheduled":
        api.ok("POST", f"{ROOT}/{cid}/schedule", ops["editor"], {})
    assert api.ok("GET", f"{ROOT}/{cid}", ops["editor"])["status"] == status

    # The approver slips their own wording into the approved campaign.
    edited = api.ok("PATCH", f"{ROOT}/{cid}", ops["both"], {"content": REWORDED, "schedule": {}})
    assert (edited["status"], edited["approved_by"], edited["approved_at"]) == ("draft", None, None)
    _refused(api.call("POST", f"{ROOT}/{cid}/schedule", ops["editor"], {}), 409, "campaign_state_conflict")
    resubmitted = api.ok("POST", f"{ROOT}/{cid}/submit", ops["editor"])
    _refused(api.approve(cid, ops["both"], version=resubmitted["version"]), 403, "approver_is_author")
    runtime.drain()
    assert drive.screen(citizen["openid"]) == []  # the withdrawn schedule sent nothing

    approved = api.approve(cid, ops["approver"], version=resubmitted["version"])
    assert approved.status_code == 200 and approved.get_json()["approved_by"] not in approved.get_json()["authors"]
    audit = api.ok("GET", f"{ROOT}/{cid}/audit", ops["editor"])["items"]
    withdrawn = next(e for e in audit if e["action"] == "update")
    assert (withdrawn["from"], withdrawn["to"], withdrawn["changes"]["fields"]) == (status, "draft", ["content", "schedule"])


def test_a_stale_approval_is_refused(api, ops) -> None:
    cid = api.ok("POST", ROOT, ops["editor"], wechat_campaign(), status=201)["id"]
    reviewed = api.ok("POST", f"{ROOT}/{cid}/submit", ops["editor"])["version"]
    # Between the approver's review and their click, the text changes and is resubmitted.
    api.ok("PATCH", f"{ROOT}/{cid}", ops["editor"], {"content": REWORDED})
    current = api.ok("POST", f"{ROOT}/{cid}/submit", ops["editor"])["version"]
    stale = api.approve(cid, ops["approver"], version=reviewed)
    _refused(stale, 409, "version_conflict")
    assert stale.get_json()["errors"] == {"expected_version": reviewed, "version": current}
    for bad in ({}, {"version": "latest"}, {"version": -1}, {"version": current, "extra": 1}):
        assert api.call("POST", f"{ROOT}/{cid}/approve", ops["approver"], bad).status_code == 422
    assert api.approve(cid, ops["approver"], version=current).get_json()["status"] == "approved"


def test_openapi_declares_the_four_eyes_answers(client) -> None:
    spec = client.get("/openapi.json").get_json()
    approve = spec["paths"]["/v1/admin/campaigns/{campaign_id}/approve"]["post"]
    assert "approver_is_author" in approve["responses"]["403"]["description"]
    assert "version_conflict" in approve["responses"]["409"]["description"]
    body = approve["requestBody"]["content"]["application/json"]["schema"]
    name = body["$ref"].rsplit("/", 1)[-1]
    assert spec["components"]["schemas"][name]["required"] == ["version"]
    assert "authors" in spec["components"]["schemas"]["Campaign"]["required"]
