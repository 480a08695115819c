"""A campaign from draft to finished: validation, four-eyes approval, preview, sending through the
live sandbox, stats and the audit trail."""
from __future__ import annotations

import json

import pytest

from push.errors import (CampaignNotEditable, CampaignStateConflict, InvalidInput, InvalidTemplateData,
                         OperatorRoleRequired, ApproverIsAuthor, UnknownTemplate)
from tests.push.conftest import APPROVER, EDITOR, EDITOR_2, REMINDER, launch, wechat_campaign


def test_campaign_created_previewed_refused_to_its_author_approved_and_sent(service, citizens, runtime, drive) -> None:
    subscribed = [citizens.make(subscribe={REMINDER: 1}) for _ in range(3)]
    unsubscribed = citizens.make()
    elsewhere = citizens.make(region="150203", subscribe={REMINDER: 1})  # 包头: outside the audience

    campaign = service.create_campaign(EDITOR, wechat_campaign())
    assert campaign["status"] == "draft" and campaign["author"] == EDITOR.account_id
    preview = service.preview_campaign(EDITOR, campaign["id"])
    assert preview["audience"] == 4
    assert preview["channels"]["wechat"]["enqueued"] == 3
    assert preview["channels"]["wechat"]["skipped"]["not_subscribed"] == 1
    assert preview["samples"]["wechat"]["template_id"] == REMINDER
    assert preview["samples"]["wechat"]["data"]["phrase2"] == {"value": "待办理"}

    service.submit_campaign(EDITOR, campaign["id"])
    with pytest.raises(ApproverIsAuthor) as refused:
        service.approve_campaign(type(EDITOR)(EDITOR.account_id, ("editor", "approver")), campaign["id"])
    assert refused.value.http_status == 403 and refused.value.code == "approver_is_author"
    with pytest.raises(OperatorRoleRequired):
        service.approve_campaign(EDITOR_2, campaign["id"])  # an editor is not an approver
    approved = service.approve_campaign(APPROVER, campaign["id"])
    assert approved["status"] == "approved" and approved["approved_by"] == APPROVER.account_id

    service.schedule_campaign(EDITOR, campaign["id"])
    runtime.drain()

    for citizen in subscribed:
        screen = drive.screen(citizen["openid"])
        assert len(screen) == 1 and screen[0]["data"]["thing1"] == "养老金资格认证"
    assert drive.screen(unsubscribed["openid"]) == [] and drive.screen(elsewhere["openid"]) == []
    stats = service.campaign_stats(APPROVER, campaign["id"])
    assert stats["status"] == "finished"
    assert (stats["planned"], stats["sent"], stats["failed"]) == (3, 3, 0)
    assert stats["skipped"]["not_subscribed"] == 1
    assert sum(point["sent"] for point in stats["series"]) == 3

    actions = [(entry["actor"], entry["action"], entry["to"]) for entry in service.campaign_audit(APPROVER, campaign["id"])]
    assert actions[:4] == [(EDITOR.account_id, "create", "draft"), (EDITOR.account_id, "submit", "submitted"),
                           (APPROVER.account_id, "approve", "approved"), (EDITOR.account_id, "schedule", "scheduled")]
    assert ("system", "start", "running") in actions and actions[-1] == ("system", "finish", "finished")


def test_edits_until_sending_and_only_approved_campaigns_send(service, citizens, runtime, drive) -> None:
    citizen = citizens.make(subscribe={REMINDER: 1})
    campaign = service.create_campaign(EDITOR, wechat_campaign())
    edited = service.update_campaign(EDITOR_2, campaign["id"], {"name": "认证提醒（修改）"}, expected_version=campaign["version"])
    assert edited["name"] == "认证提醒（修改）" and edited["version"] == campaign["version"] + 1
    service.submit_campaign(EDITOR, campaign["id"])
    with pytest.raises(CampaignStateConflict) as early:
        service.schedule_campaign(EDITOR, campaign["id"])  # not approved yet
    assert early.value.details["status"] == "submitted"
    runtime.drain()
    assert drive.screen(citizen["openid"]) == []  # submitted is not approved: nothing sent
    service.reject_campaign(APPROVER, campaign["id"], "文案需要修改")
    assert service.get_campaign(EDITOR, campaign["id"])["rejection"] == "文案需要修改"
    assert service.update_campaign(EDITOR, campaign["id"], {"note": "已修改"})["status"] == "draft"
    cancelled = service.cancel_campaign(EDITOR, campaign["id"], "不再需要")
    with pytest.raises(CampaignNotEditable):  # nothing changes once it is over (or sending)
        service.update_campaign(EDITOR, cancelled["id"], {"name": "x"})


def test_content_checked_against_channel_rules_at_creation(service) -> None:
    too_long = wechat_campaign(content={"wechat": {"template_id": REMINDER, "data": {
        "thing1": "内蒙古自治区城乡居民基本养老保险待遇领取资格认证", "phrase2": "待办理", "time3": "2026年3月31日", "thing4": "x"}}})
    with pytest.raises(InvalidTemplateData) as error:
        service.create_campaign(EDITOR, too_long)
    assert error.value.details["field"] == "data.thing1.value" and error.value.http_status == 422
    bad_phrase = wechat_campaign(content={"wechat": {"template_id": REMINDER, "data": {
        "thing1": "认证", "phrase2": "pending", "time3": "10:00", "thing4": "x"}}})
    with pytest.raises(InvalidTemplateData) as error:
        service.create_campaign(EDITOR, bad_phrase)
    assert error.value.details["field"] == "data.phrase2.value"
    with pytest.raises(UnknownTemplate):
        service.create_campaign(EDITOR, wechat_campaign(content={"wechat": {"template_id": "nope", "data": {}}}))
    with pytest.raises(OperatorRoleRequired):
        service.create_campaign(APPROVER, wechat_campaign())


def test_cancel_stops_a_scheduled_campaign(service, citizens, runtime, drive) -> None:
    citizen = citizens.make(subscribe={REMINDER: 1})
    campaign_id = launch(service, wechat_campaign())
    service.cancel_campaign(EDITOR, campaign_id, "政策调整")
    runtime.drain()
    assert drive.screen(citizen["openid"]) == []
    assert service.get_campaign(EDITOR, campaign_id)["status"] == "cancelled"


def test_the_removed_tags_rule_is_refused_and_never_widens_a_stored_audience(service, citizens) -> None:
    """Nothing can tag a citizen, so ``tags`` is no rule any more: a spec naming it is refused (422), and a
    campaign stored with it before resolves to nobody rather than to everyone in its regions."""
    with pytest.raises(InvalidInput) as refused:
        service.create_campaign(EDITOR, wechat_campaign(audience={"regions": ["150100"], "tags": ["vip"]}))
    assert (refused.value.http_status, refused.value.code) == (422, "invalid_input")
    assert refused.value.details["field"] == "audience.tags"
    with pytest.raises(InvalidInput):
        service.estimate_audience(EDITOR, {"tags": ["vip"]}, "policy")

    citizens.make(subscribe={REMINDER: 1})
    campaign = service.create_campaign(EDITOR, wechat_campaign())
    assert service.preview_campaign(EDITOR, campaign["id"])["audience"] == 1
    with service.database.transaction() as conn:  # as written before the rule was removed
        conn.execute("UPDATE campaigns SET spec = jsonb_set(spec, '{audience,tags}', %s) WHERE id = %s",
                     (json.dumps(["vip"]), campaign["id"]))
    assert service.preview_campaign(EDITOR, campaign["id"])["audience"] == 0
