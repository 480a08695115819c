"""Campaigns over HTTP, end to end: console → approval → in-process worker → live sandbox → citizens."""
from __future__ import annotations

from kernel.clock import shanghai_ts
from tests.bff.push.conftest import POLICY, POLICY_DATA, REMINDER, wechat_campaign

INBOX = {"title": "认证提醒", "text": "请在月底前完成养老金资格认证。"}


def test_campaign_created_previewed_refused_to_its_author_approved_scheduled_and_sent(api, ops, runtime, drive) -> None:
    first = api.wechat_citizen(subscribe={REMINDER: 1})
    second = api.wechat_citizen(region="150203")  # 包头: outside the audience
    spec = wechat_campaign(channels=["wechat", "inbox"], content={
        "wechat": wechat_campaign()["content"]["wechat"], "inbox": INBOX})
    created = api.ok("POST", "/v1/admin/campaigns", ops["both"], spec, status=201)
    cid = created["id"]
    assert created["status"] == "draft" and created["version"] == 1

    preview = api.ok("GET", f"/v1/admin/campaigns/{cid}/preview", ops["editor"])
    assert preview["audience"] == 1 and preview["reach"] == 1
    assert preview["channels"]["wechat"]["enqueued"] == 1 and preview["channels"]["inbox"]["enqueued"] == 1
    assert preview["samples"]["wechat"]["template_id"] == REMINDER and preview["samples"]["inbox"]["title"] == INBOX["title"]

    edited = api.ok("PATCH", f"/v1/admin/campaigns/{cid}", ops["editor"], {"note": "三月批次", "version": 1})
    assert edited["note"] == "三月批次" and edited["version"] == 2
    stale = api.call("PATCH", f"/v1/admin/campaigns/{cid}", ops["editor"], {"note": "x", "version": 1})
    assert stale.status_code == 409 and stale.get_json()["error"] == "version_conflict"

    api.ok("POST", f"/v1/admin/campaigns/{cid}/submit", ops["both"])
    scheduling_early = api.call("POST", f"/v1/admin/campaigns/{cid}/schedule", ops["editor"], {})
    assert scheduling_early.status_code == 409 and scheduling_early.get_json()["error"] == "campaign_state_conflict"
    own = api.approve(cid, ops["both"])
    assert own.status_code == 403 and own.get_json()["error"] == "approver_is_author"
    editor_only = api.approve(cid, ops["editor"])
    assert editor_only.status_code == 403 and editor_only.get_json()["error"] == "operator_role_required"
    unnamed = api.call("POST", f"/v1/admin/campaigns/{cid}/approve", ops["approver"], {})
    assert unnamed.status_code == 422  # an approval names the version it reviewed
    approved = api.approve(cid, ops["approver"]).get_json()
    assert approved["status"] == "approved" and approved["approved_by"] not in approved["authors"]
    assert api.ok("POST", f"/v1/admin/campaigns/{cid}/schedule", ops["editor"], {})["status"] == "scheduled"

    runtime.drain()
    assert [m["template_id"] for m in drive.screen(first["openid"])] == [REMINDER]
    assert drive.screen(second["openid"]) == []
    inbox = api.ok("GET", "/v1/messages", first["token"])
    assert inbox["unread"] == 1 and inbox["items"][0]["title"] == INBOX["title"]
    assert api.ok("GET", "/v1/messages", second["token"])["items"] == []

    stats = api.stats(cid, ops["approver"])
    assert (stats["status"], stats["planned"], stats["sent"], stats["failed"]) == ("finished", 2, 2, 0)
    assert stats["channels"]["wechat"]["sent"] == 1 and sum(p["sent"] for p in stats["series"]) == 2
    listed = api.ok("GET", "/v1/admin/campaigns?status=finished", ops["editor"])["items"]
    assert [(c["id"], c["figures"]["sent"]) for c in listed] == [(cid, 2)]
    audit = api.ok("GET", f"/v1/admin/campaigns/{cid}/audit", ops["editor"])["items"]
    actions = [entry["action"] for entry in audit]
    assert actions[:5] == ["create", "update", "submit", "approve", "schedule"] and "start" in actions and actions[-1] == "finish"
    assert audit[3]["actor"] == approved["approved_by"] and audit[0]["actor"] == created["author"]
    versions = api.ok("GET", f"/v1/admin/campaigns/{cid}/versions", ops["approver"])["items"]
    assert [(v["version"], v["fields"], v["spec"]["note"]) for v in versions] == [(1, audit[0]["changes"]["fields"], ""),
                                                                               (2, ["note"], "三月批次")]
    assert versions[0]["written_by"] == created["author"] and versions[1]["written_by_name"] is not None


def test_only_approved_campaigns_send_and_reject_returns_to_draft(api, ops, runtime, drive) -> None:
    citizen = api.wechat_citizen(subscribe={REMINDER: 1})
    cid = api.ok("POST", "/v1/admin/campaigns", ops["editor"], wechat_campaign(), status=201)["id"]
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/schedule", ops["editor"], {}).status_code == 409
    api.ok("POST", f"/v1/admin/campaigns/{cid}/submit", ops["editor"])
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/reject", ops["approver"], {}).status_code == 422
    rejected = api.ok("POST", f"/v1/admin/campaigns/{cid}/reject", ops["approver"], {"reason": "文案需要修改"})
    assert rejected["status"] == "draft" and rejected["rejection"] == "文案需要修改"
    runtime.drain()
    assert drive.screen(citizen["openid"]) == []
    cancelled = api.ok("POST", f"/v1/admin/campaigns/{cid}/cancel", ops["editor"], {"reason": "不再需要"})
    assert cancelled["status"] == "cancelled"


def test_every_skip_reason_is_produced_and_counted_in_stats(api, ops, runtime, service, drive) -> None:
    ok = api.wechat_citizen(subscribe={REMINDER: 1})
    opted_out = api.wechat_citizen(subscribe={REMINDER: 1}, opt_outs={"policy": ["wechat"]})
    api.app_citizen()  # no WeChat binding: no_channel_address
    never_subscribed = api.wechat_citizen()
    capped = api.wechat_citizen(subscribe={POLICY: 1, REMINDER: 1})
    # two policy messages earlier today use up `capped`'s daily cap (2 per channel); only `capped`
    # subscribed to the long-term policy template, so nobody else is touched by them
    for name in ("政策一", "政策二"):
        api.launch(wechat_campaign(name=name, content={"wechat": {"template_id": POLICY, "data": POLICY_DATA}}),
                   ops["editor"], ops["approver"])
    runtime.drain()
    assert len(drive.screen(capped["openid"])) == 2

    cid = api.launch(wechat_campaign(), ops["editor"], ops["approver"])
    runtime.tick()  # started and planned …
    service.planner.plan(service.campaigns.get(cid))  # … and planned again (a crashed planner): all duplicates
    runtime.drain()

    stats = api.stats(cid, ops["editor"])
    assert stats["skipped"] == {"opted_out": 1, "no_channel_address": 1, "duplicate": 1, "frequency_cap": 1,
                                 "not_subscribed": 1, "quota_exhausted": 0}
    assert stats["skipped_by_channel"]["opted_out"] == {"wechat": 1}
    assert (stats["audience"], stats["sent"], stats["quiet_hours_deferred"]) == (5, 1, 0)
    assert [len(drive.screen(c["openid"])) for c in (ok, opted_out, never_subscribed, capped)] == [1, 0, 0, 2]


def test_quiet_hours_defer_push_channels_to_the_morning(api, ops, runtime, drive, clock) -> None:
    citizen = api.wechat_citizen(subscribe={REMINDER: 1})
    clock._now = shanghai_ts(2026, 3, 2, 23, 30)
    cid = api.launch(wechat_campaign(channels=["wechat", "inbox"], content={
        "wechat": wechat_campaign()["content"]["wechat"], "inbox": INBOX}), ops["editor"], ops["approver"])
    assert api.stats(cid, ops["editor"])["status"] == "scheduled"
    runtime.drain()
    assert drive.screen(citizen["openid"]) == []  # deferred at night …
    assert api.ok("GET", "/v1/messages/unread-count", citizen["token"]) == {"unread": 1}  # … the silent inbox is not
    stats = api.stats(cid, ops["editor"])
    assert stats["quiet_hours_deferred"] == 1 and stats["status"] == "running"
    clock._now = shanghai_ts(2026, 3, 3, 8, 0)
    runtime.drain()
    assert len(drive.screen(citizen["openid"])) == 1
    assert api.stats(cid, ops["editor"])["status"] == "finished"


def test_one_time_consent_allows_exactly_one_message(api, ops, runtime, drive) -> None:
    citizen = api.wechat_citizen(subscribe={REMINDER: 1})
    ledger = {s["template_id"]: s for s in api.ok("GET", "/v1/subscriptions?channel=wechat", citizen["token"])["items"]}
    assert (ledger[REMINDER]["kind"], ledger[REMINDER]["remaining"], ledger[REMINDER]["active"]) == ("one_time", 1, True)
    assert ledger[POLICY]["kind"] == "long_term" and ledger[POLICY]["active"] is False

    first = api.launch(wechat_campaign(name="第一次"), ops["editor"], ops["approver"])
    api.ok("GET", f"/v1/admin/campaigns/{first}/preview", ops["editor"])  # previews consume nothing
    runtime.drain()
    second = api.launch(wechat_campaign(name="第二次"), ops["editor"], ops["approver"])
    runtime.drain()
    assert len(drive.screen(citizen["openid"])) == 1
    assert api.stats(second, ops["editor"])["skipped"]["not_subscribed"] == 1
    assert drive.counters()["wechat.subscribe_send"] == 1
    ledger = {s["template_id"]: s for s in api.ok("GET", "/v1/subscriptions", citizen["token"])["items"]}
    assert ledger[REMINDER]["remaining"] == 0 and ledger[REMINDER]["active"] is False
    del first


def test_opt_out_through_preferences_is_honoured_and_service_notices_still_reach_the_inbox(api, ops, runtime, drive) -> None:
    citizen = api.wechat_citizen(subscribe={REMINDER: 2})
    api.ok("PUT", "/v1/me/preferences", citizen["token"], {"push_opt_outs": {"policy": ["wechat"]}})
    policy = api.launch(wechat_campaign(), ops["editor"], ops["approver"])
    runtime.drain()
    assert drive.screen(citizen["openid"]) == []
    assert api.stats(policy, ops["editor"])["skipped"]["opted_out"] == 1
    service_notice = api.launch(wechat_campaign(name="办件提醒", category="service", content={
        "wechat": wechat_campaign()["content"]["wechat"], "inbox": INBOX}), ops["editor"], ops["approver"])
    runtime.drain()
    assert len(drive.screen(citizen["openid"])) == 1  # service notices have no opt-out
    assert api.stats(service_notice, ops["editor"])["sent"] == 2
    # opting back in counts again for the next policy message
    api.ok("PUT", "/v1/me/preferences", citizen["token"], {"push_opt_outs": {"policy": []}})
    preview = api.ok("GET", f"/v1/admin/campaigns/{api.ok('POST', '/v1/admin/campaigns', ops['editor'], wechat_campaign(), status=201)['id']}/preview", ops["editor"])
    assert preview["skipped"]["opted_out"] == 0 and preview["enqueued"] == 1


def test_wechat_43101_zeroes_the_quota(api, ops, runtime, drive) -> None:
    citizen = api.wechat_citizen(subscribe={REMINDER: 3})
    drive.cancel_subscription(citizen["openid"], REMINDER)  # switched off in WeChat; we never heard of it
    cid = api.launch(wechat_campaign(), ops["editor"], ops["approver"])
    runtime.drain()
    stats = api.stats(cid, ops["editor"])
    assert stats["failed"] == 1 and stats["failed_codes"] == {"wechat": {"43101": 1}} and stats["retries"] == 0
    ledger = {s["template_id"]: s for s in api.ok("GET", "/v1/subscriptions", citizen["token"])["items"]}
    assert ledger[REMINDER]["remaining"] == 0


def test_console_helpers_and_bad_input(api, ops, client) -> None:
    tree = api.ok("GET", "/v1/admin/regions", ops["editor"])
    hohhot = next(city for city in tree["children"] if city["code"] == "150100")
    assert tree["code"] == "150000" and any(county["code"] == "150102" for county in hohhot["children"])
    templates = api.ok("GET", "/v1/admin/push-templates", ops["approver"])["items"]
    assert {"wechat", "alipay"} <= {t["channel"] for t in templates}

    api.wechat_citizen(subscribe={REMINDER: 1})
    api.wechat_citizen(region="150203")
    api.app_citizen(region="150121")
    whole_city = api.ok("POST", "/v1/admin/audience/estimate", ops["editor"], {"audience": {"regions": ["150100"]}})
    assert whole_city == {"audience": 2, "reachable": {"wechat": 1, "alipay": 0, "app": 0, "inbox": 2}}
    everyone = api.ok("POST", "/v1/admin/audience/estimate", ops["editor"], {"audience": {}, "category": "marketing"})
    assert everyone["audience"] == 3

    bad_value = dict(wechat_campaign()["content"]["wechat"], data={"thing1": "认证", "phrase2": "还没有开始办理", "time3": "10:00", "thing4": "x"})
    answer = api.call("POST", "/v1/admin/campaigns", ops["editor"], wechat_campaign(content={"wechat": bad_value}))
    assert answer.status_code == 422 and answer.get_json()["error"] == "invalid_template_data"
    assert answer.get_json()["errors"]["field"] == "data.phrase2.value"
    for spec, error in ((wechat_campaign(audience={"regions": ["159999"]}), "unknown_region"),
                        (wechat_campaign(audience={"handled": ["X9999"]}), "unknown_item"),
                        (wechat_campaign(content={"wechat": {"template_id": "nope", "data": {}}}), "unknown_template"),
                        (wechat_campaign(category="spam"), "validation_failed"),
                        (wechat_campaign(channels=["wechat", "inbox"]), "invalid_input")):
        answer = api.call("POST", "/v1/admin/campaigns", ops["editor"], spec)
        assert answer.status_code == 422 and answer.get_json()["error"] == error, (spec, answer.get_json())
    assert api.call("POST", "/v1/admin/campaigns", ops["approver"], wechat_campaign()).status_code == 403
    assert api.call("GET", "/v1/admin/campaigns/cmp_missing", ops["editor"]).get_json()["error"] == "campaign_not_found"
    citizen = api.wechat_citizen()
    assert api.call("GET", "/v1/admin/campaigns", citizen["token"]).status_code == 401  # a citizen token at the console
    assert api.call("GET", "/v1/messages", ops["editor"]).status_code == 401  # and the reverse


def test_who_else_could_read_a_campaigns_versions(api, ops) -> None:
    """`GET /v1/admin/campaigns/<id>/versions` is operators' only: no token, a citizen's token or an
    unknown or unstorable id learn nothing (401/401/404), never a 500."""
    created = api.ok("POST", "/v1/admin/campaigns", ops["editor"], {
        "name": "版本", "category": "policy", "channels": ["inbox"], "audience": {"regions": ["150102"]},
        "content": {"inbox": {"title": "通知", "text": "内容"}}}, status=201)
    path = f"/v1/admin/campaigns/{created['id']}/versions"
    assert api.call("GET", path).status_code == 401
    citizen = api.wechat_citizen()
    refused = api.call("GET", path, citizen["token"])
    assert refused.status_code in (401, 403) and "spec" not in refused.get_data(as_text=True)
    assert api.call("GET", "/v1/admin/campaigns/cmp_unknown/versions", ops["approver"]).status_code == 404
    assert api.call("GET", "/v1/admin/campaigns/%00%F0/versions", ops["approver"]).status_code == 404
    assert len(api.ok("GET", path, ops["approver"])["items"]) == 1
