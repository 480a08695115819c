"""Real-name claims: proving control of the account that already holds a verified ID number.

A name and an ID number leak in bulk, so verifying them never opens the account that holds that
number (``auth.accounts.IdentityOwned``). Instead the caller's verified-but-unbound attempt is
remembered for a short while (``pending``), and the caller may start a *claim* against it: a one-time
code sent to the existing account's bound phone, or a 四级 face check through the identity platform.

Everything lives under the caller's own account id (hash tag ``{acct}``): a claim id sent by someone
else simply is not found. Codes are stored as keyed hashes and burned on success or after
``CLAIM_ATTEMPTS`` wrong tries; each check-and-count is one Lua script on one key.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import redis

from auth import keys
from auth.errors import ClaimNotFound, ClaimProofInvalid
from kernel.clock import Clock
from kernel.crypto import Crypto

METHOD_SMS = "sms"
METHOD_FACE = "face"
METHODS = (METHOD_SMS, METHOD_FACE)

# KEYS: the claim hash. ARGV: now, method, presented code hash ('' = face: only count), max attempts.
# Returns {outcome, attempts_left}; outcome ok | wrong | missing | method. A face check counts the try
# before the upstream call, so parallel captures cannot exceed the limit.
_CHECK = """
local data = redis.call('HMGET', KEYS[1], 'method', 'code_hash', 'attempts', 'expires_at')
if not data[1] then return {'missing', 0} end
if tonumber(ARGV[1]) >= tonumber(data[4]) then redis.call('DEL', KEYS[1]) return {'missing', 0} end
if data[1] ~= ARGV[2] then return {'method', 0} end
local attempts = tonumber(data[3]) + 1
local left = tonumber(ARGV[4]) - attempts
if left < 0 then redis.call('DEL', KEYS[1]) return {'missing', 0} end
if ARGV[3] ~= '' then
  if data[2] == ARGV[3] then redis.call('DEL', KEYS[1]) return {'ok', left} end
  if left <= 0 then redis.call('DEL', KEYS[1]) else redis.call('HSET', KEYS[1], 'attempts', attempts) end
  return {'wrong', left}
end
redis.call('HSET', KEYS[1], 'attempts', attempts)
return {'ok', left}
"""


@dataclass(frozen=True)
class Pending:
    target: str  # the account holding the ID number
    id_blind: str
    name: str
    id_number: str

    def __repr__(self) -> str:
        return f"Pending(target={self.target!r})"


@dataclass(frozen=True)
class Claim:
    claim_id: str
    method: str
    pending: Pending
    attempts_left: int

    def __repr__(self) -> str:
        return f"Claim(method={self.method!r}, target={self.pending.target!r})"


class RealnameClaims:
    def __init__(self, redis_client: redis.Redis, crypto: Crypto, clock: Clock) -> None:
        self._redis = redis_client
        self._crypto = crypto
        self._clock = clock
        self._check = redis_client.register_script(_CHECK)

    def _encrypted(self, pending: Pending) -> dict[str, str]:
        return {
            "target": pending.target,
            "id_blind": pending.id_blind,
            "enc_name": self._crypto.encrypt(pending.name, context="name"),
            "enc_id_number": self._crypto.encrypt(pending.id_number, context="id_number"),
        }

    def _decrypted(self, data: dict[str, str]) -> Pending:
        return Pending(
            data["target"],
            data["id_blind"],
            self._crypto.decrypt(data["enc_name"], context="name"),
            self._crypto.decrypt(data["enc_id_number"], context="id_number"),
        )

    def remember(self, account_id: str, pending: Pending) -> None:
        key = keys.realname_pending(account_id)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=self._encrypted(pending))
            pipe.expire(key, keys.REALNAME_PENDING_TTL)
            pipe.execute()

    def pending(self, account_id: str) -> Pending | None:
        data = self._redis.hgetall(keys.realname_pending(account_id))
        return self._decrypted(data) if data else None

    def forget(self, account_id: str) -> None:
        self._redis.delete(keys.realname_pending(account_id))

    def _code_hash(self, claim_id: str, code: str) -> str:
        return self._crypto.keyed_hash("realname-claim", f"{claim_id}:{code}", hex_chars=64)

    def start(self, account_id: str, pending: Pending, method: str) -> tuple[str, str | None]:
        """Open a claim; returns its id and, for ``sms``, the code to send (never stored in clear)."""
        claim_id = secrets.token_urlsafe(12)
        code = f"{secrets.randbelow(1_000_000):06d}" if method == METHOD_SMS else None
        key = keys.realname_claim(account_id, claim_id)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    **self._encrypted(pending),
                    "method": method,
                    "code_hash": self._code_hash(claim_id, code) if code else "",
                    "attempts": 0,
                    "expires_at": repr(self._clock.now() + keys.CLAIM_TTL),
                },
            )
            pipe.expire(key, keys.CLAIM_TTL)
            pipe.execute()
        return claim_id, code

    def check(self, account_id: str, claim_id: str, method: str, code: str | None) -> Claim:
        """Count one try. With a code: compare and burn on success (``ClaimProofInvalid`` otherwise).
        Without one (face): counted only; call ``burn`` after the upstream said yes."""
        key = keys.realname_claim(account_id, claim_id)
        data = self._redis.hgetall(key)
        if not data:
            raise ClaimNotFound()
        presented = self._code_hash(claim_id, code) if code is not None else ""
        outcome, left = self._check(
            keys=[key], args=[repr(self._clock.now()), method, presented, keys.CLAIM_ATTEMPTS]
        )
        if outcome == "missing":
            raise ClaimNotFound()
        if outcome == "method":
            raise ClaimProofInvalid(int(left), "请使用发起申请时选择的验证方式")
        if outcome == "wrong":
            raise ClaimProofInvalid(int(left), "验证码错误" if int(left) > 0 else "验证码错误次数过多，请重新发起申请")
        return Claim(claim_id, method, self._decrypted(data), int(left))

    def burn(self, account_id: str, claim_id: str) -> None:
        self._redis.delete(keys.realname_claim(account_id, claim_id))
