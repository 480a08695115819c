"""The four-eyes rule in the domain: nobody who wrote any part of a campaign approves it, an edit after
submission or approval withdraws it, an approval names the version it read, the audit says who wrote what."""
from __future__ import annotations

import pytest

from push.campaigns import Actor
from push.errors import ApproverIsAuthor, CampaignStateConflict, InvalidInput, VersionConflict
from tests.push.conftest import APPROVER, EDITOR, MORNING, REMINDER, REMINDER_DATA, wechat_campaign

BOTH = Actor("op_both_1", ("editor", "approver"))
ADMIN = Actor("op_admin_1", ("admin",))
NEW_DATA = {**REMINDER_DATA, "thing4": "请尽快前往社保窗口认证"}


@pytest.mark.parametrize("co_editor", [BOTH, ADMIN], ids=["editor+approver", "admin"])
def test_a_co_editor_of_someone_elses_campaign_may_not_approve_it(service, co_editor) -> None:
    campaign = service.create_campaign(EDITOR, wechat_campaign())
    edited = service.update_campaign(co_editor, campaign["id"], {"content": {"wechat": {"template_id": REMINDER, "data": NEW_DATA}}})
    assert edited["authors"] == [EDITOR.account_id, co_editor.account_id] and edited["author"] == EDITOR.account_id
    submitted = service.submit_campaign(EDITOR, campaign["id"])
    with pytest.raises(ApproverIsAuthor) as refused:
        service.approve_campaign(co_editor, campaign["id"], submitted["version"])
    assert refused.value.http_status == 403
    approved = service.approve_campaign(APPROVER, campaign["id"], submitted["version"])
    assert approved["status"] == "approved" and approved["approved_by"] == APPROVER.account_id

    audit = service.campaign_audit(APPROVER, campaign["id"])
    assert [(e["actor"], e["action"], e["changes"].get("fields"), e["version"]) for e in audit] == [
        (EDITOR.account_id, "create", ["name", "category", "channels", "content", "audience"], 1),
        (co_editor.account_id, "update", ["content"], 2),
        (EDITOR.account_id, "submit", None, 3),
        (APPROVER.account_id, "approve", None, 4)]


def test_an_edit_after_approval_withdraws_it_and_makes_the_editor_an_author(service) -> None:
    campaign = service.create_campaign(EDITOR, wechat_campaign())
    submitted = service.submit_campaign(EDITOR, campaign["id"])
    service.approve_campaign(BOTH, campaign["id"], submitted["version"])
    # The approver now rewrites what they approved: the approval goes, and they may not approve it again.
    edited = service.update_campaign(BOTH, campaign["id"], {"audience": {"regions": ["150200"]}})
    assert (edited["status"], edited["approved_by"], edited["approved_at"]) == ("draft", None, None)
    assert BOTH.account_id in edited["authors"]
    with pytest.raises(CampaignStateConflict):
        service.schedule_campaign(EDITOR, campaign["id"])
    resubmitted = service.submit_campaign(EDITOR, campaign["id"])
    with pytest.raises(ApproverIsAuthor):
        service.approve_campaign(BOTH, campaign["id"], resubmitted["version"])
    assert service.approve_campaign(APPROVER, campaign["id"], resubmitted["version"])["status"] == "approved"

    scheduled = service.schedule_campaign(EDITOR, campaign["id"], start_at=MORNING + 3600)
    assert scheduled["status"] == "scheduled" and campaign["id"] in service.campaigns.scheduled_due(MORNING + 7200)
    changed = service.update_campaign(EDITOR, campaign["id"], {"schedule": {"start_at": MORNING + 600}})
    assert changed["status"] == "draft" and service.campaigns.scheduled_due(MORNING + 7200) == []
    assert service.campaign_audit(EDITOR, campaign["id"])[-1]["changes"] == {"fields": ["schedule"]}


def test_a_stale_approval_is_refused_and_a_no_op_edit_writes_nothing(service) -> None:
    campaign = service.create_campaign(EDITOR, wechat_campaign())
    seen = service.submit_campaign(EDITOR, campaign["id"])["version"]
    same = service.update_campaign(BOTH, campaign["id"], {"name": campaign["name"]})  # nothing changes
    assert same["version"] == seen and same["status"] == "submitted" and same["authors"] == [EDITOR.account_id]
    service.update_campaign(EDITOR, campaign["id"], {"note": "换了文案"})
    current = service.submit_campaign(EDITOR, campaign["id"])["version"]
    with pytest.raises(VersionConflict) as stale:
        service.approve_campaign(APPROVER, campaign["id"], seen)
    assert stale.value.details == {"expected_version": seen, "version": current}
    assert service.approve_campaign(APPROVER, campaign["id"], current)["version"] == current + 1


def test_scheduling_stays_inside_the_approved_window(service) -> None:
    spec = wechat_campaign(schedule={"start_at": MORNING + 3600, "end_at": MORNING + 86_400})
    campaign = service.create_campaign(EDITOR, spec)
    service.approve_campaign(APPROVER, campaign["id"], service.submit_campaign(EDITOR, campaign["id"])["version"])
    with pytest.raises(InvalidInput) as early:
        service.schedule_campaign(EDITOR, campaign["id"], start_at=MORNING + 60)
    assert early.value.details["field"] == "start_at"
    with pytest.raises(InvalidInput) as late:
        service.schedule_campaign(EDITOR, campaign["id"], end_at=MORNING + 2 * 86_400)
    assert late.value.details["field"] == "end_at"
    narrowed = service.schedule_campaign(EDITOR, campaign["id"], start_at=MORNING + 7200)
    assert narrowed["status"] == "scheduled" and narrowed["schedule"]["start_at"] == MORNING + 7200
