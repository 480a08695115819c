"""Domain events: in-process subscribers, failure isolation, and at-least-once delivery across processes."""
from __future__ import annotations

import redis

from kernel.events import DomainEvent, EventBus, RedisStreamRelay


def test_subscribers_receive_published_facts_in_order():
    bus = EventBus()
    seen: list[tuple[str, str]] = []
    bus.subscribe("account.merged", lambda event: seen.append(("first", event.data["survivor"])))
    bus.subscribe("account.merged", lambda event: seen.append(("second", event.data["survivor"])))
    bus.subscribe("campaign.state_changed", lambda event: seen.append(("other", "")))

    event = bus.publish("account.merged", survivor="a1", absorbed="a2")

    assert seen == [("first", "a1"), ("second", "a1")]
    assert event.name == "account.merged" and len(event.event_id) == 32


def test_a_failing_subscriber_does_not_stop_the_others(caplog):
    bus = EventBus()
    seen = []

    def broken(event):
        raise RuntimeError("bug in a subscriber")

    bus.subscribe("account.merged", broken)
    bus.subscribe("account.merged", lambda event: seen.append(event.event_id))

    event = bus.publish("account.merged", survivor="a1")

    assert seen == [event.event_id]
    assert any("event handler failed" in record.message for record in caplog.records)


def test_events_cross_processes_through_the_stream_and_survive_a_crash_before_ack(redis_client):
    api_bus = EventBus(RedisStreamRelay(redis_client))
    worker_relay = RedisStreamRelay(redis_client)
    worker_relay.ensure_group("push-worker")

    first = api_bus.publish("campaign.state_changed", campaign_id="c1", state="running")
    second = api_bus.publish("campaign.state_changed", campaign_id="c1", state="finished")

    # A worker that reads but dies before acknowledging gets the same events again on restart.
    crashing_bus = EventBus()

    def crash(event):
        raise SystemExit

    crashing_bus.subscribe("campaign.state_changed", crash)
    try:
        worker_relay.consume(crashing_bus, group="push-worker", consumer="w1", block_ms=10, count=1)
    except SystemExit:
        pass

    received: list[DomainEvent] = []
    worker_bus = EventBus()
    worker_bus.subscribe("campaign.state_changed", received.append)
    delivered = worker_relay.consume(worker_bus, group="push-worker", consumer="w1", block_ms=10)
    delivered += worker_relay.consume(worker_bus, group="push-worker", consumer="w1", block_ms=10)

    assert delivered == 2
    assert [event.event_id for event in received] == [first.event_id, second.event_id]
    assert received[1].data == {"campaign_id": "c1", "state": "finished"}
    assert worker_relay.consume(worker_bus, group="push-worker", consumer="w1", block_ms=10) == 0


def test_each_process_kind_gets_its_own_copy(redis_client):
    relay = RedisStreamRelay(redis_client)
    for group in ("push-worker", "home-cache"):
        relay.ensure_group(group)
    EventBus(relay).publish("account.merged", survivor="a1")

    counts = {}
    for group in ("push-worker", "home-cache"):
        bus = EventBus()
        counts[group] = relay.consume(bus, group=group, consumer="c", block_ms=10)
    assert counts == {"push-worker": 1, "home-cache": 1}


def test_redis_down_keeps_the_fact_in_process(redis_server):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, decode_responses=True)
    bus = EventBus(RedisStreamRelay(dead))
    seen = []
    bus.subscribe("account.merged", seen.append)

    bus.publish("account.merged", survivor="a1")

    assert len(seen) == 1
