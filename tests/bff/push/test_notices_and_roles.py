"""Policy campaigns as home-screen notices, and what the admin role may do."""
from __future__ import annotations

import time

from bff.caching.response_keys import LOCAL_TTL_SECONDS
from tests.bff.push.conftest import wechat_campaign

INBOX = {"title": "供暖费缴纳通知", "text": "今年采暖费请于11月30日前缴纳。"}
MARKETING_INBOX = {"title": "蒙速办新功能上线", "text": "快来体验！"}


def inbox_campaign(**overrides):
    return wechat_campaign(**{"channels": ["inbox"], "content": {"inbox": INBOX}, **overrides})


def notices(client, region):
    response = client.get("/v1/home", query_string={"region": region})
    assert response.status_code == 200
    return response.get_json()["notices"]


def test_live_policy_campaigns_are_home_notices_in_their_regions_only(api, ops, runtime, client) -> None:
    api.wechat_citizen()  # someone in 呼和浩特 to send to
    assert notices(client, "150102") == []  # cached now: the launch below must invalidate it
    policy = api.launch(inbox_campaign(), ops["editor"], ops["approver"])
    marketing = api.launch(inbox_campaign(name="新功能推广", category="marketing", content={"inbox": MARKETING_INBOX}),
                           ops["editor"], ops["approver"])
    runtime.drain()

    shown = notices(client, "150102")  # 新城区, inside the campaign's 呼和浩特 audience
    assert [n["id"] for n in shown] == [policy] and marketing not in {n["id"] for n in shown}
    assert shown[0]["title"] == INBOX["title"] and shown[0]["category"] == "policy"
    assert notices(client, "150203") == []  # 包头 is outside the audience
    assert notices(client, "150000") == []  # the region-wide home shows region-wide notices only


def test_admins_hold_every_role_but_never_approve_their_own_campaign(api, ops) -> None:
    admin = api.operator("ops.root", "admin")
    own = api.ok("POST", "/v1/admin/campaigns", admin, inbox_campaign(), status=201)["id"]
    api.ok("POST", f"/v1/admin/campaigns/{own}/submit", admin)
    refused = api.approve(own, admin)
    assert refused.status_code == 403 and refused.get_json()["error"] == "approver_is_author"

    theirs = api.ok("POST", "/v1/admin/campaigns", ops["editor"], inbox_campaign(), status=201)["id"]
    api.ok("POST", f"/v1/admin/campaigns/{theirs}/submit", ops["editor"])
    approved = api.approve(theirs, admin)
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"


def test_a_campaign_the_worker_starts_reaches_cached_homes_at_once(api, ops, app, client, settings, clock) -> None:
    """The worker is its own process with its own composition root: its campaign facts still reach the API's
    response cache (the worker publishes ``campaign.state_changed`` and invalidates the shared cache)."""
    from bootstrap import bootstrap
    from push.worker import PushRuntime, build_senders

    api.wechat_citizen()
    policy = api.launch(inbox_campaign(), ops["editor"], ops["approver"], start_at=clock.now() + 3600)
    assert notices(client, "150102") == []
    assert client.get("/v1/home", query_string={"region": "150102"}).headers["X-Cache"] in ("hit", "local")

    worker = bootstrap(settings, push_clock=clock, push_settings=app.extensions["services"].push.settings)
    try:
        clock.advance(3601)
        assert PushRuntime(worker.push, build_senders(worker.gateways, worker.push, settings)).tick()["started"] == 1
    finally:
        worker.close()

    # Other processes' in-memory layers keep an answer at most LOCAL_TTL_SECONDS; the shared cache at once.
    deadline = time.monotonic() + LOCAL_TTL_SECONDS + 1.0
    while not notices(client, "150102") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [notice["id"] for notice in notices(client, "150102")] == [policy]
