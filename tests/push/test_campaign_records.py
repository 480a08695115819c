"""Campaigns as PostgreSQL records: racing approvers get one approval, a status change and its outbox event
commit together (or neither does), and every spec an operator wrote is kept in order."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest

from push.campaigns import CAMPAIGN_STATE_CHANGED, Actor
from push.errors import CampaignNotFound, PushError
from tests.push.conftest import APPROVER, EDITOR, EDITOR_2, REMINDER, REMINDER_DATA, wechat_campaign

APPROVER_2 = Actor("op_approver_2", ("approver",))


def _waiting_on_locks(database) -> int:
    with database.transaction() as conn:
        return conn.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND datname = current_database()").fetchone()["n"]


def test_two_approvers_racing_for_one_submission_give_exactly_one_approval(service, database) -> None:
    campaign = service.create_campaign(EDITOR, wechat_campaign())
    submitted = service.submit_campaign(EDITOR, campaign["id"])
    outcomes: dict[str, object] = {}

    def approve(approver: Actor) -> None:
        try:
            outcomes[approver.account_id] = service.approve_campaign(approver, campaign["id"], submitted["version"])
        except PushError as refused:
            outcomes[approver.account_id] = refused

    racers = [threading.Thread(target=approve, args=(approver,)) for approver in (APPROVER, APPROVER_2)]
    # Hold the campaign's row so both approvals have read nothing yet and queue on the lock together.
    with database.transaction() as holder:
        holder.execute("SELECT 1 FROM campaigns WHERE id = %s FOR UPDATE", (campaign["id"],))
        for racer in racers:
            racer.start()
        deadline = time.monotonic() + 0.8  # under the server's lock_timeout (1 s)
        while _waiting_on_locks(database) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _waiting_on_locks(database) == 2
    for racer in racers:
        racer.join(timeout=10)

    approvals = [o for o in outcomes.values() if isinstance(o, dict)]
    refusals = [o for o in outcomes.values() if isinstance(o, PushError)]
    assert len(approvals) == 1 and len(refusals) == 1
    assert refusals[0].http_status == 409 and refusals[0].code == "version_conflict"
    winner = approvals[0]["approved_by"]
    stored = service.get_campaign(APPROVER, campaign["id"])
    assert (stored["status"], stored["approved_by"], stored["version"]) == ("approved", winner, submitted["version"] + 1)
    assert [(s["submitted_by"], s["version"], s["decision"], s["decided_by"])
            for s in service.campaign_submissions(APPROVER, campaign["id"])] == [
        (EDITOR.account_id, submitted["version"], "approved", winner)]
    assert [e["actor"] for e in service.campaign_audit(APPROVER, campaign["id"]) if e["action"] == "approve"] == [winner]


def _outbox(database, name: str) -> list[dict]:
    with database.transaction() as conn:
        return conn.execute("SELECT data, published_at FROM outbox WHERE name = %s ORDER BY id", (name,)).fetchall()


def test_a_state_change_and_its_outbox_event_commit_together(service, database) -> None:
    campaign = service.create_campaign(EDITOR, wechat_campaign())
    seen_by_subscriber: list[tuple[str, str]] = []

    def read_committed(event) -> None:
        # Delivered after the commit: another connection already sees the status the event announces.
        with database.transaction() as conn:
            row = conn.execute("SELECT status FROM campaigns WHERE id = %s", (event.data["campaign_id"],)).fetchone()
        seen_by_subscriber.append((event.data["status"], row["status"]))

    service.events_bus.subscribe(CAMPAIGN_STATE_CHANGED, read_committed)
    service.submit_campaign(EDITOR, campaign["id"])
    assert seen_by_subscriber == [("submitted", "submitted")]
    [event] = _outbox(database, CAMPAIGN_STATE_CHANGED)
    assert event["data"] == {"campaign_id": campaign["id"], "status": "submitted", "previous": "draft",
                             "category": "policy"}

    # An event that cannot be recorded takes its state change (and the audit entry) down with it.
    with database.transaction() as conn:
        conn.execute("ALTER TABLE outbox ADD CONSTRAINT refuse_campaign_events "
                     "CHECK (name <> 'campaign.state_changed') NOT VALID")
    try:
        with pytest.raises(psycopg.errors.CheckViolation):
            service.approve_campaign(APPROVER, campaign["id"], service.get_campaign(EDITOR, campaign["id"])["version"])
    finally:
        with database.transaction() as conn:
            conn.execute("ALTER TABLE outbox DROP CONSTRAINT refuse_campaign_events")
    stored = service.get_campaign(APPROVER, campaign["id"])
    assert (stored["status"], stored["approved_by"]) == ("submitted", None)
    assert [e["action"] for e in service.campaign_audit(APPROVER, campaign["id"])] == ["create", "submit"]
    assert service.campaign_submissions(APPROVER, campaign["id"])[0]["decision"] is None
    assert len(_outbox(database, CAMPAIGN_STATE_CHANGED)) == 1
    assert seen_by_subscriber == [("submitted", "submitted")]  # nothing announced that did not happen

    # Bookkeeping without a status change writes no event.
    service.approve_campaign(APPROVER, campaign["id"], stored["version"])
    service.campaigns.set_fields(campaign["id"], {"plan_state": "planning"}, action="plan_started")
    assert [e["data"]["status"] for e in _outbox(database, CAMPAIGN_STATE_CHANGED)] == ["submitted", "approved"]


def test_every_written_spec_is_kept_as_a_version_in_order(service) -> None:
    campaign = service.create_campaign(EDITOR, wechat_campaign())
    new_text = {**REMINDER_DATA, "thing4": "请尽快前往社保窗口认证"}
    content = service.update_campaign(EDITOR_2, campaign["id"], {"content": {"wechat": {"template_id": REMINDER, "data": new_text}}})
    service.update_campaign(EDITOR_2, campaign["id"], {"name": content["name"]})  # changes nothing: no version
    service.submit_campaign(EDITOR, campaign["id"])  # no spec written: no version
    audience = service.update_campaign(EDITOR, campaign["id"], {"audience": {"regions": ["150200"]}})

    versions = service.campaign_versions(APPROVER, campaign["id"])
    assert [(v["version"], v["written_by"], v["fields"]) for v in versions] == [
        (campaign["version"], EDITOR.account_id, ["name", "category", "channels", "content", "audience"]),
        (content["version"], EDITOR_2.account_id, ["content"]),
        (audience["version"], EDITOR.account_id, ["audience"])]
    assert [v["version"] for v in versions] == sorted(v["version"] for v in versions)
    assert versions[0]["spec"]["content"]["wechat"]["data"]["thing4"] == {"value": REMINDER_DATA["thing4"]}
    assert versions[1]["spec"]["content"]["wechat"]["data"]["thing4"] == {"value": new_text["thing4"]}
    assert versions[1]["spec"]["audience"] == versions[0]["spec"]["audience"]
    assert versions[2]["spec"]["audience"]["regions"] == ["150200"]
    # The edit of the submitted version withdrew that submission.
    assert [s["decision"] for s in service.campaign_submissions(APPROVER, campaign["id"])] == ["withdrawn"]


@pytest.mark.parametrize("campaign_id", ["cmp_\x00x", "cmp_\ud800", "x" * 65, ""], ids=["nul", "surrogate", "long", "empty"])
def test_an_id_postgresql_cannot_store_is_simply_not_found(service, campaign_id) -> None:
    for read in (service.get_campaign, service.campaign_audit, service.campaign_versions):
        with pytest.raises(CampaignNotFound):
            read(APPROVER, campaign_id)
    with pytest.raises(CampaignNotFound):
        service.submit_campaign(EDITOR, campaign_id)
