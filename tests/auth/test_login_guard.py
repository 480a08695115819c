"""auth.login_guard: limits that land on the guesser's address, never a global lock on the identity."""
import pytest

from auth import keys
from auth.errors import AccountLocked, RateLimited
from auth.login_guard import GuardPolicy, LoginGuard
from auth.rate_limits import RateLimiter

POLICY = GuardPolicy("test", pair_limit=3, window=900, lock_seconds=900, slow_after=4, max_delay=30,
                     ip_limit=6, ip_window=3600)
OWNER, ATTACKER = "203.0.113.10", "198.51.100.66"


@pytest.fixture
def guard(redis_client, crypto, clock):
    return LoginGuard(RateLimiter(redis_client, crypto, clock))


def fail(guard, subject, ip):
    guard.failed(guard.begin(POLICY, subject, ip))


def test_failures_lock_the_pair_not_the_identity(guard, clock):
    fail(guard, "user:a", ATTACKER)
    fail(guard, "user:a", ATTACKER)
    with pytest.raises(AccountLocked) as locked:
        fail(guard, "user:a", ATTACKER)  # the failure that locks says so
    assert locked.value.retry_after == 900
    with pytest.raises(AccountLocked):
        guard.begin(POLICY, "user:a", ATTACKER)
    guard.succeeded(guard.begin(POLICY, "user:a", OWNER))  # the owner, elsewhere, is not locked
    clock.advance(900)
    guard.succeeded(guard.begin(POLICY, "user:a", ATTACKER))  # and the lock ends on the clock


def test_identity_wide_failures_slow_unknown_addresses_only_and_never_for_long(guard, clock):
    guard.succeeded(guard.begin(POLICY, "user:b", OWNER))  # the owner's address becomes known
    for i in range(4):
        fail(guard, "user:b", f"192.0.2.{i}")  # four attackers, one guess each
    with pytest.raises(RateLimited) as slowed:
        guard.begin(POLICY, "user:b", "192.0.2.99")
    assert slowed.value.retry_after == 1 and slowed.value.code == "rate_limited"
    guard.succeeded(guard.begin(POLICY, "user:b", OWNER))  # known address: no wait
    delays = []
    for i in range(10):  # attackers keep going: the wait doubles, capped
        with pytest.raises(RateLimited) as slowed:
            guard.begin(POLICY, "user:b", "192.0.2.99")
        delays.append(slowed.value.retry_after)
        clock.advance(slowed.value.retry_after)
        fail(guard, "user:b", f"192.0.2.{100 + i}")
    assert delays[:6] == [1, 2, 4, 8, 16, 30] and max(delays) == 30
    guard.succeeded(guard.begin(POLICY, "user:b", OWNER))


def test_one_address_spraying_many_identities_is_refused(guard, clock):
    for i in range(6):
        fail(guard, f"user:{i}", ATTACKER)
    with pytest.raises(RateLimited) as refused:
        guard.begin(POLICY, "user:fresh", ATTACKER)
    assert refused.value.retry_after == 3600
    guard.succeeded(guard.begin(POLICY, "user:fresh", OWNER))
    clock.advance(3600)
    guard.begin(POLICY, "user:fresh", ATTACKER)


def test_vouched_address_is_not_slowed_and_success_refunds(guard):
    for i in range(4):
        fail(guard, "phone:x", f"192.0.2.{i}")
    guard.vouch(POLICY, "phone:x", OWNER, 300)
    attempt = guard.begin(POLICY, "phone:x", OWNER)
    guard.succeeded(attempt)
    for _ in range(2):  # the refund means the owner's own successes never add up to a lock
        guard.succeeded(guard.begin(POLICY, "phone:x", OWNER))


def test_keys_are_hashed_share_a_tag_and_expire(guard, redis_client):
    fail(guard, "phone:13812345678", ATTACKER)
    guard.vouch(POLICY, "phone:13812345678", OWNER, 300)
    names = list(redis_client.scan_iter("auth:guard:*"))
    assert len(names) == 4 and not any("13812345678" in n or ATTACKER in n or OWNER in n for n in names)
    tags = {n.split("{", 1)[1].split("}", 1)[0] for n in names}
    assert len(tags) == 2  # the identity's three keys in one slot; the address's counter in its own
    assert all(0 < redis_client.ttl(n) <= keys.GUARD_KNOWN_TTL for n in names)
