"""Facts published in the API reach the push worker through the event stream, at least once."""
from __future__ import annotations

import redis

from bootstrap import bootstrap, worker_subscriptions
from push.worker import PushRuntime


def test_the_worker_repairs_a_citizen_sync_the_api_could_not_finish(api, app, settings, clock, monkeypatch):
    worker = bootstrap(settings, push_clock=clock)
    try:
        runtime = PushRuntime(worker.push, {}, events=(worker.relay, worker_subscriptions(worker)))
        runtime.consume_events(block_ms=None)  # the worker's consumer group exists from its first start
        in_api = app.extensions["services"].push

        def busy(account_id):
            raise TimeoutError("push store busy")

        monkeypatch.setattr(in_api, "sync_citizen", busy)
        citizen = api.wechat_citizen(region=None)  # the login publishes account.changed; the API's sync fails
        assert in_api.profiles.for_account(citizen["account_id"]) is None

        assert runtime.consume_events(block_ms=None) >= 1
        assert worker.push.profiles.for_account(citizen["account_id"]) is not None
        assert runtime.consume_events(block_ms=None) == 0  # acknowledged: delivered once per consumer group
    finally:
        worker.close()


def test_an_acknowledged_preference_change_reaches_push_even_when_redis_refused_the_event(
        api, app, settings, clock, monkeypatch, database):
    """The outbox: the change and its fact commit together in PostgreSQL, so a 200 means push will hear it —
    here the API's own sync fails and the stream refuses the event, and the worker's relay still carries it."""
    worker = bootstrap(settings, push_clock=clock)
    try:
        runtime = PushRuntime(worker.push, {}, events=(worker.relay, worker_subscriptions(worker)))
        citizen = api.wechat_citizen(region=None)
        runtime.consume_events(block_ms=None)
        services = app.extensions["services"]

        def busy(account_id):
            raise TimeoutError("push store busy")

        def refused(event):
            raise redis.ConnectionError("stream unavailable")

        monkeypatch.setattr(services.push, "sync_citizen", busy)
        monkeypatch.setattr(services.relay, "append_or_raise", refused)
        api.ok("PUT", "/v1/me/preferences", citizen["token"],
               {"home_region": "150102", "push_opt_outs": {"policy": ["wechat"]}})
        monkeypatch.undo()

        assert worker.push.profiles.for_account(citizen["account_id"]).region is None
        assert runtime.consume_events(block_ms=None) == 0  # nothing reached the stream
        with database.transaction() as conn:
            pending = conn.execute("SELECT name FROM outbox WHERE published_at IS NULL").fetchall()
        assert [row["name"] for row in pending] == ["account.changed"]

        assert worker.identity.outbox.relay_pending(older_than_seconds=0) == 1
        assert runtime.consume_events(block_ms=None) == 1
        assert worker.push.profiles.for_account(citizen["account_id"]).region == "150102"
        assert worker.identity.outbox.relay_pending(older_than_seconds=0) == 0  # published once
    finally:
        worker.close()
