"""Six-digit SMS login codes: random, stored only as a keyed hash, five minutes, single use,
five attempts. Verification is one Lua script, so parallel guesses cannot share an attempt."""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass

import redis

from auth import keys
from kernel.clock import Clock
from kernel.crypto import Crypto

CODE_TTL = keys.SMS_CODE_TTL
MAX_ATTEMPTS = 5
_CODE_PATTERN = re.compile(r"^\d{6}$")

# KEYS: code hash key. ARGV: now, candidate hash, max attempts.
_VERIFY = """
local d = redis.call('HMGET', KEYS[1], 'code_hash', 'expires_at', 'attempts')
if not d[1] then return {'expired', 0} end
if tonumber(ARGV[1]) >= tonumber(d[2]) then
  redis.call('DEL', KEYS[1])
  return {'expired', 0}
end
if d[1] == ARGV[2] then
  redis.call('DEL', KEYS[1])
  return {'ok', 0}
end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if attempts >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
  return {'exhausted', 0}
end
return {'wrong', tonumber(ARGV[3]) - attempts}
"""


class SmsCheck(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    EXHAUSTED = "exhausted"  # this guess used the last attempt; the code is gone
    EXPIRED = "expired"  # none issued, expired, or already used


@dataclass(frozen=True)
class SmsVerification:
    outcome: SmsCheck
    attempts_left: int


class SmsCodes:
    def __init__(self, redis_client: redis.Redis, crypto: Crypto, clock: Clock) -> None:
        self._redis = redis_client
        self._crypto = crypto
        self._clock = clock
        self._verify = redis_client.register_script(_VERIFY)

    def _key(self, phone: str) -> str:
        return keys.sms_code(self._crypto.blind_index("phone", phone))

    def _code_hash(self, phone: str, code: str) -> str:
        return self._crypto.keyed_hash("sms-code", f"{phone}\x1f{code}")

    def issue(self, phone: str) -> str:
        """A fresh code for a normalised phone; replaces any earlier one."""
        code = f"{secrets.randbelow(1_000_000):06d}"
        key = self._key(phone)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(
                key,
                mapping={
                    "code_hash": self._code_hash(phone, code),
                    "expires_at": repr(self._clock.now() + CODE_TTL),
                    "attempts": 0,
                },
            )
            pipe.expire(key, CODE_TTL)
            pipe.execute()
        return code

    def verify(self, phone: str, code: str) -> SmsVerification:
        candidate = code.strip() if isinstance(code, str) else ""
        # A malformed guess still costs an attempt: it is a guess.
        candidate_hash = self._code_hash(phone, candidate) if _CODE_PATTERN.match(candidate) else "-"
        outcome, left = self._verify(
            keys=[self._key(phone)], args=[repr(self._clock.now()), candidate_hash, MAX_ATTEMPTS]
        )
        return SmsVerification(SmsCheck(outcome), int(left))
