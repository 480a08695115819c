import pytest

from auth import keys
from auth.sms_codes import MAX_ATTEMPTS, SmsCheck, SmsCodes

PHONE = "13812345678"


@pytest.fixture
def codes(redis_client, crypto, clock):
    return SmsCodes(redis_client, crypto, clock)


def test_six_random_digits_stored_only_as_a_hash(codes, redis_client):
    code = codes.issue(PHONE)
    assert len(code) == 6 and code.isdigit()
    (key,) = list(redis_client.scan_iter("auth:sms:*"))
    assert PHONE not in key
    assert code not in str(redis_client.hgetall(key))
    assert 0 < redis_client.ttl(key) <= keys.SMS_CODE_TTL


def test_single_use(codes):
    code = codes.issue(PHONE)
    assert codes.verify(PHONE, code).outcome is SmsCheck.OK
    assert codes.verify(PHONE, code).outcome is SmsCheck.EXPIRED


def test_expires_after_five_minutes(codes, clock):
    code = codes.issue(PHONE)
    clock.advance(300)
    assert codes.verify(PHONE, code).outcome is SmsCheck.EXPIRED


def test_bound_to_the_phone(codes):
    code = codes.issue(PHONE)
    assert codes.verify("13912345678", code).outcome is SmsCheck.EXPIRED
    assert codes.verify(PHONE, code).outcome is SmsCheck.OK


def test_attempts_run_out(codes):
    code = codes.issue(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    results = [codes.verify(PHONE, wrong) for _ in range(MAX_ATTEMPTS)]
    assert [r.attempts_left for r in results[:-1]] == [4, 3, 2, 1]
    assert results[-1].outcome is SmsCheck.EXHAUSTED
    assert codes.verify(PHONE, code).outcome is SmsCheck.EXPIRED  # the right code no longer works


def test_malformed_guesses_count(codes):
    codes.issue(PHONE)
    assert codes.verify(PHONE, "12ab56").outcome is SmsCheck.WRONG
    assert codes.verify(PHONE, None).attempts_left == 3


def test_new_code_replaces_the_old(codes):
    old = codes.issue(PHONE)
    new = codes.issue(PHONE)
    if old != new:
        assert codes.verify(PHONE, old).outcome is SmsCheck.WRONG
    assert codes.verify(PHONE, new).outcome is SmsCheck.OK
