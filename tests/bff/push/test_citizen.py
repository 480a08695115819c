"""Citizen side over HTTP: recommendations and behaviour events, the inbox, APP devices, the
subscription popup, and WeChat's message-push URL (signature, quota changes, delivery status)."""
from __future__ import annotations

import json

from tests.bff.push.conftest import REMINDER, wechat_campaign

INBOX = {"title": "证照到期提醒", "text": "您的居民身份证将于下月到期，请及时换领。"}


def test_recommendations_change_after_events_and_carry_reasons(api) -> None:
    anonymous = api.call("GET", "/v1/recommendations?region=150102")
    assert anonymous.status_code == 200 and anonymous.headers["Cache-Control"].startswith("public")
    body = anonymous.get_json()
    assert body["personalised"] is False and 1 <= len(body["items"]) <= 5
    assert all(item["reason"] and item["basic_code"] and item["name"] for item in body["items"])

    citizen = api.wechat_citizen()
    before = api.ok("GET", "/v1/recommendations", citizen["token"])
    assert before["personalised"] is True
    accepted = api.ok("POST", "/v1/events", citizen["token"], {"events": [
        {"type": "search", "query": "出生医学证明"}, {"type": "view", "item": "B0001"}]}, status=202)
    assert accepted == {"accepted": 2}
    after = api.ok("GET", "/v1/recommendations?limit=10", citizen["token"])
    assert after["items"] != before["items"]
    assert any(item["reason_code"] in ("search", "theme") and "您最近" in item["reason"] for item in after["items"])
    assert all(item["reason"] for item in after["items"])

    # handling started and not finished comes first; finished items are never recommended
    api.ok("POST", "/v1/events", citizen["token"], {"events": [{"type": "start", "item": "B0002"}]}, status=202)
    top = api.ok("GET", "/v1/recommendations", citizen["token"])["items"][0]
    assert (top["basic_code"], top["reason_code"]) == ("B0002", "in_progress")
    api.ok("POST", "/v1/events", citizen["token"], {"events": [{"type": "finish", "item": "B0002"}]}, status=202)
    assert "B0002" not in {i["basic_code"] for i in api.ok("GET", "/v1/recommendations", citizen["token"])["items"]}

    # anonymous events feed the region's popularity
    api.ok("POST", "/v1/events", body={"region": "150203", "events": [{"type": "finish", "item": "B0003"}] * 3}, status=202)
    popular = api.ok("GET", "/v1/recommendations?region=150203")["items"]
    assert popular[0]["basic_code"] == "B0003" and popular[0]["reason_code"] == "popular_region"


def test_events_and_recommendations_refuse_bad_input(api) -> None:
    citizen = api.wechat_citizen()
    for events, status, error in (
        ([{"type": "teleport"}], 422, "validation_failed"),
        ([{"type": "view", "item": "Z9999"}], 422, "unknown_item"),
        ([{"type": "view"}], 422, "unknown_item"),
        ([{"type": "search", "query": "x" * 51}], 422, "validation_failed"),
        ([{"type": "view", "item": "B0001"}] * 51, 413, "too_many_events"),
        ([], 422, "validation_failed"),
    ):
        answer = api.call("POST", "/v1/events", citizen["token"], {"events": events})
        assert (answer.status_code, answer.get_json()["error"]) == (status, error), answer.get_json()
    assert api.call("GET", "/v1/recommendations?region=159999").get_json()["error"] == "unknown_region"
    assert api.call("GET", "/v1/recommendations?region=abc").status_code == 422
    assert api.call("GET", "/v1/recommendations", "not-a-token").status_code == 401


def test_inbox_read_flow(api, ops, runtime, clock) -> None:
    citizen = api.wechat_citizen()
    cid = api.launch({"name": "证照到期", "category": "service", "channels": ["inbox"], "content": {"inbox": INBOX},
                      "audience": {"regions": ["150102"]}}, ops["editor"], ops["approver"])
    runtime.drain()
    # Same clock instant on purpose: the cursor must page through messages that tie on delivery time.
    second = api.launch({"name": "证照到期二", "category": "service", "channels": ["inbox"], "content": {"inbox": INBOX},
                         "audience": {"regions": ["150102"]}}, ops["editor"], ops["approver"])
    runtime.drain()
    page = api.ok("GET", "/v1/messages?limit=1", citizen["token"])
    assert page["unread"] == 2 and len(page["items"]) == 1 and page["next_cursor"] is not None
    rest = api.ok("GET", "/v1/messages", citizen["token"], query_string={"limit": 1, "cursor": page["next_cursor"]})
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert rest["items"][0]["id"] != page["items"][0]["id"]
    bad = api.call("GET", "/v1/messages", citizen["token"], query_string={"cursor": "nonsense"})
    assert bad.status_code == 422
    message = page["items"][0]
    assert message["read"] is False and message["text"] == INBOX["text"]
    assert api.ok("POST", f"/v1/messages/{message['id']}/read", citizen["token"]) == {"marked": 1, "unread": 1}
    assert api.ok("POST", f"/v1/messages/{message['id']}/read", citizen["token"]) == {"marked": 0, "unread": 1}
    assert api.ok("GET", "/v1/messages", citizen["token"])["items"][0]["read"] is True
    missing = api.call("POST", "/v1/messages/cmp_x.inbox.999/read", citizen["token"])
    assert missing.status_code == 404 and missing.get_json()["error"] == "message_not_found"
    assert api.ok("POST", "/v1/messages/read-all", citizen["token"]) == {"marked": 1, "unread": 0}
    opened = api.stats(cid, ops["editor"])["opened"] + api.stats(second, ops["editor"])["opened"]
    assert opened == 2
    # a click on the message counts once for its campaign
    click = {"events": [{"type": "click", "message_id": message["id"]}]}
    api.ok("POST", "/v1/events", citizen["token"], click, status=202)
    api.ok("POST", "/v1/events", citizen["token"], click, status=202)
    assert sum(api.stats(c, ops["editor"])["clicked"] for c in (cid, second)) == 1
    assert api.call("GET", "/v1/messages").status_code == 401


def test_app_devices_receive_pushes_until_removed(api, ops, runtime, drive) -> None:
    citizen = api.app_citizen()
    token = drive.device()
    assert api.call("POST", "/v1/devices", citizen["token"], {"device_token": token, "platform": "nokia"}).status_code == 422
    assert api.ok("POST", "/v1/devices", citizen["token"], {"device_token": token, "platform": "huawei"}) == {
        "registered": True, "platform": "huawei"}
    spec = {"name": "医保缴费", "category": "policy", "channels": ["app"],
            "content": {"app": {"title": "医保缴费提醒", "body": "2026年城乡居民医保开始缴费"}}, "audience": {"regions": ["150102"]}}
    preview = api.ok("GET", f"/v1/admin/campaigns/{api.ok('POST', '/v1/admin/campaigns', ops['editor'], spec, status=201)['id']}/preview", ops["editor"])
    assert preview["channels"]["app"]["enqueued"] == 1
    api.launch(spec, ops["editor"], ops["approver"])
    runtime.drain()
    assert [m["title"] for m in drive.device_messages(token)] == ["医保缴费提醒"]
    assert api.ok("DELETE", "/v1/devices", citizen["token"]) == {"removed": True}
    assert api.ok("DELETE", "/v1/devices", citizen["token"]) == {"removed": False}


def test_subscription_popup_results_are_validated(api) -> None:
    citizen = api.wechat_citizen()
    for body, error in (({"channel": "wechat", "results": {"wx_tpl_unknown": "accept"}}, "unknown_template"),
                        ({"channel": "wechat", "results": {REMINDER: "maybe"}}, "validation_failed"),
                        ({"channel": "app", "results": {REMINDER: "accept"}}, "validation_failed"),
                        ({"channel": "wechat", "results": {}}, "validation_failed")):
        answer = api.call("POST", "/v1/subscriptions", citizen["token"], body)
        assert (answer.status_code, answer.get_json()["error"]) == (422, error)
    items = api.ok("POST", "/v1/subscriptions", citizen["token"], {"channel": "wechat", "results": {REMINDER: "accept"}})["items"]
    assert {s["template_id"]: s["remaining"] for s in items}[REMINDER] == 1
    items = api.ok("POST", "/v1/subscriptions", citizen["token"], {"channel": "wechat", "results": {REMINDER: "ban"}})["items"]
    assert {s["template_id"]: s["remaining"] for s in items}[REMINDER] == 0
    assert api.call("POST", "/v1/subscriptions", body={"channel": "wechat", "results": {REMINDER: "accept"}}).status_code == 401


def test_wechat_push_url_verifies_signatures_and_applies_events(api, ops, runtime, drive, clock, client) -> None:
    from push.wechat_events import signature

    now = str(int(clock.now()))
    good = {"signature": signature("msb_sandbox_push_token", now, "abc"), "timestamp": now, "nonce": "abc", "echostr": "hello123"}
    echoed = client.get("/v1/channels/wechat/events", query_string=good)
    assert echoed.status_code == 200 and echoed.get_data(as_text=True) == "hello123" and echoed.mimetype == "text/plain"
    forged = client.get("/v1/channels/wechat/events", query_string={**good, "signature": "0" * 40})
    assert forged.status_code == 401 and forged.get_json()["error"] == "event_signature_invalid"
    assert client.post("/v1/channels/wechat/events", data="{}").status_code == 401
    stale = client.get("/v1/channels/wechat/events", query_string={
        **good, "timestamp": str(int(clock.now()) - 3600), "signature": signature("msb_sandbox_push_token", str(int(clock.now()) - 3600), "abc")})
    assert stale.status_code == 401 and stale.get_json()["errors"]["reason"] == "timestamp"

    citizen = api.wechat_citizen(subscribe={REMINDER: 2})
    # a sent event for our message updates its delivery status (the sandbox signs with its own
    # clock; the push clock here is fixed, so the body is re-signed with it)
    cid = api.launch(wechat_campaign(), ops["editor"], ops["approver"])
    runtime.drain()
    sent = [e for e in drive.events() if e["event"] == "subscribe_msg_sent_event"]
    assert len(sent) == 1
    body = sent[0]["body"] if isinstance(sent[0]["body"], str) else json.dumps(sent[0]["body"])
    answer = api.wechat_event(body, clock.now(), nonce="sent-1")
    assert answer.status_code == 200 and answer.get_data(as_text=True) == "success"
    assert api.stats(cid, ops["editor"])["delivered"] == 1
    replay = api.wechat_event(body, clock.now(), nonce="sent-1")
    assert replay.status_code == 401 and replay.get_json()["errors"]["reason"] == "replayed"

    # the citizen switches the template off in WeChat: the change event zeroes the quota
    remaining = {s["template_id"]: s["remaining"] for s in api.ok("GET", "/v1/subscriptions", citizen["token"])["items"]}
    assert remaining[REMINDER] == 1
    drive.cancel_subscription(citizen["openid"], REMINDER)
    change = [e for e in drive.events() if e["event"] == "subscribe_msg_change_event"][-1]
    body = change["body"] if isinstance(change["body"], str) else json.dumps(change["body"])
    assert api.wechat_event(body, clock.now(), nonce="change-1").status_code == 200
    remaining = {s["template_id"]: s["remaining"] for s in api.ok("GET", "/v1/subscriptions", citizen["token"])["items"]}
    assert remaining[REMINDER] == 0
    # sent as application/json: the app-wide body gate refuses it (bff.request_body), like any JSON body
    assert api.wechat_event("not json", clock.now(), nonce="bad-1").get_json()["error"] == "invalid_json"
