"""Sending through the live sandbox: WeChat 43101 zeroes the ledger, permanent vs retryable errors
(injected faults), dead letters, auto-pause and resume, the APP gateway and Alipay."""
from __future__ import annotations

import json

from push import keys
from tests.push.conftest import APPROVER, EDITOR, FIRST_SHARD, REMINDER, delayed_entries, launch, wechat_campaign


def test_wechat_43101_zeroes_the_ledger(service, citizens, runtime, drive) -> None:
    citizen = citizens.make(subscribe={REMINDER: 3})
    idx = service.index.find(citizen["account_id"])
    drive.cancel_subscription(citizen["openid"], REMINDER)  # WeChat knows; the change event never reached us
    assert service.consent.remaining(idx, "wechat", REMINDER) == 3
    campaign_id = launch(service, wechat_campaign())
    runtime.drain()
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert stats["failed"] == 1 and stats["failed_codes"] == {"wechat": {"43101": 1}}
    assert stats["retries"] == 0  # permanent: never retried
    assert service.consent.remaining(idx, "wechat", REMINDER) == 0
    assert drive.counters()["wechat.subscribe_send"] == 1


def test_retryable_errors_back_off_and_then_succeed(service, citizens, runtime, drive, clock) -> None:
    citizen = citizens.make(subscribe={REMINDER: 1})
    drive.fault("wechat.subscribe_send", times=1, error={"errcode": -1})
    drive.fault("wechat.subscribe_send", times=1, error={"errcode": 45009})
    campaign_id = launch(service, wechat_campaign())
    runtime.drain()
    assert drive.screen(citizen["openid"]) == []
    retry_at = delayed_entries(service.redis)[0][1]
    assert retry_at == clock.now() + 5  # backoff 5 s × 2^0
    clock.advance(5)
    runtime.drain()
    retry_at = delayed_entries(service.redis)[0][1]
    assert retry_at == clock.now() + 10  # × 2^1
    clock.advance(10)
    runtime.drain()
    assert len(drive.screen(citizen["openid"])) == 1
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert (stats["sent"], stats["retries"], stats["failed"], stats["status"]) == (1, 2, 0, "finished")


def test_permanent_errors_are_not_retried(service, citizens, runtime, drive) -> None:
    citizens.make(subscribe={REMINDER: 1})
    drive.fault("wechat.subscribe_send", times=1, error={"errcode": 47003, "errmsg": "argument invalid! data.thing1.value invalid"})
    campaign_id = launch(service, wechat_campaign())
    runtime.drain()
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert stats["failed_codes"] == {"wechat": {"47003": 1}} and stats["retries"] == 0
    assert delayed_entries(service.redis) == []
    assert stats["status"] == "finished"


def test_exhausted_retries_go_to_the_dead_letter_stream_and_refund_consent(service, citizens, runtime, drive, clock) -> None:
    citizen = citizens.make(subscribe={REMINDER: 1})
    idx = service.index.find(citizen["account_id"])
    drive.fault("wechat.subscribe_send", times=None, error={"errcode": -1})  # until cleared
    campaign_id = launch(service, wechat_campaign())
    for _ in range(3):  # max_attempts = 3
        runtime.drain()
        clock.advance(60)
    dead = service.dead_letters(APPROVER, campaign_id=campaign_id)
    assert [(d["channel"], d["code"], d["attempts"]) for d in dead] == [("wechat", "-1", 3)]
    assert service.consent.remaining(idx, "wechat", REMINDER) == 1  # the accept was never used
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert (stats["dead"], stats["failed"], stats["status"]) == (1, 1, "finished")
    assert drive.counters()["wechat.subscribe_send"] == 3


def test_auto_pause_above_the_error_rate_and_resume_where_it_stopped(service, citizens, make_runtime, push_settings, drive, clock) -> None:
    people = [citizens.make(subscribe={REMINDER: 1}) for _ in range(12)]
    runtime = make_runtime(push_settings.with_changes(pause_min_attempts=4, pause_error_rate=0.5, concurrency=2, max_attempts=5))
    drive.fault("wechat.subscribe_send", times=None, error={"errcode": -1})
    campaign_id = launch(service, wechat_campaign())
    runtime.drain()
    campaign = service.get_campaign(EDITOR, campaign_id)
    assert campaign["status"] == "paused" and campaign["paused_reason"] == "error_rate"
    attempts_when_paused = drive.counters()["wechat.subscribe_send"]
    assert attempts_when_paused < 12  # it stopped instead of burning through the audience
    assert service.campaign_audit(EDITOR, campaign_id)[-1]["actor"] == "system"
    clock.advance(60)
    runtime.drain()  # retries and the rest of the queue are parked while paused
    assert drive.counters()["wechat.subscribe_send"] == attempts_when_paused

    drive.clear_faults()
    resumed = service.resume_campaign(APPROVER, campaign_id)
    assert resumed["status"] == "running" and resumed["resumed_batches"] >= 1
    runtime.drain()
    clock.advance(600)
    runtime.drain()
    assert all(len(drive.screen(p["openid"])) == 1 for p in people)  # everyone, exactly once
    assert service.get_campaign(EDITOR, campaign_id)["status"] == "finished"


def test_operator_pause_parks_and_cancel_settles(service, citizens, runtime, drive) -> None:
    people = [citizens.make(subscribe={REMINDER: 1}) for _ in range(3)]
    campaign_id = launch(service, wechat_campaign())
    runtime.tick()  # planned, queued
    service.pause_campaign(EDITOR, campaign_id, "核对文案")
    runtime.drain()
    assert service.redis.llen(keys.parked(FIRST_SHARD, campaign_id)) == 1
    service.cancel_campaign(APPROVER, campaign_id, "活动取消")
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert stats["cancelled"] == 3 and stats["outstanding"] == 0
    assert all(drive.screen(p["openid"]) == [] for p in people)


def test_app_push_marketing_class_and_expired_tokens(service, citizens, runtime, drive) -> None:
    ok = citizens.make(wechat=False, device=True)
    gone = citizens.make(wechat=False, device=True)
    drive.call("POST", f"/app-push/devices/{gone['device_token']}/expire")
    spec = wechat_campaign(category="marketing", channels=["app"], page="pages/theme/T05",
                           content={"app": {"title": "退休一件事", "body": "退休手续一次办好", "payload": {"theme": "T05"}}})
    campaign_id = launch(service, spec)
    runtime.drain()
    [received] = drive.device_messages(ok["device_token"])
    assert received["category"] == "marketing" and received["payload"]["page"] == "pages/theme/T05"
    assert received["payload"]["message_id"].startswith(campaign_id + ".app.")
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert stats["failed_codes"] == {"app": {"TOKEN_EXPIRED": 1}}
    idx = service.index.find(gone["account_id"])
    assert service.redis.hget(keys.address(keys.shard_of(idx), "app"), idx) is None  # the dead token is forgotten


def test_alipay_template_messages(service, citizens, runtime, drive) -> None:
    citizen = citizens.make(wechat=False, alipay=True)
    drive.call("POST", "/alipay/subscriptions", {"open_id": citizen["open_id"], "template_id": "ali_tpl_service_reminder"})
    service.record_subscriptions(citizen["account_id"], "alipay", {"ali_tpl_service_reminder": "accept"})
    spec = wechat_campaign(category="service", channels=["alipay"], content={
        "alipay": {"template_id": "ali_tpl_service_reminder", "data": {"keyword1": "社会保障卡申领", "keyword2": "已制卡，请领取"}},
        "inbox": {"title": "社保卡已制卡", "text": "您申领的社会保障卡已制卡，请到网点领取。"}})
    campaign_id = launch(service, spec)
    runtime.drain()
    [message] = drive.call("GET", "/alipay/messages", open_id=citizen["open_id"])["messages"]
    assert message["data"] == {"keyword1": "社会保障卡申领", "keyword2": "已制卡，请领取"}
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert stats["channels"]["alipay"]["sent"] == 1 and stats["channels"]["inbox"]["sent"] == 1
    item = service.inbox(citizen["account_id"])["items"][0]
    assert item["title"] == "社保卡已制卡" and item["read"] is False
    assert json.loads(json.dumps(item))  # JSON-ready


def test_stale_access_token_gets_one_passive_refresh(service, citizens, runtime, drive) -> None:
    citizen = citizens.make(subscribe={REMINDER: 1})
    drive.fault("wechat.subscribe_send", times=1, error={"errcode": 40001})
    campaign_id = launch(service, wechat_campaign())
    runtime.drain()
    assert len(drive.screen(citizen["openid"])) == 1
    counters = drive.counters()
    assert counters["wechat.subscribe_send"] == 2 and counters["wechat.access_tokens_issued"] == 2  # one refresh
    assert service.campaign_stats(EDITOR, campaign_id)["retries"] == 0


def test_channel_rate_limit_paces_sends(service, citizens, make_runtime, push_settings) -> None:
    import time

    people = [citizens.make(wechat=False) for _ in range(45)]
    runtime = make_runtime(push_settings.with_changes(rates={**push_settings.rates, "inbox": 20.0}))
    campaign_id = launch(service, wechat_campaign(channels=["inbox"], content={"inbox": {"title": "提醒", "text": "请查看。"}}))
    runtime.tick()
    started = time.monotonic()
    runtime.drain()
    elapsed = time.monotonic() - started
    assert service.campaign_stats(EDITOR, campaign_id)["sent"] == len(people)
    assert elapsed >= 1.1  # a burst of 20, then 20/s: 45 messages need at least 1.25 s
