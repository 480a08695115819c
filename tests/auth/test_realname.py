import pytest

from auth.errors import (
    ClaimMethodUnavailable,
    ClaimNotFound,
    ClaimProofInvalid,
    ClaimRequired,
    InvalidIdNumber,
    InvalidInput,
    RateLimited,
    RealnameBoundElsewhere,
    RealnameMismatch,
    TokenInvalid,
)
from auth.notices import ACCOUNT_NOTICE
from auth.realname import LEVEL_NAMES, RealnameLevel
from integrations.errors import UpstreamUnavailable
from tests.auth.conftest import ID_WULAN, ID_ZHANG, valid_id

IP = "203.0.113.7"


@pytest.fixture
def account(service, wechat):
    return service.login_wechat(wechat.login_code("o-rn"), client_ip=IP).account.id


def test_levels_have_names():
    assert [int(level) for level in RealnameLevel] == [2, 3, 4, 5]
    assert RealnameLevel.VERIFIED.label == "三级" and LEVEL_NAMES[5] == "五级"


def test_success_raises_to_level_three(service, account):
    result = service.verify_realname(account, "张三", ID_ZHANG)
    assert result.to_dict() == {
        "account_id": account,
        "realname_level": 3,
        "realname_level_name": "三级",
        "merged": False,
    }
    assert service.accounts.summary(account).realname_level == 3


def test_bad_check_digit_never_reaches_upstream(service, identity, account):
    with pytest.raises(InvalidIdNumber):
        service.verify_realname(account, "张三", ID_ZHANG[:-1] + ("0" if ID_ZHANG[-1] != "0" else "1"))
    assert identity.person_calls == 0


def test_bad_name_never_reaches_upstream(service, identity, account):
    with pytest.raises(InvalidInput):
        service.verify_realname(account, "张三<script>", ID_ZHANG)
    assert identity.person_calls == 0


@pytest.mark.parametrize("name", ["李四", "张 三x1"])
def test_mismatch_gives_one_generic_answer(service, account, name):
    with pytest.raises((RealnameMismatch, InvalidInput)) as caught:
        service.verify_realname(account, name, ID_ZHANG)
    assert service.accounts.level(account) == 2
    assert "李四" not in caught.value.message


def test_unknown_person_looks_like_a_mismatch(service, account):
    with pytest.raises(RealnameMismatch) as caught:
        service.verify_realname(account, "张三", valid_id("15010219900101001"))
    assert caught.value.details == {}


def test_minority_name_with_separator(service, identity, account):
    number = valid_id("15010219700101003")
    identity.add_person("阿拉坦·敖其尔", number)
    assert service.verify_realname(account, "阿拉坦·敖其尔", number).realname_level == 3


def test_account_cannot_switch_to_another_person(service, account):
    service.verify_realname(account, "张三", ID_ZHANG)
    with pytest.raises(RealnameMismatch):
        service.verify_realname(account, "乌兰其其格", ID_WULAN)


def test_repeating_the_same_verification_is_idempotent_and_free(service, identity, account):
    service.verify_realname(account, "张三", ID_ZHANG)
    calls = identity.person_calls
    assert service.verify_realname(account, "张三", ID_ZHANG).realname_level == 3
    assert identity.person_calls == calls


def test_daily_attempt_limit(service, identity, account):
    for _ in range(5):
        with pytest.raises(RealnameMismatch):
            service.verify_realname(account, "李四", ID_ZHANG)
    with pytest.raises(RateLimited):
        service.verify_realname(account, "张三", ID_ZHANG)
    assert identity.person_calls == 5


def test_upstream_outage_leaves_the_level(service, identity, account, monkeypatch):
    def down(name, id_number):
        raise UpstreamUnavailable(upstream="identity")

    monkeypatch.setattr(identity, "verify_person", down)
    with pytest.raises(UpstreamUnavailable) as caught:
        service.verify_realname(account, "张三", ID_ZHANG)
    assert caught.value.http_status == 503 and caught.value.headers["Retry-After"]
    assert service.accounts.level(account) == 2


def _holder_with_phone(service, wechat, phone="13812340001"):
    holder = service.login_wechat(wechat.login_code("o-holder"), client_ip=IP)
    service.bind_wechat_phone(holder.account.id, wechat.phone_code(phone))
    service.verify_realname(holder.account.id, "张三", ID_ZHANG)
    return holder


def _principal(service, pair, audience="msb-alipay"):
    return service.authenticate_access_token(pair.access_token, audiences=[audience])


def test_same_id_on_a_second_account_is_refused_and_never_merged(service, wechat, alipay, sms):
    holder = _holder_with_phone(service, wechat)
    other = service.login_alipay(alipay.auth_code("ali-rn"), client_ip=IP)
    with pytest.raises(RealnameBoundElsewhere) as caught:
        service.verify_realname(other.account.id, "张三", ID_ZHANG)
    assert (caught.value.http_status, caught.value.code) == (409, "realname_bound_elsewhere")
    assert caught.value.details["methods"] == ["sms", "face"]
    assert caught.value.details["phone_masked"] == "138****0001"
    assert service.accounts.resolve(other.account.id) == other.account.id != holder.account.id
    assert service.accounts.level(other.account.id) == 2
    assert service.accounts.realname_index(other.account.id) is None
    assert {b.channel for b in service.me(other.account.id).bindings} == {"alipay"}
    assert "realname_conflict" in [event.event for event in service.audit.recent(holder.account.id)]


def test_sms_claim_to_the_holders_phone_merges_into_the_holder(service, wechat, alipay, sms):
    holder = _holder_with_phone(service, wechat)
    other = service.login_alipay(alipay.auth_code("ali-rn"), client_ip=IP)
    with pytest.raises(RealnameBoundElsewhere):
        service.verify_realname(other.account.id, "张三", ID_ZHANG)
    started = service.start_claim(other.account.id, "sms")
    assert started["phone_masked"] == "138****0001" and started["attempts_left"] == 5
    phone, code = sms.claim_codes[-1]
    assert phone == "13812340001"
    principal = _principal(service, other)
    with pytest.raises(ClaimProofInvalid) as wrong:
        service.confirm_claim(principal, started["claim_id"], code="000000" if code != "000000" else "111111")
    assert wrong.value.details == {"attempts_left": 4}
    pair = service.confirm_claim(principal, started["claim_id"], code=code)
    assert pair.account.id == holder.account.id
    assert {b.channel for b in service.me(holder.account.id).bindings} == {"wechat", "alipay", "phone", "realname"}
    with pytest.raises(ClaimNotFound):  # burned after use
        service.confirm_claim(principal, started["claim_id"], code=code)
    assert ("13812340001", "与另一个账号合并了") in sms.notices
    # the old session ended; the fresh one works
    with pytest.raises(TokenInvalid):
        _principal(service, other)
    assert _principal(service, pair).account_id == holder.account.id


def test_wrong_codes_burn_the_claim(service, wechat, alipay, sms):
    _holder_with_phone(service, wechat)
    other = service.login_alipay(alipay.auth_code("ali-rn"), client_ip=IP)
    with pytest.raises(RealnameBoundElsewhere):
        service.verify_realname(other.account.id, "张三", ID_ZHANG)
    claim_id = service.start_claim(other.account.id, "sms")["claim_id"]
    code = sms.claim_codes[-1][1]
    wrong = "000000" if code != "000000" else "111111"
    principal = _principal(service, other)
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(ClaimProofInvalid) as caught:
            service.confirm_claim(principal, claim_id, code=wrong)
        assert caught.value.details == {"attempts_left": left}
    with pytest.raises(ClaimNotFound):
        service.confirm_claim(principal, claim_id, code=code)


def test_claims_are_bound_to_the_caller_and_expire(service, wechat, alipay, sms, clock):
    _holder_with_phone(service, wechat)
    other = service.login_alipay(alipay.auth_code("ali-rn"), client_ip=IP)
    with pytest.raises(RealnameBoundElsewhere):
        service.verify_realname(other.account.id, "张三", ID_ZHANG)
    claim_id = service.start_claim(other.account.id, "sms")["claim_id"]
    code = sms.claim_codes[-1][1]
    stranger = service.login_alipay(alipay.auth_code("ali-stranger"), client_ip=IP)
    with pytest.raises(ClaimNotFound):
        service.confirm_claim(_principal(service, stranger), claim_id, code=code)
    with pytest.raises(ClaimRequired):  # no conflict of its own to claim
        service.start_claim(stranger.account.id, "face")
    clock.advance(601)
    with pytest.raises(ClaimNotFound):
        service.confirm_claim(_principal(service, other), claim_id, code=code)


def test_face_claim_needs_the_holders_face(service, wechat, alipay, identity):
    holder = service.login_wechat(wechat.login_code("o-holder"), client_ip=IP)
    service.verify_realname(holder.account.id, "张三", ID_ZHANG)
    other = service.login_alipay(alipay.auth_code("ali-rn"), client_ip=IP)
    with pytest.raises(RealnameBoundElsewhere) as caught:
        service.verify_realname(other.account.id, "张三", ID_ZHANG)
    assert caught.value.details["methods"] == ["face"] and caught.value.details["phone_masked"] is None
    with pytest.raises(ClaimMethodUnavailable):
        service.start_claim(other.account.id, "sms")
    claim_id = service.start_claim(other.account.id, "face")["claim_id"]
    with pytest.raises(ClaimProofInvalid):
        service.confirm_claim(_principal(service, other), claim_id, face_token=identity.face_token(ID_WULAN))
    assert service.accounts.resolve(other.account.id) == other.account.id
    pair = service.confirm_claim(_principal(service, other), claim_id, face_token=identity.face_token(ID_ZHANG))
    assert pair.account.id == holder.account.id and pair.account.realname_level == 4


def test_one_id_number_is_limited_across_accounts(service, alipay, identity):
    for n in range(5):
        fresh = service.login_alipay(alipay.auth_code(f"ali-lim-{n}"), client_ip=f"198.51.100.{n}")
        with pytest.raises(RealnameMismatch):
            service.verify_realname(fresh.account.id, "李四", ID_ZHANG)
    fresh = service.login_alipay(alipay.auth_code("ali-lim-x"), client_ip="198.51.100.99")
    with pytest.raises(RateLimited) as caught:
        service.verify_realname(fresh.account.id, "张三", ID_ZHANG)
    assert caught.value.headers["Retry-After"]
    assert identity.person_calls == 5


def test_new_login_methods_merges_and_realname_are_announced(service, wechat, sms):
    inbox = []
    service.events.subscribe(ACCOUNT_NOTICE, lambda event: inbox.append((event.data["account_id"], event.data)))
    pair = service.login_wechat(wechat.login_code("o-n1", "u-n1"), client_ip=IP)
    assert inbox == [] and sms.notices == []  # a brand-new account has nobody to tell
    service.bind_wechat_phone(pair.account.id, wechat.phone_code("13812340009"))
    service.verify_realname(pair.account.id, "张三", ID_ZHANG)
    # another appid of the same WeChat user: a new openid on the existing account
    service.login_wechat(wechat.login_code("o-n1-other-app", "u-n1"), client_ip=IP)
    events = [notice["kind"] for _, notice in inbox]
    assert events == ["binding_added:phone", "realname_verified", "binding_added:wechat"]
    assert all(account == pair.account.id for account, _ in inbox)
    assert all("这不是我" in notice["text"] and "12345" in notice["text"] for _, notice in inbox)
    assert [event for _, event in sms.notices] == ["新增了手机号登录", "完成了实名认证", "新增了微信登录"]
    assert {phone for phone, _ in sms.notices} == {"13812340009"}
    # logging in again the same way is not news
    service.login_wechat(wechat.login_code("o-n1", "u-n1"), client_ip=IP)
    assert len(inbox) == 3
