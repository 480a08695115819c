"""Dead letters over HTTP (list, retry once, roles, OpenAPI) and operator usernames beside their ids in
campaign answers and the audit trail."""
from __future__ import annotations

import pytest

from tests.bff.push.conftest import REMINDER, wechat_campaign

DEAD = "/v1/admin/dead-letters"


@pytest.fixture
def outage(api, ops, service, runtime, drive, clock):
    """A citizen WeChat refuses three times: a dead letter, and the error rate pauses the campaign."""
    service.settings = service.settings.with_changes(pause_min_attempts=3, pause_error_rate=0.5)
    citizen = api.wechat_citizen(subscribe={REMINDER: 1})
    drive.fault("wechat.subscribe_send", times=None, error={"errcode": -1})
    campaign_id = api.launch(wechat_campaign(), ops["editor"], ops["approver"])
    for _ in range(3):
        runtime.drain()
        clock.advance(60)
    drive.clear_faults()
    return {"citizen": citizen, "campaign_id": campaign_id}


def test_operators_list_and_retry_a_dead_letter_once(api, ops, outage, runtime, drive) -> None:
    cid = outage["campaign_id"]
    [dead] = api.ok("GET", DEAD, ops["approver"], query_string={"campaign_id": cid})["items"]
    assert (dead["channel"], dead["code"], dead["attempts"], dead["retried"]) == ("wechat", "-1", 3, None)
    assert api.ok("GET", DEAD, ops["editor"], query_string={"campaign_id": cid, "channel": "alipay"})["items"] == []

    retried = api.ok("POST", f"{DEAD}/{dead['id']}/retry", ops["editor"])
    assert (retried["requeued"], retried["status"], retried["campaign_id"]) == (1, "paused", cid)
    again = api.call("POST", f"{DEAD}/{dead['id']}/retry", ops["approver"])
    assert again.status_code == 409 and again.get_json()["error"] == "already_retried"
    [listed] = api.ok("GET", DEAD, ops["editor"], query_string={"campaign_id": cid})["items"]
    assert listed["retried"]["actor_name"] == "ops.editor" and listed["retried"]["requeued"] == 1
    audit = api.ok("GET", f"/v1/admin/campaigns/{cid}/audit", ops["editor"])["items"]
    assert ("pause", "system", "系统") in [(e["action"], e["actor"], e["actor_name"]) for e in audit]  # the worker
    assert audit[-1]["action"] == "retry_dead_letter" and audit[-1]["actor_name"] == "ops.editor"

    api.ok("POST", f"/v1/admin/campaigns/{cid}/resume", ops["approver"])
    runtime.drain()
    assert len(drive.screen(outage["citizen"]["openid"])) == 1  # sent once more, exactly once
    assert api.stats(cid, ops["editor"])["status"] == "finished"
    over = api.call("POST", f"{DEAD}/{dead['id']}/retry", ops["editor"])
    assert over.status_code == 409 and over.get_json()["error"] == "campaign_state_conflict"


def test_cancelled_campaigns_unknown_entries_and_who_may_see_dead_letters(api, ops, outage) -> None:
    [dead] = api.ok("GET", DEAD, ops["editor"], query_string={"campaign_id": outage["campaign_id"]})["items"]
    for bad in ("0-1", "x", "1-2-3"):
        missing = api.call("POST", f"{DEAD}/{bad}/retry", ops["editor"])
        assert missing.status_code == 404 and missing.get_json()["error"] == "dead_letter_not_found"
    citizen = outage["citizen"]["token"]
    for method, path in (("GET", DEAD), ("POST", f"{DEAD}/{dead['id']}/retry")):
        assert api.call(method, path).status_code == 401
        assert api.call(method, path, citizen).status_code in (401, 403)
    bad_query = api.call("GET", DEAD, ops["editor"], query_string={"channel": "fax"})
    assert bad_query.status_code == 422
    api.ok("POST", f"/v1/admin/campaigns/{outage['campaign_id']}/cancel", ops["editor"], {"reason": "活动取消"})
    refused = api.call("POST", f"{DEAD}/{dead['id']}/retry", ops["editor"])
    assert refused.status_code == 409 and refused.get_json()["error"] == "campaign_state_conflict"
    assert refused.get_json()["errors"]["status"] == "cancelled"


def test_dead_letter_routes_and_their_errors_are_in_openapi(client) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    listing, retry = paths["/v1/admin/dead-letters"]["get"], paths["/v1/admin/dead-letters/{entry_id}/retry"]["post"]
    assert {"200", "401", "403", "422"} <= set(listing["responses"])
    assert {"200", "401", "403", "404", "409"} <= set(retry["responses"])
    assert "already_retried" in retry["responses"]["409"]["description"]
    assert listing["security"] and retry["security"]


def test_campaigns_and_their_audit_name_the_operators(api, ops) -> None:
    cid = api.launch(wechat_campaign(), ops["editor"], ops["approver"])
    campaign = api.ok("GET", f"/v1/admin/campaigns/{cid}", ops["editor"])
    assert (campaign["author_name"], campaign["approved_by_name"]) == ("ops.editor", "ops.approver")
    assert campaign["author"] != "ops.editor"  # the id stays beside the name
    [summary] = [c for c in api.ok("GET", "/v1/admin/campaigns", ops["approver"])["items"] if c["id"] == cid]
    assert (summary["author_name"], summary["approved_by_name"]) == ("ops.editor", "ops.approver")
    audit = api.ok("GET", f"/v1/admin/campaigns/{cid}/audit", ops["approver"])["items"]
    assert [(entry["action"], entry["actor_name"]) for entry in audit] == [
        ("create", "ops.editor"), ("submit", "ops.editor"), ("approve", "ops.approver"), ("schedule", "ops.editor")]
    cancelled = api.ok("POST", f"/v1/admin/campaigns/{cid}/cancel", ops["approver"], {"reason": "核对"})
    assert (cancelled["status"], cancelled["author_name"]) == ("cancelled", "ops.editor")


def test_an_audience_naming_tags_is_refused(api, ops) -> None:
    """``tags`` is no audience rule (nothing can tag a citizen): the schema refuses it, naming the field."""
    spec = wechat_campaign(audience={"regions": ["150100"], "tags": ["vip"]})
    refused = api.call("POST", "/v1/admin/campaigns", ops["editor"], spec)
    assert refused.status_code == 422 and "tags" in refused.get_json()["errors"]["json"]["audience"]
    estimate = api.call("POST", "/v1/admin/audience/estimate", ops["editor"], {"audience": {"tags": ["vip"]}})
    assert estimate.status_code == 422 and "tags" in estimate.get_json()["errors"]["json"]["audience"]
