"""The subscription ledger, WeChat's pushed events (signature, replay, encryption, effects) and
behaviour-event validation."""
from __future__ import annotations

import json
import time

import pytest

from push import keys
from push.errors import EventSignatureInvalid, InvalidInput, TooManyEvents, UnknownItem, UnknownTemplate
from push.wechat_events import decrypt_message, encrypt_message, signature
from tests.push.conftest import EDITOR, POLICY, REMINDER, launch, wechat_campaign

TOKEN = "msb_sandbox_push_token"


def feed_events(service, drive, after: int = 0) -> int:
    """Deliver the sandbox's queued push events to our intake, as WeChat would POST them."""
    events = drive.events(after)
    for event in events:
        service.wechat_event(event["query"], event["body"])
    return events[-1]["seq"] if events else after


def test_client_report_and_popup_event_for_the_same_tap_count_once(service, citizens, drive, clock) -> None:
    clock._now = time.time()  # the sandbox signs events with real timestamps
    citizen = citizens.make(subscribe={REMINDER: 2})  # two taps, each reported by the client
    idx = service.index.find(citizen["account_id"])
    assert service.consent.remaining(idx, "wechat", REMINDER) == 2
    feed_events(service, drive)  # … and each pushed by WeChat as a popup event
    assert service.consent.remaining(idx, "wechat", REMINDER) == 2
    drive.subscribe(citizen["openid"], REMINDER)  # a third tap, known only from the event
    seq = feed_events(service, drive, after=2)
    assert service.consent.remaining(idx, "wechat", REMINDER) == 3
    drive.cancel_subscription(citizen["openid"], REMINDER)  # switched off in WeChat settings
    feed_events(service, drive, after=seq)
    assert service.consent.remaining(idx, "wechat", REMINDER) == 0


def test_long_term_ban_and_validation(service, citizens) -> None:
    citizen = citizens.make()
    subs = service.record_subscriptions(citizen["account_id"], "wechat", {POLICY: "accept", REMINDER: "reject"})
    by_id = {s["template_id"]: s for s in subs}
    assert by_id[POLICY]["active"] and by_id[POLICY]["remaining"] is None and by_id[POLICY]["kind"] == "long_term"
    assert by_id[REMINDER] == {**by_id[REMINDER], "active": False, "remaining": 0}
    service.record_subscriptions(citizen["account_id"], "wechat", {POLICY: "ban"})
    assert not {s["template_id"]: s for s in service.list_subscriptions(citizen["account_id"])}[POLICY]["active"]
    with pytest.raises(UnknownTemplate):
        service.record_subscriptions(citizen["account_id"], "wechat", {"tpl_x": "accept"})
    with pytest.raises(InvalidInput):
        service.record_subscriptions(citizen["account_id"], "app", {POLICY: "accept"})
    with pytest.raises(InvalidInput):
        service.record_subscriptions(citizen["account_id"], "wechat", {POLICY: "maybe"})


def test_event_signature_timestamp_and_replay(service, clock) -> None:
    now = str(int(clock.now()))
    body = json.dumps({"ToUserName": "gh_x", "FromUserName": "o_unknown", "CreateTime": int(now), "MsgType": "event",
                       "Event": "subscribe_msg_change_event", "List": {"TemplateId": REMINDER, "SubscribeStatusString": "reject"}})
    query = {"signature": signature(TOKEN, now, "123"), "timestamp": now, "nonce": "123"}
    assert service.wechat_event(query, body) == {"handled": 0, "ignored": 1}  # unknown openid: verified, ignored
    with pytest.raises(EventSignatureInvalid) as replay:
        service.wechat_event(query, body)
    assert replay.value.details["reason"] == "replayed" and replay.value.http_status == 401
    with pytest.raises(EventSignatureInvalid):
        service.wechat_event({**query, "nonce": "124"}, body)  # signature no longer matches
    stale = str(int(clock.now()) - 3600)
    with pytest.raises(EventSignatureInvalid) as old:
        service.wechat_event({"signature": signature(TOKEN, stale, "9"), "timestamp": stale, "nonce": "9"}, body)
    assert old.value.details["reason"] == "timestamp"
    echo = service.wechat_verify_url({"signature": signature(TOKEN, now, "7"), "timestamp": now, "nonce": "7", "echostr": "abc"})
    assert echo == "abc"


def test_sent_events_count_deliveries(service, citizens, make_runtime, push_settings, drive, clock) -> None:
    clock._now = time.time()  # the sandbox signs events with real timestamps …
    runtime = make_runtime(push_settings.with_changes(quiet_start="00:00", quiet_end="00:00"))  # … at any hour
    ok = citizens.make(subscribe={REMINDER: 1})
    blocked = citizens.make(subscribe={REMINDER: 1})
    drive.call("POST", "/wechat/async-failures", {"openid": blocked["openid"], "error_code": 10005})
    campaign_id = launch(service, wechat_campaign())
    runtime.drain()
    seq = feed_events(service, drive)
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert (stats["sent"], stats["delivered"], stats["delivery_failed"]) == (2, 1, 1)
    assert ok and seq > 0


def test_encrypted_and_xml_events(service, citizens, clock) -> None:
    aes_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    service.wechat_events._aes_key = aes_key  # noqa: SLF001 - safe mode switched on for this test
    citizen = citizens.make()
    idx = service.index.find(citizen["account_id"])
    inner = (f"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[{citizen['openid']}]]></FromUserName>"
             f"<CreateTime>{int(clock.now())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
             f"<Event><![CDATA[subscribe_msg_popup_event]]></Event>"
             f"<List><TemplateId><![CDATA[{REMINDER}]]></TemplateId><SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString>"
             f"<PopupScene>0</PopupScene></List></xml>")
    encrypted = encrypt_message(aes_key, "wx_sandbox_app", inner)
    assert decrypt_message(aes_key, "wx_sandbox_app", encrypted) == inner
    now = str(int(clock.now()))
    query = {"signature": signature(TOKEN, now, "5"), "timestamp": now, "nonce": "5", "encrypt_type": "aes",
             "msg_signature": signature(TOKEN, now, "5", encrypted)}
    assert service.wechat_event(query, json.dumps({"ToUserName": "gh_x", "Encrypt": encrypted}))["handled"] == 1
    assert service.consent.remaining(idx, "wechat", REMINDER) == 1
    bad = {**query, "nonce": "6", "signature": signature(TOKEN, now, "6"), "msg_signature": "0" * 40}
    with pytest.raises(EventSignatureInvalid):
        service.wechat_event(bad, json.dumps({"Encrypt": encrypted}))
    with pytest.raises(EventSignatureInvalid):
        decrypt_message(aes_key, "wx_other_app", encrypted)


def test_behaviour_events_are_validated_and_feed_segments(service, citizens, reference) -> None:
    citizen = citizens.make()
    idx = service.index.find(citizen["account_id"])
    with pytest.raises(TooManyEvents) as too_many:
        service.record_events(citizen["account_id"], [{"type": "view", "item": "B0007"}] * 51)
    assert too_many.value.http_status == 413
    with pytest.raises(InvalidInput):
        service.record_events(citizen["account_id"], [{"type": "purchase", "item": "B0007"}])
    with pytest.raises(UnknownItem):
        service.record_events(citizen["account_id"], [{"type": "view", "item": "B9999"}])
    with pytest.raises(InvalidInput):
        service.record_events(citizen["account_id"], [{"type": "search", "query": "x" * 51}])
    assert service.redis.llen(keys.behaviour(idx)) == 0  # a bad batch records nothing
    result = service.record_events(citizen["account_id"], [{"type": "search", "query": "出生医学证明"},
                                                          {"type": "finish", "item": "B0007"}])
    assert result == {"accepted": 2}
    assert service.redis.getbit(keys.seg_item(keys.shard_of(idx), "B0165", "search"), keys.bit_of(idx)) == 1
    assert service.redis.getbit(keys.seg_item(keys.shard_of(idx), "B0007", "finish"), keys.bit_of(idx)) == 1
    assert service.redis.getbit(keys.seg_theme(keys.shard_of(idx), "T01"), keys.bit_of(idx)) == 1
    assert reference.item("B0165").themes == ("T01",)


def test_clicks_count_once_and_only_for_real_messages(service, citizens, runtime) -> None:
    citizen = citizens.make()
    other = citizens.make()
    campaign_id = launch(service, wechat_campaign(channels=["inbox"], content={"inbox": {"title": "提醒", "text": "请查看。"}}))
    runtime.drain()
    [item] = service.inbox(citizen["account_id"])["items"]
    for _ in range(2):
        service.record_events(citizen["account_id"], [{"type": "click", "message_id": item["id"]}])
    service.record_events(other["account_id"], [{"type": "click", "message_id": item["id"]}])  # not theirs
    assert service.mark_inbox_read(citizen["account_id"], [item["id"]]) == {"marked": 1, "unread": 0}
    assert service.mark_inbox_read(citizen["account_id"]) == {"marked": 0, "unread": 0}
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert (stats["clicked"], stats["opened"]) == (1, 1)
    assert service.inbox(citizen["account_id"])["items"][0]["read"] is True
