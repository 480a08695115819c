"""Rebuild the consent counters, bitmaps and versions in Redis from PostgreSQL's ``consent_state``.

Part of ``python -m push rebuild-targeting`` (after the citizen index is rebuilt): every state row that
allows sends (``remaining <> 0``) of a citizen the index knows is written to its shard's ledger hash
(``keys.consent``), "has consent" bitmap and version hash. Hashes are built in staging keys (same slot)
and swapped in per shard × template by one script, so a planner never sees a half-built ledger; the
bitmaps (128 KiB per shard × template) are assembled in memory. Templates nobody in a shard consents to any
more lose their keys.

What this takes is the record's view: a one-time send consumed in Redis whose recording failed
(``push.consent_usage``) is available again afterwards, and one consumed by a plan running during the
rebuild may be too (between the page read and the swap). Run it after losing Redis, or when no campaign
is planning.
"""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from push import keys
from push.profiles import CitizenIndex
from push.rebuild import ShardBitmaps, batches
from push.redisutil import shards_in_use

# KEYS: 1 staging ledger, 2 ledger, 3 staging versions, 4 versions, 5 has bitmap. ARGV: the bitmap.
_SWAP = """
if redis.call('exists', KEYS[1]) == 1 then redis.call('rename', KEYS[1], KEYS[2]) else redis.call('del', KEYS[2]) end
if redis.call('exists', KEYS[3]) == 1 then redis.call('rename', KEYS[3], KEYS[4]) else redis.call('del', KEYS[4]) end
redis.call('set', KEYS[5], ARGV[1])
return 1
"""


@dataclass
class ConsentRebuildReport:
    consents: int = 0  # state rows written to Redis
    consents_unindexed: int = 0  # rows of accounts the citizen index does not know (skipped)
    consent_seconds: float = 0.0


def rebuild_consent(client: redis.Redis, index: CitizenIndex, rows: Iterable[dict], *, page: int = 10_000) -> ConsentRebuildReport:
    started = time.perf_counter()
    report = ConsentRebuildReport()
    bitmaps: ShardBitmaps[tuple[int, str, str]] = ShardBitmaps()

    def flush(batch: list[dict]) -> None:
        idxs = index.find_many([row["account_id"] for row in batch])
        pipe = client.pipeline(transaction=False)
        ledgers: dict[tuple[int, str, str], dict[int, int]] = defaultdict(dict)
        versions: dict[tuple[int, str, str], dict[int, int]] = defaultdict(dict)
        for row, idx in zip(batch, idxs):
            if idx is None:
                report.consents_unindexed += 1
                continue
            slot = (keys.shard_of(idx), row["channel"], row["template_id"])
            if slot not in bitmaps.maps:  # first sight in this run: clear a crashed run's staging keys
                for staging in _staging(slot):  # one key per DEL: a cluster pipeline refuses multi-key DEL
                    pipe.delete(staging)
            bitmaps.set(slot, keys.bit_of(idx))
            ledgers[slot][idx] = int(row["remaining"])
            versions[slot][idx] = int(row["version"])
            report.consents += 1
        for slot, mapping in ledgers.items():
            staging_ledger, staging_versions = _staging(slot)
            pipe.hset(staging_ledger, mapping=mapping)
            pipe.hset(staging_versions, mapping=versions[slot])
        pipe.execute()

    for batch in batches(rows, page):
        flush(batch)
    swap = client.register_script(_SWAP)
    for (shard, channel, template_id), bitmap in bitmaps.maps.items():
        staging_ledger, staging_versions = _staging((shard, channel, template_id))
        swap(keys=[staging_ledger, keys.consent(shard, channel, template_id), staging_versions,
                   keys.consent_version(shard, channel, template_id), keys.consent_has(shard, channel, template_id)],
             args=[bytes(bitmap)])
    stale = [key for shard in shards_in_use(client) for slot, key in _existing(client, shard) if slot not in bitmaps.maps]
    for start in range(0, len(stale), 500):
        pipe = client.pipeline(transaction=False)
        for key in stale[start:start + 500]:
            pipe.delete(key)
        pipe.execute()
    report.consent_seconds = round(time.perf_counter() - started, 2)
    return report


def _staging(slot: tuple[int, str, str]) -> tuple[str, str]:
    shard, channel, template_id = slot
    return (keys.consent_staging(keys.consent(shard, channel, template_id)),
            keys.consent_staging(keys.consent_version(shard, channel, template_id)))


def _existing(client: redis.Redis, shard: int) -> list[tuple[tuple[int, str, str], str]]:
    """The shard's consent keys (ledger, bitmap, versions; not match markers or staging) by template."""
    prefix = keys.consent(shard, "", "")[: -len(":")]  # "push:{p:s<n>}:consent:"
    found = []
    for key in client.scan_iter(match=prefix + "*", count=1000):
        tail = key[len(prefix):]
        if tail.startswith("recent:") or tail.endswith(":rebuild"):
            continue
        if tail.startswith(("has:", "ver:")):
            tail = tail[4:]
        channel, _, template_id = tail.partition(":")
        found.append(((shard, channel, template_id), key))
    return found
