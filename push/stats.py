"""Campaign statistics: counters per campaign and a per-minute series for the console chart.

Counters (names ``<metric>:<channel>``, ``skipped:<reason>:<channel>``, ``failed_code:<channel>:<code>``)
are written by the same Lua scripts that change message state, so they agree with it: one hash per
shard of the citizen index (``keys.stats(cid, shard)``, in the slot of the shard's message state) and
one for the campaign as a whole (plan figures, opens, clicks, delivery reports); a read sums them. The
series hashes (``keys.series``) hold ``<minute>:<metric>`` and are split the same way.

| metric | source |
| --- | --- |
| planned, deferred, skipped:* | planner (skipped: opted_out, no_channel_address, duplicate, frequency_cap, not_subscribed, quota_exhausted); skip counts are those of the latest plan run (a re-plan after a crash replaces them) |
| late:* | dispatcher: opted out or unbound between planning and sending (added to ``skipped``) |
| sent, failed, unknown, retries, dead, cancelled, expired | dispatcher (``unknown``: the worker died with the request on the wire; a later WeChat sent event turns it into ``sent``, ``push.reconcile``) |
| dead_retried | an operator re-queued dead letters (``push.dead_letters``; their failed/dead counts are taken back) |
| delivered, delivery_failed | WeChat ``subscribe_msg_sent_event`` (ErrorCode 0 / other) |
| opened | inbox message marked read |
| clicked | ``click`` behaviour event carrying the message id |
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import redis

from kernel.clock import minute
from push import keys
from push.redisutil import shards_in_use

SKIP_REASONS = ("opted_out", "no_channel_address", "duplicate", "frequency_cap", "not_subscribed", "quota_exhausted")
CHANNEL_METRICS = ("planned", "deferred", "sent", "failed", "unknown", "retries", "dead", "dead_retried", "cancelled",
                   "expired", "delivered", "delivery_failed")
SERIES_METRICS = ("planned", "sent", "failed", "delivered", "opened", "clicked")


class Stats:
    def __init__(self, redis_client: redis.Redis) -> None:
        self._redis = redis_client

    def bump(self, campaign_id: str, metric: str, count: int, ts: float, *, channel: str | None = None) -> None:
        name = f"{metric}:{channel}" if channel else metric
        pipe = self._redis.pipeline(transaction=False)
        pipe.hincrby(keys.stats(campaign_id), name, count)
        pipe.hincrby(keys.series(campaign_id), f"{minute(ts)}:{metric}", count)
        pipe.expire(keys.series(campaign_id), keys.SERIES_TTL)
        pipe.execute()

    def add_series(self, campaign_id: str, metric: str, count: int, ts: float) -> None:
        if count:
            pipe = self._redis.pipeline(transaction=False)
            pipe.hincrby(keys.series(campaign_id), f"{minute(ts)}:{metric}", count)
            pipe.expire(keys.series(campaign_id), keys.SERIES_TTL)
            pipe.execute()

    def raw(self, campaign_id: str) -> dict[str, int]:
        return _summed(self._redis, [keys.stats(campaign_id)] +
                       [keys.stats(campaign_id, shard) for shard in shards_in_use(self._redis)])

    def reset(self, campaign_id: str, mapping: dict[str, int]) -> None:
        """Set counters in every shard's hash and the campaign's (e.g. attempts/errors on resume)."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(keys.stats(campaign_id), mapping=mapping)
        for shard in shards_in_use(self._redis):
            pipe.hset(keys.stats(campaign_id, shard), mapping=mapping)
        pipe.execute()

    def summary(self, campaign_id: str) -> dict[str, Any]:
        raw = self.raw(campaign_id)
        per_channel: dict[str, dict[str, int]] = defaultdict(lambda: {m: 0 for m in CHANNEL_METRICS})
        skipped: dict[str, dict[str, int]] = {reason: {} for reason in SKIP_REASONS}
        failed_codes: dict[str, dict[str, int]] = defaultdict(dict)
        for name, value in raw.items():
            parts = name.split(":")
            if parts[0] in ("skipped", "late") and len(parts) == 3:
                # "skipped": the latest plan run; "late": found at send time (opted out or unbound since)
                by_channel = skipped.setdefault(parts[1], {})
                by_channel[parts[2]] = by_channel.get(parts[2], 0) + value
            elif parts[0] == "failed_code" and len(parts) == 3:
                failed_codes[parts[1]][parts[2]] = value
            elif parts[0] in CHANNEL_METRICS and len(parts) == 2:
                per_channel[parts[1]][parts[0]] = value
        totals = {metric: sum(channel[metric] for channel in per_channel.values()) for metric in CHANNEL_METRICS}
        attempts, errors = raw.get("attempts", 0), raw.get("errors", 0)
        return {
            "campaign_id": campaign_id,
            "audience": raw.get("audience", 0),
            "reach": raw.get("reach", 0),
            **totals,
            "skipped": {reason: sum(by_channel.values()) for reason, by_channel in skipped.items()},
            "skipped_by_channel": {reason: {ch: n for ch, n in by_channel.items() if n}
                                   for reason, by_channel in skipped.items()},
            "quiet_hours_deferred": totals["deferred"],
            "opened": raw.get("opened", 0),
            "clicked": raw.get("clicked", 0),
            "outstanding": raw.get("outstanding", 0),
            "attempts": attempts,
            "errors": errors,
            "error_rate": round(errors / attempts, 4) if attempts else 0.0,
            "channels": dict(per_channel),
            "failed_codes": dict(failed_codes),
        }

    def series(self, campaign_id: str, *, since: float | None = None, until: float | None = None) -> list[dict[str, Any]]:
        buckets: dict[int, dict[str, int]] = defaultdict(lambda: {m: 0 for m in SERIES_METRICS})
        hashes = [keys.series(campaign_id)] + [keys.series(campaign_id, shard) for shard in shards_in_use(self._redis)]
        for name, value in _summed(self._redis, hashes).items():
            at, _, metric = name.partition(":")
            ts = int(at)
            if metric not in SERIES_METRICS or (since is not None and ts < since) or (until is not None and ts > until):
                continue
            buckets[ts][metric] += int(value)
        return [{"minute": ts, **buckets[ts]} for ts in sorted(buckets)]


def _summed(client: redis.Redis, hashes: list[str]) -> dict[str, int]:
    pipe = client.pipeline(transaction=False)
    for key in hashes:
        pipe.hgetall(key)
    total: dict[str, int] = defaultdict(int)
    for values in pipe.execute():
        for name, value in values.items():
            total[name] += int(value)
    return dict(total)


def outstanding(client: redis.Redis, campaign_id: str) -> int:
    """Messages of the campaign not yet terminal, over every shard."""
    pipe = client.pipeline(transaction=False)
    pipe.hget(keys.stats(campaign_id), "outstanding")
    for shard in shards_in_use(client):
        pipe.hget(keys.stats(campaign_id, shard), "outstanding")
    return sum(int(value or 0) for value in pipe.execute())
