"""Attack: lockouts anyone can trigger, over HTTP against the real app and the live sandbox.

An attacker who knows an operator's username or a citizen's phone hammers it from other addresses.
The real person, from their own address/device, must still get in; the attacker's addresses are the
ones that get locked or slowed; one address spraying many identities is refused; the daily caps hold;
and a spoofed X-Forwarded-For buys nothing."""
from __future__ import annotations

import itertools
import time

import pytest

from bff import create_app
from kernel.clock import FixedClock
from tests.bff.auth.conftest import OPERATOR_PASSWORD, assert_envelope

OWNER = "203.0.113.10"  # the real person's device
_PHONES = itertools.count(int(time.time() * 13) % 10**7)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(time.time())


@pytest.fixture
def app(settings, redis_client, clock):
    return create_app(settings, clock=clock)


def from_ip(client, ip: str, path: str, body: dict, **headers: str):
    return client.post(path, json=body, environ_base={"REMOTE_ADDR": ip}, headers=headers)


def operator_login(client, ip: str, username: str, password: str, **headers: str):
    return from_ip(client, ip, "/v1/admin/auth/login", {"username": username, "password": password}, **headers)


def new_phone() -> str:
    return f"137{next(_PHONES):08d}"


def wrong_for(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_operator_hammered_from_elsewhere_still_signs_in_from_their_own_address(client, operator, clock):
    name = operator["username"]
    assert operator_login(client, OWNER, name, OPERATOR_PASSWORD).status_code == 200  # their usual address

    answers = []
    for i in range(40):  # 40 wrong passwords from 8 addresses, as fast as the API lets them
        response = operator_login(client, f"198.51.100.{i % 8}", name, f"guess number {i}")
        answers.append(response.get_json()["error"])
        if response.status_code == 429:
            assert 0 < int(response.headers["Retry-After"]) <= 900
    assert set(answers) <= {"operator_credentials_invalid", "rate_limited", "account_locked"}
    # Once the username is under attack, unknown addresses only get a guess every few seconds.
    assert answers.count("operator_credentials_invalid") <= 8

    mine = operator_login(client, OWNER, name, OPERATOR_PASSWORD)
    assert mine.status_code == 200 and mine.get_json()["access_token"]
    typo = operator_login(client, OWNER, name, "a typo on my own machine")
    assert_envelope(typo, 401, "operator_credentials_invalid")  # told the truth, not locked

    # From a new address (a hotel) the operator is slowed down by seconds, never locked out.
    travelling = operator_login(client, "192.0.2.200", name, OPERATOR_PASSWORD)
    if travelling.status_code == 429:
        assert_envelope(travelling, 429, "rate_limited")
        wait = int(travelling.headers["Retry-After"])
        assert wait <= 30
        clock.advance(wait)
        travelling = operator_login(client, "192.0.2.200", name, OPERATOR_PASSWORD)
    assert travelling.status_code == 200


def test_five_wrong_passwords_lock_only_the_guessing_address(client, operator, clock):
    name, attacker = operator["username"], "198.51.100.77"
    assert operator_login(client, OWNER, name, OPERATOR_PASSWORD).status_code == 200
    answers = [operator_login(client, attacker, name, f"wrong {i}").get_json()["error"] for i in range(5)]
    assert answers == ["operator_credentials_invalid"] * 4 + ["account_locked"]
    locked = operator_login(client, attacker, name, OPERATOR_PASSWORD)  # even the right password, from there
    assert_envelope(locked, 429, "account_locked")
    assert int(locked.headers["Retry-After"]) == 900
    assert operator_login(client, OWNER, name, OPERATOR_PASSWORD).status_code == 200


def test_one_address_spraying_usernames_is_refused(client, operator, clock):
    sprayer = "198.51.100.88"
    refused = None
    for i in range(40):
        response = operator_login(client, sprayer, f"ops.guess{i}", "Winter2026!!")
        if response.get_json()["error"] == "rate_limited" and i >= 30:
            refused = response
            break
        if response.status_code == 429:  # the per-minute request limit: keep going a minute later
            clock.advance(int(response.headers["Retry-After"]))
    assert refused is not None, "30 failures an hour from one address must stop it"
    assert int(refused.headers["Retry-After"]) > 60
    assert_envelope(operator_login(client, sprayer, operator["username"], OPERATOR_PASSWORD), 429, "rate_limited")
    assert operator_login(client, OWNER, operator["username"], OPERATOR_PASSWORD).status_code == 200


def test_spoofed_forwarded_for_does_not_rotate_the_address(client, operator, settings, clock):
    name = operator["username"]
    answers = [operator_login(client, "198.51.100.99", name, f"wrong {i}", **{"X-Forwarded-For": f"192.0.2.{i}"})
               .get_json()["error"] for i in range(6)]
    assert answers[4:] == ["account_locked", "account_locked"]  # one address, whatever the header says
    clock.advance(900)  # that lock and the username's failure window are over

    # Behind one trusted proxy, the proxy's own entry counts; what the client wrote before it does not.
    proxied = create_app(settings.with_changes(trusted_proxy_hops=1), clock=clock)
    behind = proxied.test_client()
    answers = [operator_login(behind, "10.0.0.1", name, f"wrong {i}", **{"X-Forwarded-For": f"192.0.2.{i}, 198.51.100.98"})
               .get_json()["error"] for i in range(6)]
    assert answers == ["operator_credentials_invalid"] * 4 + ["account_locked"] * 2
    clock.advance(30)  # the username-wide slowdown for unknown addresses (seconds)
    mine = operator_login(behind, "10.0.0.1", name, OPERATOR_PASSWORD, **{"X-Forwarded-For": f"198.51.100.98, {OWNER}"})
    assert mine.status_code == 200  # the attacker's address written first does not lock the real client out


def test_phone_hammered_with_wrong_codes_the_owner_gets_in_with_a_fresh_code(client, drive, clock):
    phone = new_phone()
    assert from_ip(client, OWNER, "/v1/auth/sms/send", {"phone": phone}).status_code == 200
    code = drive.sms_code(phone)
    answers = [from_ip(client, f"198.51.100.{i}", "/v1/auth/app/login", {"phone": phone, "sms_code": wrong_for(code)})
               .get_json()["error"] for i in range(20)]
    assert "sms_code_exhausted" in answers and "account_locked" not in answers  # the code burnt, not the phone
    assert set(answers) <= {"sms_code_invalid", "sms_code_exhausted", "sms_code_expired", "rate_limited"}

    clock.advance(60)  # the resend cooldown (ours and the SMS provider's)
    drive.advance_clock(60)
    assert from_ip(client, OWNER, "/v1/auth/sms/send", {"phone": phone}).status_code == 200
    fresh = drive.sms_code(phone)
    # The attacker keeps going; guesses from unknown addresses are now spaced out, so the fresh code survives.
    for i in range(5):
        from_ip(client, f"192.0.2.{i}", "/v1/auth/app/login", {"phone": phone, "sms_code": wrong_for(fresh)})
    mine = from_ip(client, OWNER, "/v1/auth/app/login", {"phone": phone, "sms_code": fresh})
    assert mine.status_code == 200 and mine.get_json()["access_token"]


def test_one_address_guessing_codes_for_many_phones_is_refused(client, clock):
    guesser, refused = "198.51.100.111", None
    for i in range(45):
        response = from_ip(client, guesser, "/v1/auth/app/login", {"phone": new_phone(), "sms_code": "123456"})
        if response.status_code == 429 and i >= 30:
            refused = response
            break
        if response.status_code == 429:  # the per-minute request limit
            clock.advance(int(response.headers["Retry-After"]))
    assert refused is not None
    assert_envelope(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 60
    other = from_ip(client, OWNER, "/v1/auth/app/login", {"phone": new_phone(), "sms_code": "123456"})
    assert_envelope(other, 401, "sms_code_expired")  # another address is unaffected


def test_daily_caps_still_hold(client, drive, clock):
    phone = new_phone()
    for i in range(10):  # from a new address each time, spaced past the provider's 5 per hour
        assert from_ip(client, f"192.0.2.{i}", "/v1/auth/sms/send", {"phone": phone}).status_code == 200
        clock.advance(721)
        drive.advance_clock(721)
    capped = from_ip(client, "192.0.2.77", "/v1/auth/sms/send", {"phone": phone})
    assert_envelope(capped, 429, "rate_limited")  # our cap, before the provider is even asked
    assert int(capped.headers["Retry-After"]) > 3600
    sender = "198.51.100.120"
    statuses = [from_ip(client, sender, "/v1/auth/sms/send", {"phone": new_phone()}).status_code for _ in range(21)]
    assert statuses == [200] * 20 + [429]  # 20 SMS an hour per address
