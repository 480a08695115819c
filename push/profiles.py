"""Citizen facts for targeting, indexed as bitmaps over a dense citizen index.

Each account gets an integer ``idx`` once (``CitizenIndex``); every segment is a bitmap with bit
``idx`` set (``push.keys`` lists them): home region, birth month (from the verified ID), enterprise
link, opt-outs per category × channel, reachability per channel, behaviour per item and theme.
``Profiles.sync`` writes a citizen's facts from ``auth`` (via ``push.directory``),
clearing the bits of values that changed; behaviour bits come from ``push.events``.

Channel addresses (openid, Alipay open_id, APP device token) are kept encrypted in
``push:addr:<channel>`` (AAD ``push.address.<channel>``) so the dispatcher reads a whole batch with
one HMGET; the auth bindings stay the source of truth and ``sync`` refreshes the copy.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import redis

from kernel.clock import Clock, SystemClock
from kernel.crypto import Crypto, CryptoError
from push import keys
from push.directory import CitizenFacts
from push.errors import InvalidInput
from push.settings import CHANNELS

log = logging.getLogger("msb.push.profiles")

OPT_OUT_CATEGORIES = ("marketing", "policy")
ADDRESS_CHANNELS = ("wechat", "alipay", "app")
APP_PLATFORMS = ("huawei", "honor", "xiaomi", "oppo", "vivo", "apns")
_DEVICE_TOKEN = re.compile(r"^[A-Za-z0-9:_\-.]{8,256}$")

# KEYS: by_acct (the account's bucket). ARGV: account id, a freshly drawn idx. Returns the idx the account
# holds: an existing one, else the fresh one. The sequence lives in another slot, so the idx is drawn
# (INCR) before this script; an idx drawn by a caller that lost the race stays unused (an index is never
# reused anyway, and a hole costs one zero bit).
_CLAIM_INDEX = """
local idx = redis.call('hget', KEYS[1], ARGV[1])
if idx then return tonumber(idx) end
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
return tonumber(ARGV[2])
"""


class CitizenIndex:
    """account id <-> idx. The two directions live in different slots (a bucket of accounts, a shard of
    indexes): the account's bucket decides, and the shard's reverse entry and ``seg:all`` bit are
    written after it, and written again by every ``Profiles.sync`` (so a crash between the two heals)."""

    def __init__(self, redis_client: redis.Redis) -> None:
        self._redis = redis_client
        self._claim = redis_client.register_script(_CLAIM_INDEX)

    def ensure(self, account_id: str) -> int:
        existing = self.find(account_id)
        if existing is not None:
            return existing
        fresh = int(self._redis.incr(keys.CITIZEN_SEQ))
        idx = int(self._claim(keys=[keys.citizen_by_account(account_id)], args=[account_id, fresh]))
        pipe = self._redis.pipeline(transaction=False)
        self.write_reverse(pipe, idx, account_id)
        pipe.execute()
        return idx

    @staticmethod
    def write_reverse(pipe: Any, idx: int, account_id: str) -> None:
        """Queue the shard's half on ``pipe``: idx -> account and the ``seg:all`` bit."""
        pipe.hset(keys.citizen_by_index(keys.shard_of(idx)), idx, account_id)
        pipe.setbit(keys.seg_all(keys.shard_of(idx)), keys.bit_of(idx), 1)

    def find(self, account_id: str) -> int | None:
        idx = self._redis.hget(keys.citizen_by_account(account_id), account_id)
        return int(idx) if idx is not None else None

    def accounts(self, idxs: Sequence[int]) -> list[str | None]:
        if not idxs:
            return []
        groups = keys.by_shard(idxs)
        pipe = self._redis.pipeline(transaction=False)
        for shard, members in groups.items():
            pipe.hmget(keys.citizen_by_index(shard), members)
        found: dict[int, str | None] = {}
        for members, values in zip(groups.values(), pipe.execute()):
            found.update(zip(members, values))
        return [found[int(idx)] for idx in idxs]

    def find_many(self, account_ids: Sequence[str]) -> list[int | None]:
        if not account_ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for account_id in account_ids:
            pipe.hget(keys.citizen_by_account(account_id), account_id)
        return [int(v) if v is not None else None for v in pipe.execute()]


@dataclass(frozen=True)
class Profile:
    idx: int
    account_id: str
    region: str | None
    birth_ym: str | None
    enterprise: bool

    def age(self, today: date) -> int | None:
        """Completed years, at month precision (the birth month is all push keeps)."""
        if not self.birth_ym:
            return None
        year, month = int(self.birth_ym[:4]), int(self.birth_ym[4:])
        return today.year - year - (1 if today.month < month else 0)


class Profiles:
    def __init__(self, redis_client: redis.Redis, crypto: Crypto, clock: Clock | None = None) -> None:
        self._redis = redis_client
        self._crypto = crypto
        self._clock = clock or SystemClock()
        self.index = CitizenIndex(redis_client)
        self._swap_owner = redis_client.register_script(_SWAP_OWNER)
        self._release_owner = redis_client.register_script(_RELEASE_OWNER)
        self._set_device = redis_client.register_script(_SET_DEVICE)
        self._unset_device = redis_client.register_script(_UNSET_DEVICE)

    # --- sync from auth ------------------------------------------------------------------------------

    def sync(self, facts: CitizenFacts) -> Profile:
        """Write the citizen's facts into the segments. Idempotent; a changed value moves the bit."""
        idx = self.index.ensure(facts.account_id)
        shard, bit = keys.shard_of(idx), keys.bit_of(idx)
        profile_key = keys.profile(idx)
        birth_ym = facts.birth.strftime("%Y%m") if facts.birth else None
        opt_out_bits = {(cat, ch) for cat, channels in facts.opt_outs.items() for ch in channels
                        if cat in OPT_OUT_CATEGORIES and ch in CHANNELS}
        addresses = {"wechat": facts.wechat_openid, "alipay": facts.alipay_open_id}

        def write(pipe: redis.client.Pipeline) -> None:
            old = pipe.hgetall(profile_key)
            old_optouts = {tuple(pair) for pair in json.loads(old.get("optouts") or "[]")}
            pipe.multi()  # every key below is in the citizen's shard: one slot, one transaction
            CitizenIndex.write_reverse(pipe, idx, facts.account_id)
            _move(pipe, lambda value: keys.seg_region(shard, value), old.get("region"), facts.home_region, bit)
            _move(pipe, lambda value: keys.seg_birth_month(shard, value), old.get("birth_ym"), birth_ym, bit)
            pipe.setbit(keys.seg_verified_age(shard), bit, 1 if birth_ym else 0)
            pipe.setbit(keys.seg_enterprise(shard), bit, 1 if facts.enterprise else 0)
            for category in OPT_OUT_CATEGORIES:
                for channel in CHANNELS:
                    wanted = (category, channel) in opt_out_bits
                    if wanted != ((category, channel) in old_optouts):
                        pipe.setbit(keys.seg_opt_out(shard, category, channel), bit, 1 if wanted else 0)
            for channel, value in addresses.items():
                if value:
                    pipe.hset(keys.address(shard, channel), idx, self._crypto.encrypt(value, context=f"push.address.{channel}"))
                    pipe.setbit(keys.seg_address(shard, channel), bit, 1)
                else:
                    pipe.hdel(keys.address(shard, channel), idx)
                    pipe.setbit(keys.seg_address(shard, channel), bit, 0)
            pipe.hset(profile_key, mapping={
                "account": facts.account_id,
                "region": facts.home_region or "",
                "birth_ym": birth_ym or "",
                "enterprise": "1" if facts.enterprise else "0",
                "optouts": json.dumps(sorted(opt_out_bits)),
                "synced_at": repr(self._clock.now()),
            })

        self._redis.transaction(write, profile_key)
        return self.get(idx)  # type: ignore[return-value]

    def get(self, idx: int) -> Profile | None:
        data = self._redis.hgetall(keys.profile(idx))
        if not data:
            return None
        return Profile(idx, data.get("account", ""), data.get("region") or None, data.get("birth_ym") or None,
                       data.get("enterprise") == "1")

    def for_account(self, account_id: str) -> Profile | None:
        idx = self.index.find(account_id)
        return self.get(idx) if idx is not None else None

    # --- APP devices ---------------------------------------------------------------------------------

    def register_device(self, account_id: str, device_token: str, platform: str) -> int:
        """The citizen's APP device: one per citizen (the latest login wins) and one citizen per device.

        Registering a token another account holds moves it here and takes it from that account (a phone
        handed on, or a second account signed in on it: pushes for the old account must never reach the
        new holder). Tokens are found by a blind index (``keys.device_owner``), never stored in clear.

        The token's owner entry (a bucket of tokens) and the two accounts' addresses (their shards) live
        in different slots, so the move is a sequence of single-slot steps ordered for safety: the owner
        entry is switched to us (compare-and-set), then the old holder loses the address, then we gain
        it, then we check the owner entry again (a concurrent registration of the same token that
        switched it after us gets the device; we remove our copy). A crash part-way leaves at most an owner entry
        pointing at an account without the address, healed by the next registration of the token.
        """
        if not isinstance(device_token, str) or not _DEVICE_TOKEN.match(device_token):
            raise InvalidInput("device_token")
        if platform not in APP_PLATFORMS:
            raise InvalidInput("platform", f"platform 须为 {', '.join(APP_PLATFORMS)} 之一")
        idx = self.index.ensure(account_id)
        digest = self._crypto.blind_index("app_device", device_token)
        value = self._crypto.encrypt(json.dumps({"token": device_token, "platform": platform}), context="push.address.app")
        owner_key = keys.device_owner(digest)
        for _ in range(10):
            holder = self._redis.hget(owner_key, digest)
            if self._swap_owner(keys=[owner_key], args=[digest, holder or "", idx]):
                break
        if holder is not None and int(holder) != idx:
            # after the swap: a holder that sets the address later finds the owner changed and drops it
            self._release_device(int(holder), digest)
        shard = keys.shard_of(idx)
        previous = self._set_device(keys=[keys.address(shard, "app"), keys.seg_address(shard, "app"), keys.device_of(shard)],
                                    args=[idx, keys.bit_of(idx), value, digest])
        if previous and previous != digest:
            self._release_owner(keys=[keys.device_owner(previous)], args=[previous, idx])
        if self._redis.hget(owner_key, digest) != str(idx):  # lost a race for this token meanwhile
            self._release_device(idx, digest)
        return idx

    def _release_device(self, idx: int, digest: str) -> bool:
        """Take the app address from ``idx`` if its current device is ``digest``."""
        shard = keys.shard_of(idx)
        return bool(self._unset_device(keys=[keys.address(shard, "app"), keys.seg_address(shard, "app"), keys.device_of(shard)],
                                       args=[idx, keys.bit_of(idx), digest]))

    def remove_device(self, account_id: str) -> bool:
        idx = self.index.find(account_id)
        if idx is None:
            return False
        return self.drop_address("app", idx)

    def drop_address(self, channel: str, idx: int) -> bool:
        shard, bit = keys.shard_of(idx), keys.bit_of(idx)
        if channel != "app":
            pipe = self._redis.pipeline()
            pipe.hdel(keys.address(shard, channel), idx)
            pipe.setbit(keys.seg_address(shard, channel), bit, 0)
            removed, _ = pipe.execute()
            return bool(removed)
        digest = self._redis.hget(keys.device_of(shard), idx)
        removed = self._unset_device(keys=[keys.address(shard, "app"), keys.seg_address(shard, "app"), keys.device_of(shard)],
                                     args=[idx, bit, digest or ""])
        if digest:
            self._release_owner(keys=[keys.device_owner(digest)], args=[digest, idx])
        return bool(removed)


# KEYS: owner hash. ARGV: digest, expected holder ('' = none), new holder. Compare-and-set.
_SWAP_OWNER = """
local holder = redis.call('hget', KEYS[1], ARGV[1]) or ''
if holder ~= ARGV[2] then return 0 end
redis.call('hset', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

# KEYS: owner hash. ARGV: digest, holder. Forget the owner entry if it still names ``holder``.
_RELEASE_OWNER = """
if redis.call('hget', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('hdel', KEYS[1], ARGV[1]) end
return 0
"""

# KEYS: app address hash, app address bitmap, device_of (one shard). ARGV: idx, bit, ciphertext, digest.
# Returns the blind index of the device the citizen had before ('' = none).
_SET_DEVICE = """
local previous = redis.call('hget', KEYS[3], ARGV[1]) or ''
redis.call('hset', KEYS[1], ARGV[1], ARGV[3])
redis.call('setbit', KEYS[2], ARGV[2], 1)
redis.call('hset', KEYS[3], ARGV[1], ARGV[4])
return previous
"""

# KEYS: as _SET_DEVICE. ARGV: idx, bit, digest ('' = whatever device). Drops the address only if the
# citizen's device is still ``digest``; returns whether an address was removed.
_UNSET_DEVICE = """
local current = redis.call('hget', KEYS[3], ARGV[1])
if ARGV[3] ~= '' and current ~= ARGV[3] then return 0 end
local removed = redis.call('hdel', KEYS[1], ARGV[1])
redis.call('setbit', KEYS[2], ARGV[2], 0)
redis.call('hdel', KEYS[3], ARGV[1])
return removed
"""


def _move(pipe: Any, key_for: Any, old: str | None, new: str | None, idx: int) -> None:
    if old == new:
        if new:
            pipe.setbit(key_for(new), idx, 1)
        return
    if old:
        pipe.setbit(key_for(old), idx, 0)
    if new:
        pipe.setbit(key_for(new), idx, 1)


class AddressBook:
    """Decrypted channel addresses for a batch of citizens (dispatch time only)."""

    def __init__(self, redis_client: redis.Redis, crypto: Crypto) -> None:
        self._redis = redis_client
        self._crypto = crypto

    def lookup(self, channel: str, idxs: Sequence[int]) -> list[Any]:
        if channel == "inbox" or not idxs:
            return [True] * len(idxs)
        groups = keys.by_shard(idxs)
        pipe = self._redis.pipeline(transaction=False)
        for shard, members in groups.items():
            pipe.hmget(keys.address(shard, channel), members)
        found: dict[int, Any] = {}
        for members, values in zip(groups.values(), pipe.execute()):
            found.update(zip(members, values))
        raw = [found[int(idx)] for idx in idxs]
        result: list[Any] = []
        for value in raw:
            if value is None:
                result.append(None)
                continue
            try:
                plain = self._crypto.decrypt(value, context=f"push.address.{channel}")
            except CryptoError:  # wrong secret dir or a tampered value: unreachable, not a crash
                log.warning("channel address unreadable", extra={"fields": {"channel": channel}})
                result.append(None)
                continue
            result.append(json.loads(plain) if channel == "app" else plain)
        return result
