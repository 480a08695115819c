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

# KEYS: by_acct, by_idx, seq, all. ARGV: account id. Returns the idx (existing or new).
_ENSURE_INDEX = """
local idx = redis.call('hget', KEYS[1], ARGV[1])
if idx then return tonumber(idx) end
idx = redis.call('incr', KEYS[3])
redis.call('hset', KEYS[1], ARGV[1], idx)
redis.call('hset', KEYS[2], idx, ARGV[1])
redis.call('setbit', KEYS[4], idx, 1)
return idx
"""


class CitizenIndex:
    def __init__(self, redis_client: redis.Redis) -> None:
        self._redis = redis_client
        self._ensure = redis_client.register_script(_ENSURE_INDEX)

    def ensure(self, account_id: str) -> int:
        return int(self._ensure(keys=[keys.CITIZEN_BY_ACCOUNT, keys.CITIZEN_BY_INDEX, keys.CITIZEN_SEQ, keys.SEG_ALL],
                                args=[account_id]))

    def find(self, account_id: str) -> int | None:
        idx = self._redis.hget(keys.CITIZEN_BY_ACCOUNT, account_id)
        return int(idx) if idx is not None else None

    def accounts(self, idxs: Sequence[int]) -> list[str | None]:
        if not idxs:
            return []
        return self._redis.hmget(keys.CITIZEN_BY_INDEX, list(idxs))

    def find_many(self, account_ids: Sequence[str]) -> list[int | None]:
        if not account_ids:
            return []
        return [int(v) if v is not None else None for v in self._redis.hmget(keys.CITIZEN_BY_ACCOUNT, list(account_ids))]


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

    # --- sync from auth ------------------------------------------------------------------------------

    def sync(self, facts: CitizenFacts) -> Profile:
        """Write the citizen's facts into the segments. Idempotent; a changed value moves the bit."""
        idx = self.index.ensure(facts.account_id)
        profile_key = keys.profile(idx)
        birth_ym = facts.birth.strftime("%Y%m") if facts.birth else None
        opt_out_bits = {(cat, ch) for cat, channels in facts.opt_outs.items() for ch in channels
                        if cat in OPT_OUT_CATEGORIES and ch in CHANNELS}
        addresses = {"wechat": facts.wechat_openid, "alipay": facts.alipay_open_id}

        def write(pipe: redis.client.Pipeline) -> None:
            old = pipe.hgetall(profile_key)
            old_optouts = {tuple(pair) for pair in json.loads(old.get("optouts") or "[]")}
            pipe.multi()
            _move(pipe, keys.seg_region, old.get("region"), facts.home_region, idx)
            _move(pipe, keys.seg_birth_month, old.get("birth_ym"), birth_ym, idx)
            pipe.setbit(keys.SEG_VERIFIED_AGE, idx, 1 if birth_ym else 0)
            pipe.setbit(keys.SEG_ENTERPRISE, idx, 1 if facts.enterprise else 0)
            for category in OPT_OUT_CATEGORIES:
                for channel in CHANNELS:
                    wanted = (category, channel) in opt_out_bits
                    if wanted != ((category, channel) in old_optouts):
                        pipe.setbit(keys.seg_opt_out(category, channel), idx, 1 if wanted else 0)
            for channel, value in addresses.items():
                if value:
                    pipe.hset(keys.address(channel), idx, self._crypto.encrypt(value, context=f"push.address.{channel}"))
                    pipe.setbit(keys.seg_address(channel), idx, 1)
                else:
                    pipe.hdel(keys.address(channel), idx)
                    pipe.setbit(keys.seg_address(channel), idx, 0)
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

        Registering a token another account holds moves it here and takes it from that account in the
        same transaction (a phone handed on, or a second account signed in on it: pushes for the old
        account must never reach the new holder). Tokens are found by a blind index
        (``keys.DEVICE_OWNER``), never stored in clear.
        """
        if not isinstance(device_token, str) or not _DEVICE_TOKEN.match(device_token):
            raise InvalidInput("device_token")
        if platform not in APP_PLATFORMS:
            raise InvalidInput("platform", f"platform 须为 {', '.join(APP_PLATFORMS)} 之一")
        idx = self.index.ensure(account_id)
        digest = self._crypto.blind_index("app_device", device_token)
        value = self._crypto.encrypt(json.dumps({"token": device_token, "platform": platform}), context="push.address.app")

        def move(pipe: redis.client.Pipeline) -> None:
            holder = pipe.hget(keys.DEVICE_OWNER, digest)
            previous = pipe.hget(keys.DEVICE_OF, idx)
            previous_holder = pipe.hget(keys.DEVICE_OWNER, previous) if previous and previous != digest else None
            pipe.multi()
            if holder is not None and int(holder) != idx:
                pipe.hdel(keys.address("app"), holder)
                pipe.setbit(keys.seg_address("app"), int(holder), 0)
                pipe.hdel(keys.DEVICE_OF, holder)
            if previous_holder is not None and int(previous_holder) == idx:
                pipe.hdel(keys.DEVICE_OWNER, previous)
            pipe.hset(keys.address("app"), idx, value)
            pipe.setbit(keys.seg_address("app"), idx, 1)
            pipe.hset(keys.DEVICE_OWNER, digest, idx)
            pipe.hset(keys.DEVICE_OF, idx, digest)

        self._redis.transaction(move, keys.DEVICE_OWNER, keys.DEVICE_OF)
        return idx

    def remove_device(self, account_id: str) -> bool:
        idx = self.index.find(account_id)
        if idx is None:
            return False
        return self.drop_address("app", idx)

    def drop_address(self, channel: str, idx: int) -> bool:
        if channel != "app":
            pipe = self._redis.pipeline()
            pipe.hdel(keys.address(channel), idx)
            pipe.setbit(keys.seg_address(channel), idx, 0)
            removed, _ = pipe.execute()
            return bool(removed)

        def drop(pipe: redis.client.Pipeline) -> int:
            digest = pipe.hget(keys.DEVICE_OF, idx)
            holder = pipe.hget(keys.DEVICE_OWNER, digest) if digest else None
            pipe.multi()
            pipe.hdel(keys.address("app"), idx)
            pipe.setbit(keys.seg_address("app"), idx, 0)
            pipe.hdel(keys.DEVICE_OF, idx)
            if holder is not None and int(holder) == idx:
                pipe.hdel(keys.DEVICE_OWNER, digest)
            return 0

        results = self._redis.transaction(drop, keys.DEVICE_OWNER, keys.DEVICE_OF)
        return bool(results[0])


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
        raw = self._redis.hmget(keys.address(channel), list(idxs))
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
