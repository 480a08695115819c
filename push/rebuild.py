"""Rebuild push's Redis targeting data from the records: after losing Redis, or to load a province.

Everything push keeps per citizen in Redis is derived from identity's records (PostgreSQL), read through
identity's public ``CitizenDirectory.all_facts()``: the citizen index (account <-> idx), the profile hash
each sync compares against, the encrypted channel addresses, and the segment bitmaps the planner combines.
``sync_citizen`` maintains them one citizen at a time; this builds them for a whole population in bulk:
bitmaps are assembled in memory per shard (128 KiB each) and written with one SET, hashes go in pipelines
of ``batch`` citizens. Citizens already indexed keep their idx (a campaign's message bits are keyed by it);
new ones get a contiguous block from the sequence. Behaviour segments (searches, views) are not derived
from records and are left as they are; the consent ledger is rebuilt from push's own record afterwards
(``push.consent_rebuild``, run by ``PushService.rebuild_targeting``).
"""
from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import redis

from push import keys
from push.profiles import OPT_OUT_CATEGORIES
from push.redisutil import script_client
from push.settings import CHANNELS

K = TypeVar("K")
T = TypeVar("T")


@dataclass(frozen=True)
class TargetingFacts:
    """What push derives from one citizen's records; ``addresses`` are already encrypted for push."""

    account_id: str
    home_region: str | None = None
    birth_ym: str | None = None
    enterprise: bool = False
    opt_outs: frozenset[tuple[str, str]] = frozenset()
    addresses: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # addresses stay out of logs and tracebacks
        return f"TargetingFacts(account_id={self.account_id!r})"


@dataclass
class RebuildReport:
    citizens: int = 0
    newly_indexed: int = 0
    shards: int = 0
    bitmaps: int = 0
    seconds: float = 0.0
    consents: int = 0  # consent state rows written back (push.consent_rebuild)
    consents_unindexed: int = 0
    consent_seconds: float = 0.0


class ShardBitmaps(Generic[K]):
    """Shard-sized bitmaps built in memory, each under a key of the caller's choosing (here a segment's
    Redis key; ``push.consent_rebuild``: shard × template), written whole afterwards."""

    def __init__(self) -> None:
        self.maps: dict[K, bytearray] = defaultdict(lambda: bytearray(keys.SHARD_BYTES))

    def set(self, key: K, bit: int) -> None:
        self.maps[key][bit >> 3] |= 0x80 >> (bit & 7)


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# Many citizens' profile hashes in one call (KEYS: profile keys of one shard, one slot; ARGV: 6 values each).
_PROFILES_LUA = """
for i, key in ipairs(KEYS) do
  local o = (i - 1) * 6
  redis.call('hset', key, 'account', ARGV[o + 1], 'region', ARGV[o + 2], 'birth_ym', ARGV[o + 3],
             'enterprise', ARGV[o + 4], 'optouts', ARGV[o + 5], 'synced_at', ARGV[o + 6])
end
return #KEYS
"""
# Claim an idx for many accounts of one bucket (HSETNX each); returns the idx each account holds.
_CLAIM_LUA = """
local held = {}
for i = 1, #ARGV, 2 do
  redis.call('hsetnx', KEYS[1], ARGV[i], ARGV[i + 1])
  held[#held + 1] = redis.call('hget', KEYS[1], ARGV[i])
end
return held
"""
_CHUNK = 1_000


def rebuild(client: redis.Redis, facts: Iterable[TargetingFacts], *, now: float, batch: int = 10_000) -> RebuildReport:
    started = time.perf_counter()
    report = RebuildReport()
    shards: dict[int, ShardBitmaps[str]] = defaultdict(ShardBitmaps)
    write_profiles = client.register_script(_PROFILES_LUA)
    claim = client.register_script(_CLAIM_LUA)
    stamp = repr(now)
    for group in batches(facts, batch):
        idxs = _indexes(client, claim, group, report)
        by_shard: dict[int, list[tuple[int, TargetingFacts]]] = defaultdict(list)
        for citizen, idx in zip(group, idxs):
            by_shard[keys.shard_of(idx)].append((idx, citizen))
        pipe = client.pipeline(transaction=False)
        scripts_on = script_client(client, pipe)
        for shard, members in by_shard.items():
            bits = shards[shard]
            addresses: dict[str, dict[int, str]] = defaultdict(dict)
            for idx, citizen in members:
                bit = keys.bit_of(idx)
                bits.set(keys.seg_all(shard), bit)
                if citizen.home_region:
                    bits.set(keys.seg_region(shard, citizen.home_region), bit)
                if citizen.birth_ym:
                    bits.set(keys.seg_birth_month(shard, citizen.birth_ym), bit)
                    bits.set(keys.seg_verified_age(shard), bit)
                if citizen.enterprise:
                    bits.set(keys.seg_enterprise(shard), bit)
                for category, channel in citizen.opt_outs:
                    if category in OPT_OUT_CATEGORIES and channel in CHANNELS:
                        bits.set(keys.seg_opt_out(shard, category, channel), bit)
                for channel, ciphertext in citizen.addresses.items():
                    addresses[channel][idx] = ciphertext
                    bits.set(keys.seg_address(shard, channel), bit)
            pipe.hset(keys.citizen_by_index(shard), mapping={idx: citizen.account_id for idx, citizen in members})
            for channel, mapping in addresses.items():
                pipe.hset(keys.address(shard, channel), mapping=mapping)
            for start in range(0, len(members), _CHUNK):
                chunk = members[start:start + _CHUNK]
                values: list[str] = []
                for _idx, citizen in chunk:
                    values += [citizen.account_id, citizen.home_region or "", citizen.birth_ym or "",
                               "1" if citizen.enterprise else "0", json.dumps(sorted(citizen.opt_outs)), stamp]
                # On a cluster each chunk is its own call (1,000 citizens).
                write_profiles(keys=[keys.profile(idx) for idx, _ in chunk], args=values, client=scripts_on)
        pipe.execute()
        report.citizens += len(group)
    pipe = client.pipeline(transaction=False)
    for shard, bits in shards.items():
        # A citizen who left a segment since the last build must leave its bitmap: the shard's segments
        # derived from identity are replaced whole, and those nobody is in any more are deleted
        # (behaviour segments are not touched).
        for key, bitmap in bits.maps.items():
            pipe.set(key, bytes(bitmap))
        for stale in _derived_segments(client, shard) - set(bits.maps):
            pipe.delete(stale)
        report.bitmaps += len(bits.maps)
    pipe.execute()
    report.shards = len(shards)
    report.seconds = round(time.perf_counter() - started, 2)
    return report


_DERIVED = ("seg:all", "seg:region:*", "seg:birth:*", "seg:kind:enterprise", "seg:optout:*", "seg:addr:*")


def _derived_segments(client: redis.Redis, shard: int) -> set[str]:
    prefix = keys.seg_all(shard)[: -len("seg:all")]
    found: set[str] = set()
    for pattern in _DERIVED:
        found.update(client.scan_iter(match=prefix + pattern, count=1000))
    return found


def from_citizen_facts(facts: Iterable[object], crypto: object) -> Iterator[TargetingFacts]:
    """identity's ``CitizenFacts`` (decrypted in memory) as push stores them: addresses encrypted for push."""
    for fact in facts:
        addresses = {}
        for channel, value in (("wechat", fact.wechat_openid), ("alipay", fact.alipay_open_id)):  # type: ignore[attr-defined]
            if value:
                addresses[channel] = crypto.encrypt(value, context=f"push.address.{channel}")  # type: ignore[attr-defined]
        yield TargetingFacts(
            account_id=fact.account_id,  # type: ignore[attr-defined]
            home_region=fact.home_region,  # type: ignore[attr-defined]
            birth_ym=fact.birth.strftime("%Y%m") if fact.birth else None,  # type: ignore[attr-defined]
            enterprise=bool(fact.enterprise),  # type: ignore[attr-defined]
            opt_outs=frozenset((category, channel) for category, channels in fact.opt_outs.items()  # type: ignore[attr-defined]
                               for channel in channels),
            addresses=addresses,
        )


def _indexes(client: redis.Redis, claim: object, group: list[TargetingFacts], report: RebuildReport) -> list[int]:
    """Existing idx for citizens already indexed; a contiguous new block (one INCRBY) for the rest, each
    claimed with HSETNX so a citizen indexed concurrently by ``sync_citizen`` keeps the idx it got there."""
    buckets: dict[str, list[int]] = defaultdict(list)
    for n, citizen in enumerate(group):
        buckets[keys.citizen_by_account(citizen.account_id)].append(n)
    pipe = client.pipeline(transaction=False)
    for key, members in buckets.items():
        pipe.hmget(key, [group[n].account_id for n in members])
    found: list[int | None] = [None] * len(group)
    for members, values in zip(buckets.values(), pipe.execute()):
        for n, value in zip(members, values):
            found[n] = int(value) if value is not None else None
    missing = [n for n, value in enumerate(found) if value is None]
    if not missing:
        return [int(value) for value in found]  # type: ignore[arg-type]
    last = int(client.incrby(keys.CITIZEN_SEQ, len(missing)))
    fresh = {n: last - len(missing) + 1 + offset for offset, n in enumerate(missing)}
    wanted: dict[str, list[int]] = defaultdict(list)
    for n in missing:
        wanted[keys.citizen_by_account(group[n].account_id)].append(n)
    pipe = client.pipeline(transaction=False)
    scripts_on = script_client(client, pipe)
    answers = []
    for key, members in wanted.items():
        args: list[object] = []
        for n in members:
            args += [group[n].account_id, fresh[n]]
        # On a cluster each bucket is its own call, answered at once.
        answer = claim(keys=[key], args=args, client=scripts_on)  # type: ignore[operator]
        if scripts_on is None:
            answers.append(answer)
    for members, held in zip(wanted.values(), answers if scripts_on is None else pipe.execute()):
        for n, value in zip(members, held):
            found[n] = int(value)
    report.newly_indexed += len(missing)
    return [int(value) for value in found]  # type: ignore[arg-type]
