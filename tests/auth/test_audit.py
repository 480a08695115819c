from datetime import datetime, timezone

import pytest

from auth import audit_records
from auth.audit import AuditLog
from kernel.clock import FixedClock

IP = "203.0.113.7"


@pytest.fixture
def audit(database, crypto, clock):
    return AuditLog(database, crypto, clock)


def _rows(database):
    with database.transaction() as conn:
        return conn.execute("SELECT * FROM security_audit ORDER BY at, id").fetchall()


def test_records_pseudonyms_only(audit, database):
    audit.record("login", account_id="acc_abc", ip=IP, channel="wechat", new_account=True)
    (entry,) = _rows(database)
    assert "acc_abc" not in str(entry) and IP not in str(entry)
    assert entry["event"] == "login" and entry["channel"] == "wechat" and entry["detail"] == {"new_account": "True"}
    assert entry["actor"] and entry["ip"]


def test_refuses_unknown_events_and_detail_keys(audit, database):
    with pytest.raises(ValueError):
        audit.record("password_reset")
    with pytest.raises(ValueError):
        audit.record("login", phone="13812345678")
    assert _rows(database) == []


def test_recent_filters_by_account(audit, clock):
    audit.record("login", account_id="acc_a")
    clock.advance(1)
    audit.record("login", account_id="acc_b")
    clock.advance(1)
    audit.record("merge", account_id="acc_b", related_account_id="acc_a", reason="realname")
    assert [event.event for event in audit.recent("acc_a")] == ["merge", "login"]
    assert [event.event for event in audit.recent("acc_b", limit=1)] == ["merge"]


def test_entries_follow_the_injected_clock_even_when_it_runs_backwards(audit, clock, database):
    clock.advance(100)
    audit.record("login", account_id="acc_a")
    clock.advance(-50)  # another worker with a slower clock: both recorded, each at its own time
    audit.record("logout", account_id="acc_a")
    rows = _rows(database)
    assert [row["event"] for row in rows] == ["logout", "login"]
    assert rows[1]["at"].timestamp() - rows[0]["at"].timestamp() == pytest.approx(50, abs=0.01)


def test_monthly_partitions_hold_entries_and_expire_whole_months(database, crypto):
    now = datetime(2026, 12, 15, tzinfo=timezone.utc)
    with database.transaction() as conn:
        audit_records.ensure_partitions(conn, now=datetime(2026, 5, 2, tzinfo=timezone.utc), months_ahead=8)
        audit_records.ensure_partitions(conn, now=now)
    for month in (5, 6, 11, 12):
        moment = datetime(2026, month, 3, tzinfo=timezone.utc)
        AuditLog(database, crypto, FixedClock(moment.timestamp())).record("login", account_id=f"acc_{month}")
    with database.transaction() as conn:
        placed = {row["relname"]: row["n"] for row in conn.execute(
            "SELECT tableoid::regclass::text AS relname, count(*) AS n FROM security_audit GROUP BY 1").fetchall()}
        assert placed == {"security_audit_202605": 1, "security_audit_202606": 1,
                          "security_audit_202611": 1, "security_audit_202612": 1}
        dropped = audit_records.drop_expired_partitions(conn, now=now)
        remaining = [row["at"].month for row in conn.execute("SELECT at FROM security_audit ORDER BY at").fetchall()]
    # Seven months kept: everything from 2026-05 on survives in December; older partitions are dropped whole.
    assert remaining == [5, 6, 11, 12]
    assert all(name < "security_audit_202605" for name in dropped)
    with database.transaction() as conn:
        assert audit_records.drop_expired_partitions(conn, now=datetime(2027, 1, 2, tzinfo=timezone.utc)) == [
            "security_audit_202605"]


def test_retention_is_at_least_six_months():
    assert audit_records.RETENTION_MONTHS >= 7  # a whole partition goes only when all of it is older than 6 months
