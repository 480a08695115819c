"""Throttles on guessing a secret (operator passwords, SMS codes) that a stranger cannot turn against
the real person.

A global per-identity lock lets anyone who knows a username or a phone keep its owner out all day.
Following OWASP's authentication cheat sheet ("slow down online guessing attacks with device
cookies"), login.gov and GOV.UK One Login, the limits are placed where the attacker is:

- per (identity, client address): ``pair_limit`` failures in ``window`` lock that pair for
  ``lock_seconds`` — the attacker's address, not the identity;
- per client address across identities: ``ip_limit`` failures in ``ip_window`` refuse that address
  (one address spraying many usernames or phones);
- per identity from any address: after ``slow_after`` failures, addresses the identity has not been
  seen at wait 1, 2, 4 … seconds (capped at ``max_delay``) between attempts. Never a long lock, and
  addresses it logged in from (or, for SMS, asked for the current code from) are not slowed at all.

Each attempt is counted as a failure *before* the secret is checked and refunded on success, so
parallel guesses cannot overtake a limit. The identity's keys share one hash tag and are checked and
counted by one script; the per-address counter is its own key (another slot), counted first and
refunded if the identity refuses.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from auth import keys
from auth.errors import AccountLocked, RateLimited
from auth.rate_limits import RateLimiter, ip_subject


@dataclass(frozen=True)
class GuardPolicy:
    scope: str
    pair_limit: int
    window: int
    lock_seconds: int
    slow_after: int
    max_delay: int
    ip_limit: int
    ip_window: int
    trust_seconds: int = keys.GUARD_KNOWN_TTL


# Operators: 5 wrong passwords from one address lock that address out of that username for 15 min.
OPERATOR_GUARD = GuardPolicy("operator", pair_limit=5, window=900, lock_seconds=900, slow_after=5, max_delay=30,
                             ip_limit=30, ip_window=3600)
# APP SMS login: every 5 wrong guesses burn the code (auth.sms_codes); two burnt codes from one address
# lock that address out of that phone for 15 min.
SMS_GUARD = GuardPolicy("sms", pair_limit=10, window=900, lock_seconds=900, slow_after=5, max_delay=30,
                        ip_limit=30, ip_window=3600)

# KEYS: identity, pair, known. ARGV: now, ip hash, pair limit, window, lock seconds, slow after, max delay.
# Returns {verdict, seconds}: ok | last (this attempt locks the pair if it fails) | locked | slow.
_ATTEMPT = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[4])
local pair_limit, lock, slow_after, max_delay = tonumber(ARGV[3]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local p = redis.call('HMGET', KEYS[2], 'count', 'start', 'locked_until')
local locked = tonumber(p[3]) or 0
if locked > now then return {'locked', math.ceil(locked - now)} end
local trusted = (tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0') or 0) > now
local d = redis.call('HMGET', KEYS[1], 'count', 'start', 'last')
local count, start, last = tonumber(d[1]) or 0, tonumber(d[2]) or now, tonumber(d[3]) or 0
if now >= start + window then count, start = 0, now end
if not trusted and count >= slow_after then
  local delay = math.min(2 ^ (count - slow_after), max_delay)
  if now < last + delay then return {'slow', math.ceil(last + delay - now)} end
end
redis.call('HSET', KEYS[1], 'count', count + 1, 'start', start, 'last', now)
redis.call('EXPIRE', KEYS[1], math.max(1, math.ceil(start + window - now)))
local pc, ps = tonumber(p[1]) or 0, tonumber(p[2]) or now
if locked > 0 or now >= ps + window then pc, ps = 0, now end
pc = pc + 1
redis.call('HSET', KEYS[2], 'count', pc, 'start', ps)
redis.call('HDEL', KEYS[2], 'locked_until')
if pc >= pair_limit then
  redis.call('HSET', KEYS[2], 'locked_until', now + lock)
  redis.call('EXPIRE', KEYS[2], lock)
  return {'last', lock}
end
redis.call('EXPIRE', KEYS[2], math.max(1, math.ceil(ps + window - now)))
return {'ok', 0}
"""

# KEYS: identity, pair, known. ARGV: now, ip hash, trusted until, known TTL, '1' to refund the attempt.
_TRUST = """
if ARGV[5] == '1' then
  redis.call('DEL', KEYS[2])
  if (tonumber(redis.call('HGET', KEYS[1], 'count') or '0') or 0) > 0 then redis.call('HINCRBY', KEYS[1], 'count', -1) end
end
local now = tonumber(ARGV[1])
local known = redis.call('HGETALL', KEYS[3])
for i = 1, #known, 2 do
  if tonumber(known[i + 1]) <= now then redis.call('HDEL', KEYS[3], known[i]) end
end
if (tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0') or 0) < tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
end
if redis.call('TTL', KEYS[3]) < tonumber(ARGV[4]) then redis.call('EXPIRE', KEYS[3], ARGV[4]) end
return 1
"""

# KEYS: per-address counter. ARGV: now, limit, window, delta (1 counts unless exhausted, -1 refunds).
_IP = """
local now, limit, window, delta = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local d = redis.call('HMGET', KEYS[1], 'count', 'start')
local count, start = tonumber(d[1]) or 0, tonumber(d[2]) or now
if now >= start + window then
  if delta < 0 then return {0, 0} end
  count, start = 0, now
end
if delta > 0 and count >= limit then return {-1, math.ceil(start + window - now)} end
count = math.max(0, count + delta)
redis.call('HSET', KEYS[1], 'count', count, 'start', start)
redis.call('EXPIRE', KEYS[1], math.max(1, math.ceil(start + window - now)))
return {count, 0}
"""


@dataclass(frozen=True)
class Attempt:
    policy: GuardPolicy
    identity_keys: tuple[str, str, str]
    ip_key: str
    ip_hash: str
    last: bool  # a failure now locks the pair


class LoginGuard:
    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter
        self._redis: redis.Redis = limiter.redis
        self._attempt = self._redis.register_script(_ATTEMPT)
        self._trust = self._redis.register_script(_TRUST)
        self._ip = self._redis.register_script(_IP)

    def _now(self) -> float:
        return self._limiter.clock.now()

    def _keys(self, policy: GuardPolicy, subject: str, client_ip: str) -> tuple[tuple[str, str, str], str, str]:
        subject_hash = self._limiter.subject_hash(f"{policy.scope}:{subject}")
        ip_hash = self._limiter.subject_hash(ip_subject(client_ip))
        identity = (keys.guard_identity(policy.scope, subject_hash), keys.guard_pair(policy.scope, subject_hash, ip_hash),
                    keys.guard_known(policy.scope, subject_hash))
        return identity, keys.guard_ip(policy.scope, ip_hash), ip_hash

    def begin(self, policy: GuardPolicy, subject: str, client_ip: str) -> Attempt:
        """Count one guess; raises RateLimited (address spraying, identity slowed down) or
        AccountLocked (this address is locked out of this identity)."""
        identity, ip_key, ip_hash = self._keys(policy, subject, client_ip)
        now = repr(self._now())
        count, wait = self._ip(keys=[ip_key], args=[now, policy.ip_limit, policy.ip_window, 1])
        if int(count) < 0:
            raise RateLimited(retry_after=int(wait))
        verdict, seconds = self._attempt(keys=list(identity), args=[
            now, ip_hash, policy.pair_limit, policy.window, policy.lock_seconds, policy.slow_after, policy.max_delay])
        if verdict in ("locked", "slow"):
            self._ip(keys=[ip_key], args=[now, policy.ip_limit, policy.ip_window, -1])  # refused, not a guess
            if verdict == "locked":
                raise AccountLocked(retry_after=int(seconds))
            raise RateLimited(retry_after=int(seconds))
        return Attempt(policy, identity, ip_key, ip_hash, verdict == "last")

    def failed(self, attempt: Attempt) -> None:
        """The guess was wrong (already counted). Raises AccountLocked when it used the pair's last try."""
        if attempt.last:
            raise AccountLocked(retry_after=attempt.policy.lock_seconds)

    def succeeded(self, attempt: Attempt) -> None:
        """Refund the attempt and trust the address for this identity."""
        now = self._now()
        policy = attempt.policy
        self._trust(keys=list(attempt.identity_keys),
                    args=[repr(now), attempt.ip_hash, repr(now + policy.trust_seconds), keys.GUARD_KNOWN_TTL, "1"])
        self._ip(keys=[attempt.ip_key], args=[repr(now), policy.ip_limit, policy.ip_window, -1])

    def vouch(self, policy: GuardPolicy, subject: str, client_ip: str, seconds: int) -> None:
        """Trust an address for ``seconds`` without an attempt (the device an SMS code was sent for)."""
        identity, _, ip_hash = self._keys(policy, subject, client_ip)
        now = self._now()
        self._trust(keys=list(identity), args=[repr(now), ip_hash, repr(now + seconds), keys.GUARD_KNOWN_TTL, "0"])
