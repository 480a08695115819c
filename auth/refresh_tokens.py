"""Opaque, rotating refresh tokens grouped in families (RFC 9700 §4.14).

A family is one login on one device. Each token is 256 random bits (``rt1.`` + 43 base64url
characters, so it can never parse as a JWT and vice versa) and only its SHA-256 is stored. Every use
rotates it inside one Lua script (check-and-rotate), so two concurrent uses cannot both win.

Presenting a rotated token revokes the whole family (``refresh_token_reused``): the server cannot
tell the thief from the owner. Exception: within ``grace_seconds`` of the rotation, while its
successor is still unused, the same old token gets the same successor again, so a response lost on
a mobile network does not log the user out. The successor is derived from the old token with a
keyed HMAC, so the server can hand it out again without ever storing a usable token.

On a Redis Cluster each key lives in its own slot: the rotation script touches only the family (its
``current``/``previous`` fields say which token is live), and the per-token lookup keys and the account's
family index are written in an order that never leaves a live family unreachable by logout-all.

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


# KEYS: the family (the only key: a family's rotation state lives in its own hash, so the script
# needs no hash tag and runs on any cluster node). ARGV: now, grace, successor hash, presented hash.
# The presented token was found in the family through its lookup key; it is the current token, the
# previous one (rotated at ``rotated_at``, its successor is the current one) or an older tombstone.
_ROTATE = """
local fam = redis.call('HMGET', KEYS[1], 'current', 'created_at', 'last_used', 'idle', 'absolute', 'account',
                       'previous', 'rotated_at')
if not fam[1] then return {'invalid'} end
local now = tonumber(ARGV[1])
local created, idle, absolute = tonumber(fam[2]), tonumber(fam[4]), tonumber(fam[5])
if now >= created + absolute or now >= tonumber(fam[3]) + idle then
  redis.call('DEL', KEYS[1])
  return {'expired', fam[6]}
end
local ttl = math.ceil(math.min(idle, created + absolute - now))
if fam[1] == ARGV[4] then
  redis.call('HSET', KEYS[1], 'current', ARGV[3], 'previous', ARGV[4], 'rotated_at', ARGV[1], 'last_used', ARGV[1])
  return {'rotated', fam[6], ttl}
end
if fam[7] == ARGV[4] and now - tonumber(fam[8]) <= tonumber(ARGV[2]) and fam[1] == ARGV[3] then
  return {'grace', fam[6], ttl}
end
redis.call('DEL', KEYS[1])
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
        # Three keys in three slots, so no MULTI: the account's index first (logout-all must never miss
        # a live family; an index entry whose family never got written is skipped by revoke_family),
        # then the family, then the token's lookup (without it the family is unreachable).
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(keys.account_families(account_id), family.family_id)
            pipe.expire(keys.account_families(account_id), max(keys.ACCOUNT_FAMILIES_TTL, policy.absolute_seconds))
            pipe.execute()
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
            pipe.execute()
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.refresh_token(token_hash), mapping={"family": family.family_id})
            pipe.expire(keys.refresh_token(token_hash), policy.idle_seconds)
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
            keys=[keys.refresh_family(family_id)],
            args=[repr(self._clock.now()), self._grace, successor_hash, token_hash],
        )
        if outcome == "invalid":
            raise RefreshTokenInvalid()
        if outcome == "expired":
            self._redis.srem(keys.account_families(rest[0]), family_id)
            raise RefreshTokenExpired()
        if outcome == "reused":
            self._redis.srem(keys.account_families(rest[0]), family_id)
            raise RefreshTokenReused(account_id=rest[0], family_id=family_id)
        # After the script (other slots): the successor's lookup, and the old token's tombstone kept as
        # long as the family can live, so presenting it later is recognised as reuse. Should this fail,
        # the client never got the successor; its retry with the old token within the grace window
        # takes the 'grace' path and writes the lookup again.
        ttl = int(rest[1])
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(keys.refresh_token(successor_hash), mapping={"family": family_id})
            pipe.expire(keys.refresh_token(successor_hash), ttl)
            pipe.expire(keys.refresh_token(token_hash), ttl)
            pipe.execute()
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
        # Deleting the family is the revocation (every token of it then reads 'invalid'); the token's
        # lookup and the index entries are separate keys in other slots, removed after it.
        if not self._redis.delete(family_key):
            return False
        with self._redis.pipeline(transaction=False) as pipe:
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
