import pytest

from auth.errors import InvalidIdNumber, InvalidInput, RateLimited, RealnameMismatch, UpstreamUnavailable
from auth.realname import LEVEL_NAMES, RealnameLevel
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


def test_same_person_on_two_accounts_merges(service, alipay, account):
    service.verify_realname(account, "张三", ID_ZHANG)
    other = service.login_alipay(alipay.auth_code("ali-rn"), client_ip=IP).account.id
    result = service.verify_realname(other, "张三", ID_ZHANG)
    assert result.account_id == account and result.to_dict()["merged"] is True
    assert {b.channel for b in service.me(other).bindings} == {"wechat", "alipay", "realname"}
    events = [event.event for event in service.audit.recent(other)]
    assert "merge" in events
