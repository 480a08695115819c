import pytest

from auth.errors import RateLimited
from auth.rate_limits import RateLimiter, Rule, ip_subject

PER_MINUTE = Rule("test_minute", 3, 60)
PER_HOUR = Rule("test_hour", 5, 3600)


@pytest.fixture
def limiter(redis_client, crypto, clock):
    return RateLimiter(redis_client, crypto, clock)


def test_window_starts_at_first_hit_and_resets_after_it(limiter, clock):
    for _ in range(3):
        limiter.hit((PER_MINUTE, "phone:13812345678"))
    clock.advance(20)
    with pytest.raises(RateLimited) as caught:
        limiter.hit((PER_MINUTE, "phone:13812345678"))
    assert caught.value.retry_after == 40
    assert caught.value.headers == {"Retry-After": "40"}
    assert caught.value.http_status == 429 and caught.value.code == "rate_limited"
    clock.advance(40)
    limiter.hit((PER_MINUTE, "phone:13812345678"))


def test_subjects_are_independent(limiter):
    for _ in range(3):
        limiter.hit((PER_MINUTE, "phone:13812345678"))
    limiter.hit((PER_MINUTE, "phone:13912345678"))


def test_refused_requests_do_not_consume_other_quotas(limiter, clock):
    for _ in range(3):
        limiter.hit((PER_MINUTE, "ip:a"), (PER_HOUR, "phone:p"))
    for _ in range(10):
        with pytest.raises(RateLimited):
            limiter.hit((PER_MINUTE, "ip:a"), (PER_HOUR, "phone:p"))
    clock.advance(60)
    limiter.hit((PER_MINUTE, "ip:a"), (PER_HOUR, "phone:p"))
    limiter.hit((PER_MINUTE, "ip:a"), (PER_HOUR, "phone:p"))  # 5th of the hour: the refusals were free
    with pytest.raises(RateLimited) as caught:
        limiter.hit((PER_MINUTE, "ip:b"), (PER_HOUR, "phone:p"))
    assert caught.value.retry_after == 3600 - 60


def test_a_refusal_by_a_later_subject_gives_the_earlier_ones_their_hit_back(limiter):
    # Subjects are counted one after another (each under its own hash tag): the address is counted
    # first, then the phone refuses, and the address's hit must be refunded.
    for _ in range(5):
        limiter.hit((PER_HOUR, "phone:p"))
    for _ in range(5):
        with pytest.raises(RateLimited):
            limiter.hit((PER_MINUTE, "ip:a"), (PER_HOUR, "phone:p"))
    assert limiter.count(PER_MINUTE, "ip:a") == 1  # none of the five refusals was kept


def test_retry_after_is_the_longest_wait_of_every_exhausted_subject(limiter, clock):
    for _ in range(3):
        limiter.hit((PER_MINUTE, "ip:a"))
    for _ in range(5):
        limiter.hit((PER_HOUR, "phone:p"))
    clock.advance(10)
    with pytest.raises(RateLimited) as caught:
        limiter.hit((PER_MINUTE, "ip:a"), (PER_HOUR, "phone:p"))
    assert caught.value.retry_after == 3600 - 10


def test_one_subjects_windows_share_a_hash_tag_and_subjects_spread(limiter, redis_client):
    limiter.hit((PER_MINUTE, "phone:p"), (PER_HOUR, "phone:p"), (PER_MINUTE, "ip:a"))
    names = sorted(redis_client.scan_iter("auth:rl:*"))
    tags = {name[name.index("{"):name.index("}") + 1] for name in names}
    assert len(names) == 3 and len(tags) == 2


def test_keys_hold_hashes_not_raw_subjects(limiter, redis_client):
    limiter.hit((PER_MINUTE, "phone:13812345678"), (PER_HOUR, "ip:203.0.113.7"))
    names = list(redis_client.scan_iter("*"))
    assert len(names) == 2
    assert not any("13812345678" in name or "203.0.113.7" in name for name in names)
    assert all(name.startswith("auth:") for name in names)


def test_count_never_refuses(limiter):
    assert [limiter.count(PER_MINUTE, "op:x") for _ in range(5)] == [1, 2, 3, 4, 5]
    limiter.reset(PER_MINUTE, "op:x")
    assert limiter.count(PER_MINUTE, "op:x") == 1


@pytest.mark.parametrize(
    ("address", "subject"),
    [
        ("203.0.113.7", "ip:203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "ip:2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "ip:2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "ip:203.0.113.7"),
        ("not an ip", "ip:unparsable"),
    ],
)
def test_ip_subject_groups_ipv6_by_64(address, subject):
    assert ip_subject(address) == subject
