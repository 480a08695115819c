"""End-to-end flows through AuthService with fakes and the real Redis."""

import inspect
import logging
import re

import pytest

from auth import errors
from auth.errors import (
    AccountLocked,
    InvalidPhone,
    RateLimited,
    RealnameLevelRequired,
    RefreshTokenInvalid,
    RefreshTokenReused,
    SmsCodeExhausted,
    SmsCodeExpired,
    SmsCodeInvalid,
    TokenInvalid,
)
from auth.service import ACCOUNT_CHANGED
from auth.tokens import CITIZEN_AUDIENCES
from integrations import errors as integration_errors
from integrations.errors import CodeInvalid, CodeUsed, UpstreamRejected, UpstreamUnavailable
from tests.auth.conftest import ID_ZHANG, USCC_GRASSLAND

IP = "203.0.113.7"
PHONE = "13812345678"
CITIZEN = list(CITIZEN_AUDIENCES)


def sms_login(service, sms, phone=PHONE, ip=IP):
    service.send_sms_code(phone, client_ip=ip)
    return service.login_app_sms(phone, sms.last_code(phone), client_ip=ip)


class TestLoginResults:
    def test_token_pair_shape(self, service, wechat):
        body = service.login_wechat(wechat.login_code("o-shape"), client_ip=IP).to_dict()
        assert list(body) == ["access_token", "refresh_token", "token_type", "expires_in", "account"]
        assert body["token_type"] == "Bearer" and body["expires_in"] == 600
        assert body["refresh_token"].startswith("rt1.") and body["access_token"].count(".") == 2
        assert list(body["account"]) == ["id", "type", "realname_level", "bindings"]

    def test_reprs_hide_tokens(self, service, wechat):
        pair = service.login_wechat(wechat.login_code("o-repr"), client_ip=IP)
        assert pair.access_token not in repr(pair) and pair.refresh_token not in repr(pair)

    @pytest.mark.parametrize(
        ("channel", "audience"), [("wechat", "msb-wechat"), ("alipay", "msb-alipay"), ("app", "msb-app")]
    )
    def test_each_channel_gets_its_audience(self, service, wechat, alipay, sms, channel, audience):
        if channel == "wechat":
            pair = service.login_wechat(wechat.login_code("o-aud"), client_ip=IP)
        elif channel == "alipay":
            pair = service.login_alipay(alipay.auth_code("ali-aud"), client_ip=IP)
        else:
            pair = sms_login(service, sms)
        principal = service.authenticate_access_token(pair.access_token, audiences=[audience])
        assert (principal.channel, principal.type, principal.account_id) == (channel, "person", pair.account.id)
        others = [aud for aud in CITIZEN if aud != audience]
        with pytest.raises(TokenInvalid):
            service.authenticate_access_token(pair.access_token, audiences=others)


class TestUpstreamFailures:
    def test_code_reuse_and_garbage(self, service, wechat):
        code = wechat.login_code("o-once")
        service.login_wechat(code, client_ip=IP)
        with pytest.raises(CodeUsed) as used:
            service.login_wechat(code, client_ip=IP)
        with pytest.raises(CodeInvalid) as invalid:
            service.login_wechat("made-up", client_ip=IP)
        assert (used.value.http_status, invalid.value.code) == (401, "code_invalid")

    def test_risky_user_and_outage(self, service, wechat):
        wechat.risky_openids.add("o-risky")
        with pytest.raises(UpstreamRejected) as rejected:
            service.login_wechat(wechat.login_code("o-risky"), client_ip=IP)
        assert rejected.value.details == {"upstream": "wechat", "upstream_code": "40226"}
        wechat.unavailable = True
        with pytest.raises(UpstreamUnavailable) as down:
            service.login_wechat(wechat.login_code("o-x"), client_ip=IP)
        assert down.value.http_status == 503 and "Retry-After" in down.value.headers

    def test_failures_are_audited_without_identifiers(self, service, wechat, database):
        with pytest.raises(CodeInvalid):
            service.login_wechat("made-up", client_ip=IP)
        with database.transaction() as conn:
            (entry,) = conn.execute("SELECT * FROM security_audit").fetchall()
        assert entry["event"] == "login_failed" and entry["detail"]["reason"] == "code_invalid"
        assert IP not in str(entry) and entry["ip"]

    def test_per_ip_limit_is_checked_before_the_upstream_call(self, service, wechat):
        for index in range(20):
            service.login_wechat(wechat.login_code(f"o-ip{index}"), client_ip=IP)
        calls = wechat.calls
        with pytest.raises(RateLimited) as caught:
            service.login_wechat(wechat.login_code("o-ip-more"), client_ip=IP)
        assert wechat.calls == calls and caught.value.retry_after == 60
        service.login_wechat(wechat.login_code("o-other-ip"), client_ip="198.51.100.9")


class TestSmsLogin:
    def test_happy_path_and_same_account_next_time(self, service, sms, clock):
        first = sms_login(service, sms)
        clock.advance(61)
        assert sms_login(service, sms).account.id == first.account.id
        assert first.account.bindings == ("phone",)

    def test_send_limits(self, service, sms, clock):
        result = service.send_sms_code(PHONE, client_ip=IP)
        assert result.to_dict() == {"expires_in": 300, "resend_after": 60}
        with pytest.raises(RateLimited) as caught:
            service.send_sms_code(PHONE, client_ip=IP)
        assert caught.value.retry_after == 60
        for _ in range(9):
            clock.advance(60)
            service.send_sms_code(PHONE, client_ip=IP)
        clock.advance(60)
        with pytest.raises(RateLimited):  # 10 a day per phone
            service.send_sms_code(PHONE, client_ip=IP)
        assert len(sms.sent) == 10

    def test_ip_hourly_limit(self, service, sms):
        for index in range(20):
            service.send_sms_code(f"1381234{index:04d}", client_ip=IP)
        with pytest.raises(RateLimited):
            service.send_sms_code("13900000000", client_ip=IP)
        assert len(sms.sent) == 20

    def test_invalid_phone_sends_nothing(self, service, sms):
        with pytest.raises(InvalidPhone) as caught:
            service.send_sms_code("12345", client_ip=IP)
        assert caught.value.http_status == 422 and sms.sent == []

    def test_wrong_codes_burn_the_code_never_the_phone(self, service, sms, clock):
        service.send_sms_code(PHONE, client_ip=IP)
        code = sms.last_code(PHONE)
        wrong = "000000" if code != "000000" else "111111"
        for left in (4, 3, 2, 1):
            with pytest.raises(SmsCodeInvalid) as caught:
                service.login_app_sms(PHONE, wrong, client_ip=IP)
            assert caught.value.details == {"attempts_left": left}
        with pytest.raises(SmsCodeExhausted) as burnt:
            service.login_app_sms(PHONE, wrong, client_ip=IP)
        assert burnt.value.http_status == 401
        with pytest.raises(SmsCodeExpired):  # the right code is gone too: it was burnt
            service.login_app_sms(PHONE, code, client_ip=IP)
        clock.advance(60)  # the resend cooldown, nothing more: a fresh code logs in
        assert sms_login(service, sms)

    def test_ten_wrong_codes_lock_only_the_guessing_address(self, service, sms, clock):
        attacker = "198.51.100.9"
        outcomes = []
        for _ in range(2):  # two codes, five wrong guesses each, all from one address
            service.send_sms_code(PHONE, client_ip=attacker)
            wrong = "000000" if sms.last_code(PHONE) != "000000" else "111111"
            for _ in range(5):
                with pytest.raises((SmsCodeInvalid, SmsCodeExhausted, AccountLocked)) as caught:
                    service.login_app_sms(PHONE, wrong, client_ip=attacker)
                outcomes.append(caught.value.code)
            clock.advance(60)
        assert outcomes == ["sms_code_invalid"] * 4 + ["sms_code_exhausted"] + ["sms_code_invalid"] * 4 + ["account_locked"]
        with pytest.raises(AccountLocked) as locked:
            service.login_app_sms(PHONE, "123456", client_ip=attacker)
        assert 0 < locked.value.retry_after <= 900
        assert sms_login(service, sms)  # the owner's device is not locked
        with service.database.transaction() as conn:
            assert "lockout" in {row["event"] for row in conn.execute("SELECT event FROM security_audit")}

    def test_expired_code(self, service, sms, clock):
        service.send_sms_code(PHONE, client_ip=IP)
        clock.advance(301)
        with pytest.raises(SmsCodeExpired):
            service.login_app_sms(PHONE, sms.last_code(PHONE), client_ip=IP)


class TestSessions:
    def test_refresh_rotates_and_keeps_the_session(self, service, wechat, clock):
        pair = service.login_wechat(wechat.login_code("o-r"), client_ip=IP)
        session = service.authenticate_access_token(pair.access_token, audiences=CITIZEN).session_id
        clock.advance(590)
        refreshed = service.refresh(pair.refresh_token)
        assert refreshed.refresh_token != pair.refresh_token
        principal = service.authenticate_access_token(refreshed.access_token, audiences=["msb-wechat"])
        assert principal.session_id == session and principal.channel == "wechat"

    def test_replay_revokes_the_family_and_its_access_tokens(self, service, wechat, clock):
        pair = service.login_wechat(wechat.login_code("o-replay"), client_ip=IP)
        refreshed = service.refresh(pair.refresh_token)
        clock.advance(31)
        with pytest.raises(RefreshTokenReused) as caught:
            service.refresh(pair.refresh_token)
        assert (caught.value.code, caught.value.http_status) == ("refresh_token_reused", 401)
        assert "WWW-Authenticate" in caught.value.headers
        with pytest.raises(TokenInvalid):
            service.authenticate_access_token(refreshed.access_token, audiences=CITIZEN)
        with pytest.raises(RefreshTokenInvalid):
            service.refresh(refreshed.refresh_token)
        assert "refresh_reuse" in [event.event for event in service.audit.recent(pair.account.id)]

    def test_token_kinds_do_not_cross(self, service, wechat):
        pair = service.login_wechat(wechat.login_code("o-kinds"), client_ip=IP)
        with pytest.raises(RefreshTokenInvalid):
            service.refresh(pair.access_token)
        with pytest.raises(TokenInvalid):
            service.authenticate_access_token(pair.refresh_token, audiences=CITIZEN)

    def test_logout_one_device_and_all_devices(self, service, wechat):
        phone_one = service.login_wechat(wechat.login_code("o-lo", "u-lo"), client_ip=IP)
        phone_two = service.login_wechat(wechat.login_code("o-lo", "u-lo"), client_ip=IP)
        phone_three = service.login_wechat(wechat.login_code("o-lo", "u-lo"), client_ip=IP)
        one = service.authenticate_access_token(phone_one.access_token, audiences=CITIZEN)
        service.logout(one.account_id, one.session_id)
        with pytest.raises(TokenInvalid):
            service.authenticate_access_token(phone_one.access_token, audiences=CITIZEN)
        assert service.authenticate_access_token(phone_two.access_token, audiences=CITIZEN)
        service.logout(one.account_id, "not-a-family", all_devices=True)
        for pair in (phone_two, phone_three):
            with pytest.raises(TokenInvalid):
                service.authenticate_access_token(pair.access_token, audiences=CITIZEN)
            with pytest.raises(RefreshTokenInvalid):
                service.refresh(pair.refresh_token)

    def test_cannot_log_out_someone_else(self, service, wechat):
        mine = service.login_wechat(wechat.login_code("o-me"), client_ip=IP)
        theirs = service.login_wechat(wechat.login_code("o-them"), client_ip=IP)
        their_session = service.authenticate_access_token(theirs.access_token, audiences=CITIZEN).session_id
        service.logout(mine.account.id, their_session)
        assert service.authenticate_access_token(theirs.access_token, audiences=CITIZEN)

    def test_level_is_current_without_waiting_for_a_refresh(self, service, wechat):
        pair = service.login_wechat(wechat.login_code("o-lvl"), client_ip=IP)
        principal = service.authenticate_access_token(pair.access_token, audiences=CITIZEN)
        with pytest.raises(RealnameLevelRequired) as caught:
            service.require_level(principal, 3)
        assert caught.value.details == {"required_level": 3, "current_level": 2}
        service.verify_realname(pair.account.id, "张三", ID_ZHANG)
        principal = service.authenticate_access_token(pair.access_token, audiences=CITIZEN)
        service.require_level(principal, 3)
        with pytest.raises(RealnameLevelRequired):
            service.require_level(principal, 4)

    def test_jwks(self, service, wechat):
        service.login_wechat(wechat.login_code("o-jwks"), client_ip=IP)
        assert len(service.jwks()["keys"]) == 1


@pytest.mark.parametrize(
    ("module", "base"), [(errors, errors.AuthError), (integration_errors, integration_errors.IntegrationError)]
)
def test_every_error_has_a_stable_code_status_and_chinese_message(module, base):
    classes = [cls for _, cls in inspect.getmembers(module, inspect.isclass) if issubclass(cls, base)]
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))
    for cls in classes:
        assert re.fullmatch(r"[a-z][a-z_]+", cls.code), cls
        assert 400 <= cls.http_status < 600, cls
        assert re.search(r"[\u4e00-\u9fff]", cls.default_message), cls


def test_the_api_keeps_every_error_code_it_had():
    codes = {cls.code for module in (errors, integration_errors) for _, cls in inspect.getmembers(module, inspect.isclass)
             if issubclass(cls, (errors.AuthError, integration_errors.IntegrationError))}
    for required in (
        "code_invalid",
        "code_used",
        "sms_code_invalid",
        "sms_code_expired",
        "sms_code_exhausted",
        "token_invalid",
        "token_expired",
        "refresh_token_invalid",
        "refresh_token_reused",
        "refresh_token_expired",
        "rate_limited",
        "account_locked",
        "realname_level_required",
        "realname_mismatch",
        "invalid_id_number",
        "invalid_uscc",
        "enterprise_not_found",
        "binding_not_found",
        "last_binding",
        "operator_role_required",
        "upstream_unavailable",
        "upstream_rejected",
    ):
        assert required in codes


def test_logs_never_carry_personal_data_or_secrets(service, wechat, alipay, sms, clock, caplog):
    caplog.set_level(logging.DEBUG)
    secrets_seen = [
        "o-log-openid",
        "u-log-unionid",
        "c2Vzc2lvbi1rZXktMTY=",
        "ali-log-open",
        "2088000000000077",
        PHONE,
        ID_ZHANG,
        "张三",
    ]
    wx = service.login_wechat(wechat.login_code("o-log-openid", "u-log-unionid"), client_ip=IP)
    service.bind_wechat_phone(wx.account.id, wechat.phone_code("13912345678"))
    service.verify_realname(wx.account.id, "张三", ID_ZHANG)
    with pytest.raises(Exception):
        service.verify_realname(wx.account.id, "张三", ID_ZHANG[:-1] + "0")
    service.link_enterprise(wx.account.id, USCC_GRASSLAND)
    ali = service.login_alipay(alipay.auth_code("ali-log-open", "2088000000000077"), client_ip=IP)
    app = sms_login(service, sms)
    secrets_seen += [sms.last_code(PHONE), "13912345678"]
    for pair in (wx, ali, app):
        secrets_seen += [pair.access_token, pair.refresh_token]
    refreshed = service.refresh(wx.refresh_token)
    clock.advance(31)
    with pytest.raises(RefreshTokenReused):
        service.refresh(wx.refresh_token)
    secrets_seen += [refreshed.access_token, refreshed.refresh_token]
    with pytest.raises(SmsCodeInvalid):
        clock.advance(61)
        service.send_sms_code(PHONE, client_ip=IP)
        service.login_app_sms(PHONE, "000000" if sms.last_code(PHONE) != "000000" else "111111", client_ip=IP)
    service.logout(ali.account.id, "x", all_devices=True)

    assert caplog.records, "flows should log their events"
    logged = "\n".join(
        f"{record.getMessage()} {getattr(record, 'fields', '')} {record.args}" for record in caplog.records
    )
    for secret in secrets_seen:
        assert secret not in logged


class TestAccountChangedEvents:
    def test_subscribers_hear_logins_and_profile_changes(self, service, sms):
        heard = []
        service.events.subscribe(ACCOUNT_CHANGED, lambda event: heard.append(event.data["account_id"]))
        account_id = sms_login(service, sms).account.id
        service.update_preferences(account_id, {"mode": "elder"})
        assert heard == [account_id, account_id]

    def test_a_failing_subscriber_never_fails_the_identity_change(self, service, sms, caplog):
        def broken(event):
            raise RuntimeError("push is down")

        service.events.subscribe(ACCOUNT_CHANGED, broken)
        pair = sms_login(service, sms)
        assert pair.access_token
        assert service.update_preferences(pair.account.id, {"language": "mn"}).to_dict()["language"] == "mn"
        assert any(r.getMessage() == "event handler failed" for r in caplog.records)


def test_refusals_shared_by_auth_and_the_clients_answer_alike():
    # auth validates phones, ID numbers and USCCs itself, the clients relay the upstream's refusal of the
    # same input: a client sees one answer whichever caught it first.
    pairs = [
        (errors.InvalidPhone(), integration_errors.InputRefused("phone")),
        (errors.InvalidIdNumber(), integration_errors.InputRefused("id_number")),
        (errors.InvalidUscc(), integration_errors.InputRefused("uscc")),
        (errors.RateLimited(retry_after=60), integration_errors.RateLimited(retry_after=60)),
    ]
    for ours, theirs in pairs:
        assert (ours.code, ours.http_status, ours.message, ours.details, ours.headers) == (
            theirs.code, theirs.http_status, theirs.message, theirs.details, theirs.headers)
    assert (integration_errors.CodeUsed.http_status, integration_errors.UpstreamUnavailable().headers) == (
        401, {"Retry-After": "5"})
