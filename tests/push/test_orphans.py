"""Claims left by a dead dispatcher: re-sent when the request never left, settled ``unknown`` (and
never re-sent) when it may have; a slow owner whose claim was taken over does not send."""
from __future__ import annotations

from push import keys
from push.reconcile import doubt_handle
from tests.push.conftest import EDITOR, FIRST_SHARD, REMINDER, inflight_total, launch, wechat_campaign


def test_dead_owner_claims_are_requeued_or_settled_unknown(service, citizens, runtime, drive, clock) -> None:
    never_left, maybe_left = citizens.make(subscribe={REMINDER: 1}), citizens.make(subscribe={REMINDER: 1})
    campaign_id = launch(service, wechat_campaign())
    runtime.tick()
    service.queue.ensure_groups()
    # a dispatcher read the batch, claimed both messages, marked one "on the wire", then died
    service.redis.xreadgroup(keys.GROUP, "dead-host:1:0", {keys.stream(FIRST_SHARD, "wechat"): ">"}, count=1)
    a, b = (service.index.find(c["account_id"]) for c in (never_left, maybe_left))
    claimed_at = clock.now()
    service.redis.hset(keys.inflight(FIRST_SHARD), mapping={f"{campaign_id}|wechat|{a}": f"dead-host:1:0|{claimed_at!r}|0",
                                               f"{campaign_id}|wechat|{b}": f"dead-host:1:0|{claimed_at!r}|0|w"})
    dispatcher = service.dispatcher(senders=runtime.senders, name="survivor")
    assert dispatcher.reclaim(min_idle_seconds=0) == 1  # took the entry over: both messages busy, left alone
    assert drive.message_counts() == {}
    clock.advance(service.settings.orphan_seconds + 1)
    runtime.drain()
    assert drive.screen(never_left["openid"]) and drive.screen(maybe_left["openid"]) == []
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert (stats["sent"], stats["unknown"], stats["status"]) == (1, 1, "finished")
    assert inflight_total(service.redis) == 0


def test_a_slow_owner_whose_claim_was_requeued_does_not_send(service, citizens, runtime, drive, clock) -> None:
    citizen = citizens.make(subscribe={REMINDER: 1})
    campaign_id = launch(service, wechat_campaign())
    runtime.tick()
    idx = service.index.find(citizen["account_id"])
    field, claim = f"{campaign_id}|wechat|{idx}", f"slow:1:0|{clock.now()!r}|0"
    service.redis.hset(keys.inflight(keys.shard_of(idx)), field, claim)
    slow = service.dispatcher(senders=runtime.senders, name="slow:1:0")
    mark = slow._wire_marker(keys.shard_of(idx), field, claim)  # noqa: SLF001 - what the slow owner's sender would call
    clock.advance(service.settings.orphan_seconds + 1)
    assert runtime.service.queue.sweep_orphans() == 0  # re-queued, not settled
    assert mark() is False  # the slow owner may no longer send …
    runtime.drain()
    assert len(drive.screen(citizen["openid"])) == 1  # … the new owner did, once


def test_bad_data_cannot_poison_the_queue(service, citizens, runtime, drive) -> None:
    readable, tampered = citizens.make(subscribe={REMINDER: 1}), citizens.make(subscribe={REMINDER: 1})
    tampered_idx = service.index.find(tampered["account_id"])
    service.redis.hset(keys.address(keys.shard_of(tampered_idx), "wechat"), tampered_idx, "v1:00000000:AAAA")
    service.queue.ensure_groups()
    service.redis.xadd(keys.stream(FIRST_SHARD, "wechat"), {"c": "cmp_x", "ch": "wechat", "ids": "not-a-number", "n": "0"})
    campaign_id = launch(service, wechat_campaign())
    runtime.drain()
    assert len(drive.screen(readable["openid"])) == 1 and drive.screen(tampered["openid"]) == []
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert stats["skipped"]["no_channel_address"] == 1 and stats["status"] == "finished"
    assert service.redis.xlen(keys.dead_letters(FIRST_SHARD)) == 1  # the malformed entry, acknowledged and kept for a human
    assert not service.redis.xpending(keys.stream(FIRST_SHARD, "wechat"), keys.GROUP)["pending"]


def test_a_send_in_doubt_is_confirmed_by_wechats_sent_event_in_either_order(service, citizens, runtime, drive,
                                                                           clock) -> None:
    early, late = citizens.make(subscribe={REMINDER: 1}), citizens.make(subscribe={REMINDER: 1})
    campaign_id = launch(service, wechat_campaign())
    runtime.tick()
    service.queue.ensure_groups()
    # a dispatcher claimed both, put both requests on the wire (the mark carries the doubt handle), died
    service.redis.xreadgroup(keys.GROUP, "dead-host:1:0", {keys.stream(FIRST_SHARD, "wechat"): ">"}, count=1)
    dead = service.dispatcher(senders={}, name="dead-host:1:0")
    claim = f"dead-host:1:0|{clock.now()!r}|0"
    for citizen in (early, late):
        field = f"{campaign_id}|wechat|{service.index.find(citizen['account_id'])}"
        service.redis.hset(keys.inflight(FIRST_SHARD), field, claim)
        assert dead._wire_marker(FIRST_SHARD, field, claim, doubt_handle(service.crypto, citizen["openid"], REMINDER))()  # noqa: SLF001

    def sent_event(citizen) -> dict:  # WeChat's MsgID is one the dead worker never learnt
        return {"Event": "subscribe_msg_sent_event", "FromUserName": citizen["openid"],
                "List": {"TemplateId": REMINDER, "MsgID": "4242", "ErrorCode": 0, "ErrorStatus": "success"}}

    assert service.wechat_events.apply(sent_event(early))["handled"] == 0  # before the sweep: remembered
    assert service.dispatcher(senders=runtime.senders, name="survivor").reclaim(min_idle_seconds=0) == 1
    clock.advance(service.settings.orphan_seconds + 1)
    runtime.drain()
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert (stats["sent"], stats["unknown"], stats["delivered"]) == (1, 1, 1)  # `early` settled sent at once
    assert service.wechat_events.apply(sent_event(late))["handled"] == 1  # after the sweep: unknown → sent
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert (stats["sent"], stats["unknown"], stats["delivered"], stats["status"]) == (2, 0, 2, "finished")
    assert service.wechat_events.apply(sent_event(late))["handled"] == 0  # a repeated event counts once
    assert drive.message_counts() == {}  # neither was sent again
