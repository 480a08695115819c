"""Opaque, rotating refresh tokens grouped in families (RFC 9700 §4.14).

A family is one login on one device. Each token is 256 random bits (``rt1.`` + 43 base64url
characters, so it can never parse as a JWT and vice versa) and only its SHA-256 is stored. Every use
rotates it inside one Lua script (check-and-rotate), so two concurrent uses cannot both win.

Presenting a rotated token revokes the whole family (``refresh_token_reused``): the server cannot
tell the thief from the owner. Exception: within ``grace_seconds`` of the rotation, while its
successor is still unused, the same old token gets the same successor again, so a response lost on
a mobile network does not log the user out. The successor is derived from the old token with a
keyed HMAC, so the server can hand it out again without ever storing a usable token.

Families die at their idle limit (no use for ``idle``) or their absolute limit, both judged against
the injected clock; Redis TTLs only collect the garbage.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass

import redis

from auth import keys
from auth.errors import RefreshTokenExpired, RefreshTokenInvalid, RefreshTokenReused
from kernel.clock import Clock
from kernel.crypto import Crypto

TOKEN_PREFIX = "rt1."
TOKEN_PATTERN = re.compile(r"^rt1\.[A-Za-z0-9_-]{43}$")
DEFAULT_GRACE_SECONDS = 30


@dataclass(frozen=True)
class FamilyPolicy:
    idle_seconds: int
    absolute_seconds: int


CITIZEN_POLICY = FamilyPolicy(idle_seconds=14 * keys.DAY, absolute_seconds=30 * keys.DAY)
# Console sessions follow login.gov's figures: 15 min inactivity on the page, 12 h at most.
OPERATOR_POLICY = FamilyPolicy(idle_seconds=30 * 60, absolute_seconds=12 * 3600)


@dataclass(frozen=True)
class Family:
    family_id: str
    account_id: str
    channel: str
    amr: tuple[str, ...]
    acting_for: str | None
    created_at: float


@dataclass(frozen=True)
class Rotation:
    family: Family
    refresh_token: str
    replayed: bool  # True when the grace window handed out an already issued successor

    def __repr__(self) -> str:
        return f"Rotation(family={self.family.family_id!r}, replayed={self.replayed})"


# KEYS: old token, family, successor token.
# ARGV: now, grace, successor hash, old hash, family id.
_ROTATE = """
local tok = redis.call('HMGET', KEYS[1], 'family', 'state', 'rotated_at', 'next')
if not tok[1] or tok[1] ~= ARGV[5] then return {'invalid'} end
local fam = redis.call('HMGET', KEYS[2], 'current', 'created_at', 'last_used', 'idle', 'absolute', 'account')
if not fam[1] then return {'invalid'} end
local now = tonumber(ARGV[1])
local created, idle, absolute = tonumber(fam[2]), tonumber(fam[4]), tonumber(fam[5])
if now >= created + absolute or now >= tonumber(fam[3]) + idle then
  redis.call('DEL', KEYS[2])
  return {'expired', fam[6]}
end
if tok[2] == 'active' then
  if fam[1] ~= ARGV[4] then return {'invalid'} end
  local ttl = math.ceil(math.min(idle, created + absolute - now))
  redis.call('HSET', KEYS[1], 'state', 'rotated', 'rotated_at', ARGV[1], 'next', ARGV[3])
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('HSET', KEYS[3], 'family', ARGV[5], 'state', 'active')
  redis.call('EXPIRE', KEYS[3], ttl)
  redis.call('HSET', KEYS[2], 'current', ARGV[3], 'last_used', ARGV[1])
  return {'rotated', fam[6]}
end
if now - tonumber(tok[3]) <= tonumber(ARGV[2]) and fam[1] == tok[4] and tok[4] == ARGV[3] then
  return {'grace', fam[6]}
end
redis.call('DEL', KEYS[2])
return {'reused', fam[6]}
"""

# Never resurrect a family that expired or was revoked in the meantime (HSET would recreate it).
_SET_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
"""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RefreshTokens:
    def __init__(
        self, redis_client: redis.Redis, crypto: Crypto, clock: Clock, *, grace_seconds: int = DEFAULT_GRACE_SECONDS
    ) -> None:
        self._redis = redis_client
        self._crypto = crypto
        self._clock = clock
        self._grace = grace_seconds
        self._rotate = redis_client.register_script(_ROTATE)
        self._set_if_exists = redis_client.register_script(_SET_IF_EXISTS)

    def _successor(self, token: str) -> str:
        digest = bytes.fromhex(self._crypto.keyed_hash("refresh-successor", token, hex_chars=64))
        return TOKEN_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def start_family(
        self, *, account_id: str, channel: str, amr: tuple[str, ...], policy: FamilyPolicy, binding: str = ""
    ) -> tuple[Family, str]:
        """Open a new session; returns it with its first refresh token. ``binding`` names the login
        binding the session came in by (recovery refuses to evict the one it is using)."""
        now = self._clock.now()
        family = Family(secrets.token_urlsafe(16), account_id, channel, tuple(amr), None, now)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_hash = _hash(token)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                keys.refresh_family(family.family_id),
                mapping={
                    "account": account_id,
                    "channel": channel,
                    "amr": ",".join(family.amr),
                    "created_at": repr(now),
                    "last_used": repr(now),
                    "idle": policy.idle_seconds,
                    "absolute": policy.absolute_seconds,
                    "current": token_hash,
                    "binding": binding,
                },
            )
            pipe.expire(keys.refresh_family(family.family_id), policy.absolute_seconds)
            pipe.hset(keys.refresh_token(token_hash), mapping={"family": family.family_id, "state": "active"})
            pipe.expire(keys.refresh_token(token_hash), policy.idle_seconds)
            pipe.sadd(keys.account_families(account_id), family.family_id)
            pipe.expire(keys.account_families(account_id), max(keys.ACCOUNT_FAMILIES_TTL, policy.absolute_seconds))
            pipe.execute()
        return family, token

    def rotate(self, token: str) -> Rotation:
        """Exchange a refresh token for its successor. Raises RefreshTokenInvalid, RefreshTokenExpired,
        or RefreshTokenReused (after revoking the family; ``details`` carry nothing personal)."""
        if not isinstance(token, str) or not TOKEN_PATTERN.match(token):
            raise RefreshTokenInvalid()
        token_hash = _hash(token)
        family_id = self._redis.hget(keys.refresh_token(token_hash), "family")
        if family_id is None:
            raise RefreshTokenInvalid()
        successor = self._successor(token)
        successor_hash = _hash(successor)
        outcome, *rest = self._rotate(
            keys=[keys.refresh_token(token_hash), keys.refresh_family(family_id), keys.refresh_token(successor_hash)],
            args=[repr(self._clock.now()), self._grace, successor_hash, token_hash, family_id],
        )
        if outcome == "invalid":
            raise RefreshTokenInvalid()
        if outcome == "expired":
            self._redis.srem(keys.account_families(rest[0]), family_id)
            raise RefreshTokenExpired()
        if outcome == "reused":
            self._redis.srem(keys.account_families(rest[0]), family_id)
            raise RefreshTokenReused(account_id=rest[0], family_id=family_id)
        family = self.family(family_id)
        if family is None:  # revoked between the script and this read
            raise RefreshTokenInvalid()
        return Rotation(family, successor, replayed=outcome == "grace")

    def family(self, family_id: str) -> Family | None:
        """The live family, or None when revoked or past its idle/absolute limit."""
        data = self._redis.hgetall(keys.refresh_family(family_id))
        if not data or "current" not in data:
            return None
        now = self._clock.now()
        created_at = float(data["created_at"])
        if now >= created_at + int(data["absolute"]) or now >= float(data["last_used"]) + int(data["idle"]):
            return None
        return Family(
            family_id=family_id,
            account_id=data["account"],
            channel=data["channel"],
            amr=tuple(filter(None, data["amr"].split(","))),
            acting_for=data.get("acting_for") or None,
            created_at=created_at,
        )

    def family_binding(self, family_id: str) -> str:
        return self._redis.hget(keys.refresh_family(family_id), "binding") or ""

    def set_acting_for(self, family_id: str, enterprise_id: str | None) -> bool:
        return bool(
            self._set_if_exists(keys=[keys.refresh_family(family_id)], args=["acting_for", enterprise_id or ""])
        )

    def revoke_family(self, family_id: str, *, owner_id: str | None = None) -> bool:
        """Delete a family and its current token. ``owner_id`` is the account the family is indexed
        under when it differs from the one it was created for (after a merge)."""
        family_key = keys.refresh_family(family_id)
        account_id, current = self._redis.hmget(family_key, "account", "current")
        if account_id is None:
            return False
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(family_key)
            if current:
                pipe.delete(keys.refresh_token(current))
            for index_owner in {account_id, owner_id or account_id}:
                pipe.srem(keys.account_families(index_owner), family_id)
            pipe.execute()
        return True

    def family_ids(self, account_id: str) -> set[str]:
        return set(self._redis.smembers(keys.account_families(account_id)))

    def revoke_account(self, account_id: str) -> list[str]:
        """Revoke every family indexed under the account (logout on all devices)."""
        revoked = []
        for family_id in sorted(self.family_ids(account_id)):
            if self.revoke_family(family_id, owner_id=account_id):
                revoked.append(family_id)
        self._redis.delete(keys.account_families(account_id))
        return revoked
