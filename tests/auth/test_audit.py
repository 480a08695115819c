import pytest

from auth import keys
from auth.audit import AuditLog

IP = "203.0.113.7"


@pytest.fixture
def audit(redis_client, crypto, clock):
    return AuditLog(redis_client, crypto, clock)


def test_records_pseudonyms_only(audit, redis_client):
    audit.record("login", account_id="acc_abc", ip=IP, channel="wechat", new_account=True)
    ((_, entry),) = redis_client.xrange(keys.AUDIT_STREAM)
    assert "acc_abc" not in str(entry) and IP not in str(entry)
    assert entry["event"] == "login" and entry["channel"] == "wechat" and entry["d_new_account"] == "True"


def test_refuses_unknown_events_and_detail_keys(audit):
    with pytest.raises(ValueError):
        audit.record("password_reset")
    with pytest.raises(ValueError):
        audit.record("login", phone="13812345678")


def test_recent_filters_by_account(audit, clock):
    audit.record("login", account_id="acc_a")
    clock.advance(1)
    audit.record("login", account_id="acc_b")
    clock.advance(1)
    audit.record("merge", account_id="acc_b", related_account_id="acc_a", reason="realname")
    assert [event.event for event in audit.recent("acc_a")] == ["merge", "login"]
    assert [event.event for event in audit.recent("acc_b", limit=1)] == ["merge"]


def test_entries_follow_the_injected_clock_and_old_ones_are_trimmed(audit, clock, redis_client):
    start_ms = int(clock.now() * 1000)
    for _ in range(250):  # a few stream nodes (100 entries each by default)
        audit.record("login", account_id="acc_old")
        clock.advance(1)
    first_id = redis_client.xrange(keys.AUDIT_STREAM, count=1)[0][0]
    assert int(first_id.split("-")[0]) == start_ms
    clock.advance(keys.AUDIT_RETENTION)
    audit.record("login", account_id="acc_new")
    remaining = redis_client.xlen(keys.AUDIT_STREAM)
    assert remaining < 251  # whole nodes of expired entries went (approximate MINID)
    assert redis_client.xrange(keys.AUDIT_STREAM, count=1)[0][0] != first_id


def test_retention_is_at_least_six_months():
    assert keys.AUDIT_RETENTION >= 183 * 86400


def test_clock_behind_the_stream_still_records(audit, clock, redis_client):
    clock.advance(100)
    audit.record("login", account_id="acc_a")
    clock.advance(-50)  # another worker with a slower clock
    audit.record("logout", account_id="acc_a")
    assert redis_client.xlen(keys.AUDIT_STREAM) == 2
