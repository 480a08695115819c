"""Facts published in the API reach the push worker through the event stream, at least once."""
from __future__ import annotations

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
