"""The consent ledger is a PostgreSQL record: grants are recorded and then applied to Redis, pushed events
change it once however often they arrive, plans and dead letters record what they consume and refund,
and a lost Redis is rebuilt from the record."""
from __future__ import annotations

import time

from push import keys
from push import consent_records as records
from tests.push.conftest import APPROVER, EDITOR, POLICY, POLICY_DATA, REMINDER, launch, wechat_campaign
from tests.push.test_consent_and_events import feed_events


def recorded(service, account_id: str, template_id: str = REMINDER) -> dict | None:
    with service.database.transaction() as conn:
        return records.state(conn, account_id, "wechat", template_id)


def actions(service, account_id: str) -> list[tuple[str, str, int]]:
    return [(row["action"], row["source"], row["remaining"]) for row in service.consent.history(account_id)]


def test_a_grant_is_recorded_and_applied_to_redis(service, citizens) -> None:
    citizen = citizens.make()
    account = citizen["account_id"]
    idx = service.index.find(account)
    service.record_subscriptions(account, "wechat", {REMINDER: "accept", POLICY: "accept"})
    service.record_subscriptions(account, "wechat", {REMINDER: "accept"})
    state = recorded(service, account)
    assert (state["kind"], state["remaining"], state["status"], state["version"]) == ("one_time", 2, "active", 2)
    assert recorded(service, account, POLICY)["remaining"] == -1
    assert service.consent.remaining(idx, "wechat", REMINDER) == 2
    assert service.consent.remaining(idx, "wechat", POLICY) == -1
    shard, bit = keys.shard_of(idx), keys.bit_of(idx)
    assert service.redis.getbit(keys.consent_has(shard, "wechat", REMINDER), bit) == 1
    assert sorted(actions(service, account)) == [("grant", "client", -1), ("grant", "client", 1), ("grant", "client", 2)]

    service.record_subscriptions(account, "wechat", {POLICY: "ban", REMINDER: "reject"})
    assert recorded(service, account, POLICY)["status"] == "banned" and service.consent.remaining(idx, "wechat", POLICY) == 0
    assert recorded(service, account)["remaining"] == 2  # a one-time reject leaves earlier accepts
    assert actions(service, account)[-2:] == [("ban", "client", 0), ("reject", "client", 2)]


def test_a_redelivered_wechat_event_does_not_grant_twice(service, citizens, drive, clock) -> None:
    clock._now = time.time()  # the sandbox signs events with real timestamps
    citizen = citizens.make()
    account = citizen["account_id"]
    idx = service.index.find(account)
    drive.subscribe(citizen["openid"], REMINDER)  # one tap, known only from WeChat's popup event
    [event] = drive.events()
    feed_events(service, drive)
    assert recorded(service, account)["remaining"] == 1 and service.consent.remaining(idx, "wechat", REMINDER) == 1

    # The same request again after its nonce marker is gone (released after an error, or Redis lost it),
    # and with Redis missing the grant (its write failed after the commit): counted once, Redis repaired.
    for marker in list(service.redis.scan_iter(match="push:wxevent:nonce:*")):  # every node of a cluster
        service.redis.delete(marker)
    service.redis.hdel(keys.consent(keys.shard_of(idx), "wechat", REMINDER), idx)
    service.redis.hdel(keys.consent_version(keys.shard_of(idx), "wechat", REMINDER), idx)
    assert service.wechat_event(event["query"], event["body"]) == {"handled": 1, "ignored": 0}
    assert recorded(service, account)["remaining"] == 1
    assert service.consent.remaining(idx, "wechat", REMINDER) == 1
    assert actions(service, account) == [("grant", "wechat_event", 1)]

    # A client report of the same tap is matched with the event: a confirmation, not another send.
    service.record_subscriptions(account, "wechat", {REMINDER: "accept"})
    assert recorded(service, account)["remaining"] == 1
    assert actions(service, account)[-1] == ("confirm", "client", 1)


def test_a_plan_records_what_it_consumed(service, citizens, runtime, drive) -> None:
    twice = citizens.make(subscribe={REMINDER: 2})
    once = citizens.make(subscribe={REMINDER: 1})
    long_term = citizens.make(subscribe={POLICY: 1})
    campaign_id = launch(service, wechat_campaign())
    runtime.drain()
    assert recorded(service, twice["account_id"])["remaining"] == 1
    state = recorded(service, once["account_id"])
    assert (state["remaining"], state["status"]) == (0, "used_up")
    [consume] = [row for row in service.consent.history(once["account_id"]) if row["action"] == "consume"]
    assert (consume["source"], consume["campaign_id"], consume["delta"], consume["remaining"]) == ("planner", campaign_id, -1, 0)
    for citizen, left in ((twice, 1), (once, 0)):
        assert service.consent.remaining(service.index.find(citizen["account_id"]), "wechat", REMINDER) == left
    policy = launch(service, wechat_campaign(name="长期订阅", content={"wechat": {"template_id": POLICY, "data": dict(POLICY_DATA)}}))
    runtime.drain()
    assert service.campaign_stats(EDITOR, policy)["sent"] == 1
    assert recorded(service, long_term["account_id"], POLICY)["remaining"] == -1  # long-term: nothing to consume
    assert len(drive.screen(long_term["openid"])) == 1


def test_dead_letter_refund_and_retry_are_recorded(service, citizens, make_runtime, push_settings, drive, clock) -> None:
    # As tests/push/test_dead_letters.py's outage: the error rate pauses the campaign, so it can be retried.
    runtime = make_runtime(push_settings.with_changes(max_attempts=3, pause_min_attempts=3, pause_error_rate=0.5))
    citizen = citizens.make(subscribe={REMINDER: 1})
    account = citizen["account_id"]
    drive.fault("wechat.subscribe_send", times=None, error={"errcode": -1})
    campaign_id = launch(service, wechat_campaign())
    for _ in range(3):  # dead-lettered after the third attempt, the accept refunded
        runtime.drain()
        clock.advance(60)
    assert recorded(service, account)["remaining"] == 1
    assert [(action, source) for action, source, _ in actions(service, account)] == [
        ("grant", "client"), ("consume", "planner"), ("refund", "dispatcher")]
    drive.clear_faults()
    [dead] = service.dead_letters(APPROVER, campaign_id=campaign_id)
    assert service.retry_dead_letter(APPROVER, dead["id"])["requeued"] == 1
    assert recorded(service, account)["remaining"] == 0
    assert actions(service, account)[-1] == ("consume", "dead_letter_retry", 0)


def test_a_lost_redis_is_rebuilt_and_the_next_plan_reaches_the_same_citizens(service, citizens, runtime, drive,
                                                                              redis_client) -> None:
    subscribed = [citizens.make(subscribe={REMINDER: 2}), citizens.make(subscribe={REMINDER: 1})]
    citizens.make()  # never subscribed
    used = citizens.make(subscribe={REMINDER: 1})
    first = launch(service, wechat_campaign(name="第一次", audience={"regions": ["150100"]}))
    runtime.drain()  # every subscribed citizen gets one: `used` has nothing left, the others 1 and 0
    assert service.campaign_stats(EDITOR, first)["sent"] == 3
    drive.subscribe(subscribed[1]["openid"], REMINDER)  # another tap in the popup, reported by the app
    service.record_subscriptions(subscribed[1]["account_id"], "wechat", {REMINDER: "accept"})
    before = {c["account_id"]: service.consent.list(c["account_id"]) for c in [*subscribed, used]}

    redis_client.flushall()  # Redis lost: the ledger is in PostgreSQL
    report = service.rebuild_targeting(service.directory.all_facts())
    assert report.consents == 2 and report.consents_unindexed == 0
    assert {account: service.consent.list(account) for account in before} == before

    second = launch(service, wechat_campaign(name="第二次"))
    preview = service.preview_campaign(EDITOR, second)
    assert preview["channels"]["wechat"]["skipped"]["not_subscribed"] == 2
    runtime.drain()
    assert service.campaign_stats(EDITOR, second)["sent"] == 2
    for citizen, messages in ((subscribed[0], 2), (subscribed[1], 2), (used, 1)):
        assert len(drive.screen(citizen["openid"])) == messages
    # Rebuilding again (live) changes nothing and removes consent nobody holds any more.
    again = service.rebuild_targeting(service.directory.all_facts())
    assert again.consents == 0
    assert not [key for key in redis_client.scan_iter("push:*consent:*") if ":recent:" not in key]
