"""Atomic Redis rate limits.

Windows start at the first hit and last ``window`` seconds (no burst at a fixed clock boundary),
with a count and a start time in one hash updated by a Lua script. Several rules are checked and
counted together: when any one is exhausted nothing is kept, so a refused request does not eat into
the other quotas (one script per subject, refunds across subjects: see ``RateLimiter.hit``). Subjects (``"phone:…"``, ``"ip:…"``, ``"openid:…"``) enter key names only as
keyed hashes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import redis

from auth import keys
from auth.errors import RateLimited
from kernel.clock import Clock
from kernel.crypto import Crypto


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window: int  # seconds


# Figures: login.gov (20 logins per IP per 60 s), carriers' SMS norms (1/min, 10/day per number).
SMS_PHONE_COOLDOWN = Rule("sms_phone_60s", 1, 60)
SMS_PHONE_DAILY = Rule("sms_phone_day", 10, keys.DAY)
SMS_IP_HOURLY = Rule("sms_ip_hour", 20, 3600)
LOGIN_IP = Rule("login_ip", 20, 60)
# Per channel identity (openid, Alipay open_id, phone): a client looping on login.
LOGIN_SUBJECT = Rule("login_subject", 10, 60)
# verify_person is an oracle for "does this name go with this ID number": keep it expensive.
REALNAME_ACCOUNT_DAILY = Rule("realname_account_day", 5, keys.DAY)
# Across accounts: a leaked ID number tried from many fresh accounts. The owner re-verifying is
# idempotent on their own account and never counted.
REALNAME_ID_DAILY = Rule("realname_id_day", 5, keys.DAY)
REALNAME_IP_HOURLY = Rule("realname_ip_hour", 20, 3600)
# Claims (SMS code to the holder's phone, or face check) and recoveries: each costs an SMS or a
# billed face check and annoys the holder.
CLAIM_ACCOUNT_DAILY = Rule("claim_account_day", 5, keys.DAY)
CLAIM_ID_DAILY = Rule("claim_id_day", 5, keys.DAY)
RECOVERY_ACCOUNT_DAILY = Rule("recovery_account_day", 5, keys.DAY)
ENTERPRISE_LOOKUP_DAILY = Rule("enterprise_lookup_account_day", 20, keys.DAY)
OPERATOR_LOGIN_IP = Rule("operator_login_ip", 20, 60)
# Wrong passwords and SMS codes: auth.login_guard (per identity and address, never a global lock).


def ip_subject(client_ip: str) -> str:
    """Rate-limit subject for a client address. IPv6 clients get a whole /64 (one subscriber's
    prefix), otherwise rotating the interface id would escape every per-IP limit."""
    try:
        address = ipaddress.ip_address((client_ip or "").strip())
    except ValueError:
        return "ip:unparsable"
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        return f"ip:{ipaddress.ip_network(f'{address}/64', strict=False)}"
    return f"ip:{address}"


# KEYS: one subject's window hashes (one hash tag). ARGV: now, then limit and window per key, then the
# mode: 'check' counts only when no window is exhausted, 'count' counts anyway, 'peek' never writes.
# Returns {highest count, wait, then each window's start} (the starts let a refund find its window).
_HIT = """
local now = tonumber(ARGV[1])
local mode = ARGV[#ARGV]
local wait, state = 0, {}
for i, key in ipairs(KEYS) do
  local limit, window = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local data = redis.call('HMGET', key, 'count', 'start')
  local count, start = tonumber(data[1]) or 0, data[2] or ARGV[1]
  if now >= tonumber(start) + window then count, start = 0, ARGV[1] end
  state[i] = {count + 1, start, tonumber(start) + window - now}
  if count + 1 > limit then wait = math.max(wait, tonumber(start) + window - now) end
end
local reply = {0, math.ceil(wait)}
if mode == 'peek' or (wait > 0 and mode ~= 'count') then return reply end
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, 'count', state[i][1], 'start', state[i][2])
  redis.call('EXPIRE', key, math.ceil(state[i][3]))
  reply[1] = math.max(reply[1], state[i][1])
  reply[i + 2] = state[i][2]
end
return reply
"""

# KEYS: windows counted by an earlier 'check'. ARGV: the start each was counted in. Gives the hit back
# unless that window has since ended (a new window owes nothing).
_REFUND = """
for i, key in ipairs(KEYS) do
  local data = redis.call('HMGET', key, 'count', 'start')
  if data[2] == ARGV[i] and (tonumber(data[1]) or 0) > 0 then redis.call('HINCRBY', key, 'count', -1) end
end
return 0
"""


class RateLimiter:
    def __init__(self, redis_client: redis.Redis, crypto: Crypto, clock: Clock) -> None:
        self._redis = redis_client
        self._crypto = crypto
        self._clock = clock
        self._hit = redis_client.register_script(_HIT)
        self._refund = redis_client.register_script(_REFUND)

    @property
    def redis(self) -> redis.Redis:
        return self._redis

    @property
    def clock(self) -> Clock:
        return self._clock

    def subject_hash(self, subject: str) -> str:
        """The keyed hash a subject enters key names as."""
        return self._subject(subject)

    def _subject(self, subject: str) -> str:
        return self._crypto.keyed_hash("rate-limit", subject)

    def _run(self, checks: tuple[tuple[Rule, str], ...], mode: str) -> tuple[int, int, list[str]]:
        """One script over checks that share a subject (so their keys share a hash tag)."""
        key_names = [keys.rate_window(rule.name, self._subject(subject)) for rule, subject in checks]
        args: list[object] = [repr(self._clock.now())]
        for rule, _ in checks:
            args += [rule.limit, rule.window]
        args.append(mode)
        count, wait, *starts = self._hit(keys=key_names, args=args)
        return int(count), int(wait), starts

    def hit(self, *checks: tuple[Rule, str]) -> None:
        """Count one request against every (rule, subject); raise RateLimited if any is exhausted.

        Not one script over every subject: keys of different subjects (an ID number, an account, an
        address) would need one shared hash tag, i.e. one cluster slot for a whole limit family, and
        the login limits run at the full login rate. So each subject's windows are checked and
        counted atomically under that subject's tag, subjects one after another; when a later
        subject refuses, the earlier ones get their hit back (``_REFUND``), so a refused request
        still costs no quota. No window is ever over-admitted (each count is atomic); the only
        cost of the sequence is that a concurrent request may briefly see a hit that is about to be
        refunded, i.e. a rare refusal a few microseconds early, never an extra admission.
        """
        counted: list[tuple[list[str], list[str]]] = []
        groups = self._by_subject(checks)
        for position, group in enumerate(groups):
            _, wait, starts = self._run(group, "check")
            if wait > 0:
                # Retry-After as if every subject had been checked together: the longest wait.
                for later in groups[position + 1:]:
                    wait = max(wait, self._run(later, "peek")[1])
                for key_names, counted_starts in counted:
                    self._refund(keys=key_names, args=counted_starts)
                raise RateLimited(retry_after=wait)
            key_names = [keys.rate_window(rule.name, self._subject(subject)) for rule, subject in group]
            counted.append((key_names, starts))

    @staticmethod
    def _by_subject(checks: tuple[tuple[Rule, str], ...]) -> list[tuple[tuple[Rule, str], ...]]:
        groups: dict[str, list[tuple[Rule, str]]] = {}
        for rule, subject in checks:
            groups.setdefault(subject, []).append((rule, subject))
        return [tuple(group) for group in groups.values()]

    def count(self, rule: Rule, subject: str) -> int:
        """Count a failure without refusing; returns the count inside the current window."""
        count, _, _ = self._run(((rule, subject),), "count")
        return count

    def reset(self, rule: Rule, subject: str) -> None:
        self._redis.delete(keys.rate_window(rule.name, self._subject(subject)))
