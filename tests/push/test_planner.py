"""The pre-send checks in order, each skip reason produced and counted, quiet hours, consent consumed
exactly once, caps, and a preview that consumes nothing."""
from __future__ import annotations

from kernel.clock import shanghai_ts
from tests.push.conftest import EDITOR, POLICY, POLICY_DATA, REMINDER, delayed_entries, launch, wechat_campaign


def test_every_skip_reason_is_produced_and_counted(service, citizens, runtime, drive, clock) -> None:
    ok = citizens.make(subscribe={REMINDER: 1})
    opted_out = citizens.make(subscribe={REMINDER: 1}, opt_outs={"policy": ["wechat"]})
    no_address = citizens.make(wechat=False)
    never_subscribed = citizens.make()
    capped = citizens.make(region="150103", subscribe={POLICY: 1, REMINDER: 1})  # 回民区, inside 呼和浩特 too

    # two earlier policy messages today, to 回民区 only, use up `capped`'s daily cap (2 per push channel)
    policy = {"template_id": POLICY, "data": POLICY_DATA}
    for name in ("政策一", "政策二"):
        launch(service, wechat_campaign(name=name, content={"wechat": policy}, audience={"regions": ["150103"]}))
    runtime.drain()
    assert len(drive.screen(capped["openid"])) == 2

    campaign_id = launch(service, wechat_campaign())
    runtime.tick()  # started and planned
    service.planner.plan(service.campaigns.get(campaign_id))  # re-planning: every queued message is a duplicate
    runtime.drain()

    stats = service.campaign_stats(EDITOR, campaign_id)
    assert stats["skipped"] == {"opted_out": 1, "no_channel_address": 1, "duplicate": 1, "frequency_cap": 1,
                                 "not_subscribed": 1, "quota_exhausted": 0}
    assert stats["sent"] == 1 and stats["audience"] == 5
    assert [len(drive.screen(c["openid"])) for c in (ok, opted_out, never_subscribed, capped)] == [1, 0, 0, 2]
    assert stats["skipped_by_channel"]["opted_out"] == {"wechat": 1}
    del no_address


def test_one_time_consent_is_consumed_exactly_once(service, citizens, runtime, drive) -> None:
    citizen = citizens.make(subscribe={REMINDER: 1})
    idx = service.index.find(citizen["account_id"])
    first = launch(service, wechat_campaign(name="第一次"))
    service.preview_campaign(EDITOR, first)  # previews consume nothing
    assert service.consent.remaining(idx, "wechat", REMINDER) == 1
    runtime.drain()
    assert service.consent.remaining(idx, "wechat", REMINDER) == 0
    second = launch(service, wechat_campaign(name="第二次"))
    runtime.drain()
    assert len(drive.screen(citizen["openid"])) == 1
    assert service.campaign_stats(EDITOR, second)["skipped"]["not_subscribed"] == 1
    assert drive.counters()["wechat.subscribe_send"] == 1  # no send was wasted on a refusal
    ledger = {s["template_id"]: s for s in service.list_subscriptions(citizen["account_id"])}
    assert ledger[REMINDER]["remaining"] == 0 and ledger[REMINDER]["active"] is False


def test_quiet_hours_defer_to_eight_not_drop(service, citizens, runtime, drive, clock) -> None:
    citizen = citizens.make(subscribe={REMINDER: 1})
    clock._now = shanghai_ts(2026, 3, 2, 23, 30)  # 23:30 Beijing
    campaign_id = launch(service, wechat_campaign(channels=["wechat", "inbox"], content={
        "wechat": wechat_campaign()["content"]["wechat"], "inbox": {"title": "认证提醒", "text": "请在月底前完成养老金资格认证。"}}))
    runtime.drain()
    assert drive.screen(citizen["openid"]) == []  # deferred, not sent at night …
    assert service.inbox_unread(citizen["account_id"]) == {"unread": 1}  # … while the silent inbox is not
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert stats["quiet_hours_deferred"] == 1 and stats["skipped"]["not_subscribed"] == 0
    due = delayed_entries(service.redis)
    assert [score for _, score in due] == [shanghai_ts(2026, 3, 3, 8, 0)]
    clock._now = shanghai_ts(2026, 3, 3, 7, 59)
    runtime.drain()
    assert drive.screen(citizen["openid"]) == []
    clock._now = shanghai_ts(2026, 3, 3, 8, 0)
    runtime.drain()
    assert len(drive.screen(citizen["openid"])) == 1
    assert service.get_campaign(EDITOR, campaign_id)["status"] == "finished"


def test_opt_out_is_honoured_and_service_notices_still_reach_the_inbox(service, citizens, runtime, drive) -> None:
    citizen = citizens.make(subscribe={REMINDER: 2}, opt_outs={"marketing": ["wechat", "inbox"], "policy": ["wechat"]})
    both = {"wechat": wechat_campaign()["content"]["wechat"], "inbox": {"title": "提醒", "text": "您有一项待办事项。"}}
    marketing = launch(service, wechat_campaign(name="营销", category="marketing", channels=["wechat", "inbox"], content=both))
    service_notice = launch(service, wechat_campaign(name="办件通知", category="service", channels=["wechat"], content=both))
    runtime.drain()
    assert service.campaign_stats(EDITOR, marketing)["skipped"]["opted_out"] == 2
    notice = service.campaign_stats(EDITOR, service_notice)
    assert notice["sent"] == 2 and notice["skipped"]["opted_out"] == 0  # no opt-out from service notices
    assert len(drive.screen(citizen["openid"])) == 1
    inbox = service.inbox(citizen["account_id"])
    assert [item["campaign"] for item in inbox["items"]] == [service_notice]


def test_opt_out_after_planning_is_honoured_at_send_time(service, citizens, runtime, drive) -> None:
    citizen = citizens.make(subscribe={REMINDER: 1})
    campaign_id = launch(service, wechat_campaign())
    runtime.tick()  # planned and queued …
    citizens.accounts.update_preferences(citizen["account_id"], {"push_opt_outs": {"policy": ["wechat"]}})
    service.sync_citizen(citizen["account_id"])  # … then the citizen opts out
    runtime.drain()
    assert drive.screen(citizen["openid"]) == []
    assert service.campaign_stats(EDITOR, campaign_id)["skipped"]["opted_out"] == 1


def test_campaign_cap_uses_channels_in_priority_order(service, citizens, runtime, drive) -> None:
    on_wechat = citizens.make(subscribe={REMINDER: 1})
    inbox_only = citizens.make()
    content = {"wechat": wechat_campaign()["content"]["wechat"], "inbox": {"title": "提醒", "text": "请完成认证。"}}
    campaign_id = launch(service, wechat_campaign(channels=["wechat", "inbox"], content=content, max_per_citizen=1))
    runtime.drain()
    assert len(drive.screen(on_wechat["openid"])) == 1
    assert service.inbox(on_wechat["account_id"])["items"] == []  # already reached on WeChat
    assert len(service.inbox(inbox_only["account_id"])["items"]) == 1  # WeChat impossible: the inbox instead
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert stats["skipped_by_channel"]["frequency_cap"] == {"inbox": 1}
    assert stats["reach"] == 2


def test_daily_channel_quota_is_atomic(service, citizens, runtime, push_settings, make_runtime) -> None:
    people = [citizens.make(subscribe={REMINDER: 1}) for _ in range(3)]
    runtime = make_runtime(push_settings.with_changes(quotas={**push_settings.quotas, "wechat": 2}))
    campaign_id = launch(service, wechat_campaign())
    runtime.drain()
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert stats["sent"] == 2
    assert (stats["skipped"]["quota_exhausted"], stats["skipped"]["not_subscribed"]) == (1, 0)
    # the refused citizen keeps their one-time subscription for another day
    remaining = [service.consent.remaining(service.index.find(p["account_id"]), "wechat", REMINDER) for p in people]
    assert sorted(remaining) == [0, 0, 1]


def test_audience_by_city_age_and_behaviour(service, citizens, runtime) -> None:
    from datetime import date

    retiring = citizens.make(region="150102", birth=date(1968, 1, 10))  # 58 in March 2026, 呼和浩特 新城区
    young = citizens.make(region="150103", birth=date(1996, 5, 1))
    other_city = citizens.make(region="150203", birth=date(1968, 2, 1))
    service.record_events(retiring["account_id"], [{"type": "finish", "item": "B0111"}])
    base = {"channels": ["inbox"], "content": {"inbox": {"title": "退休提醒", "text": "退休一件事可一次办好。"}}}
    def audience(rules):
        campaign = service.create_campaign(EDITOR, wechat_campaign(**base, audience=rules))
        return service.preview_campaign(EDITOR, campaign["id"])["audience"]
    assert audience({"regions": ["150100"]}) == 2  # the 盟市 code covers its 旗县
    assert audience({"regions": ["150000"]}) == 3  # the province: everyone
    assert audience({"age_min": 55, "age_max": 60}) == 2
    assert audience({"age_min": 55, "age_max": 60, "regions": ["150100"]}) == 1
    assert audience({"age_min": 55, "not_handled": ["B0111"]}) == 1
    assert audience({"handled": ["B0111"]}) == 1
    assert audience({"themes": ["T05"]}) == 1
    assert (young, other_city) and audience({"subject": "enterprise"}) == 0
