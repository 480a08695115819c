"""Account resolution, bindings, merges and preferences (through the service where a flow exists)."""

import threading

import pytest

from auth.accounts import Identity
from auth.errors import BindingConflict, BindingNotFound, InvalidInput, LastBinding
from tests.auth.conftest import ID_WULAN, ID_ZHANG, USCC_GRASSLAND, claim_by_face

IP = "203.0.113.7"


def table_counts(database, tables=("accounts", "account_bindings", "identity_index")):
    with database.transaction() as conn:
        return {table: conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"] for table in tables}


def login_wechat(service, wechat, openid, unionid=None):
    return service.login_wechat(wechat.login_code(openid, unionid), client_ip=IP)


def login_sms(service, sms, phone):
    service.clock.advance(61)  # past the per-phone resend cooldown
    service.send_sms_code(phone, client_ip=IP)
    return service.login_app_sms(phone, sms.last_code(phone), client_ip=IP)


class TestResolution:
    def test_first_login_creates_a_person_account_with_an_opaque_id(self, service, wechat):
        pair = login_wechat(service, wechat, "o-openid-1")
        account = pair.account
        assert account.id.startswith("acc_") and len(account.id) == 30
        assert (account.type, account.realname_level, account.bindings) == ("person", 2, ("wechat",))

    def test_same_openid_same_account(self, service, wechat):
        assert login_wechat(service, wechat, "o-1").account.id == login_wechat(service, wechat, "o-1").account.id

    def test_same_unionid_across_appids_is_one_account(self, service, wechat):
        first = login_wechat(service, wechat, "o-appA", "u-123")
        second = login_wechat(service, wechat, "o-appB", "u-123")
        assert first.account.id == second.account.id
        assert [b.channel for b in service.me(first.account.id).bindings] == ["wechat", "wechat"]

    def test_unionid_arriving_later_merges_the_openid_only_account(self, service, wechat):
        early = login_wechat(service, wechat, "o-appA")  # mini-program not yet on the Open Platform
        other = login_wechat(service, wechat, "o-appB", "u-9")
        late = login_wechat(service, wechat, "o-appA", "u-9")
        assert (
            late.account.id == service.accounts.resolve(early.account.id) == service.accounts.resolve(other.account.id)
        )

    def test_same_phone_from_another_channel_is_the_same_account(self, service, wechat, sms):
        app_login = login_sms(service, sms, "13812345678")
        wx = login_wechat(service, wechat, "o-phone")
        summary = service.bind_wechat_phone(wx.account.id, wechat.phone_code("13812345678"))
        assert summary.id == app_login.account.id or service.accounts.resolve(app_login.account.id) == summary.id
        assert set(summary.bindings) == {"wechat", "phone"}
        assert login_sms(service, sms, "13812345678").account.id == summary.id

    @pytest.mark.parametrize("threads", [2, 4])
    def test_concurrent_first_logins_create_one_account(self, service, database, threads):
        """The lookup's primary key decides: every racer ends on the one account, and the accounts the
        losers began are rolled back with their attempt."""
        results, barrier = [], threading.Barrier(threads)

        def first_login():
            barrier.wait()
            results.append(service.accounts.attach("wechat", [Identity("wechat_openid", "o-race")]).account_id)

        racers = [threading.Thread(target=first_login) for _ in range(threads)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
        assert len(results) == threads and len(set(results)) == 1
        assert table_counts(database) == {"accounts": 1, "account_bindings": 1, "identity_index": 1}

    def test_records_hold_no_raw_identifiers(self, service, wechat, database):
        pair = login_wechat(service, wechat, "o-secret-openid", "u-secret-unionid")
        service.bind_wechat_phone(pair.account.id, wechat.phone_code("13812345678"))
        service.verify_realname(pair.account.id, "张三", ID_ZHANG)
        with database.transaction() as conn:
            text = "\n".join(str(row) for table in ("accounts", "account_bindings", "identity_index", "outbox")
                             for row in conn.execute(f"SELECT * FROM {table}").fetchall())
        assert "acc_" in text and "wechat_unionid" in text  # the dump did read the records
        for secret in ("o-secret-openid", "u-secret-unionid", "13812345678", ID_ZHANG, "张三"):
            assert secret not in text

    def test_redis_holds_no_raw_identifiers(self, service, wechat, sms, redis_client):
        pair = login_wechat(service, wechat, "o-secret-openid", "u-secret-unionid")
        service.bind_wechat_phone(pair.account.id, wechat.phone_code("13812345678"))
        service.verify_realname(pair.account.id, "张三", ID_ZHANG)
        dump = []
        for key in list(redis_client.scan_iter("*")):
            kind = redis_client.type(key)
            value = {"hash": redis_client.hgetall, "string": redis_client.get, "set": redis_client.smembers}.get(
                kind, lambda k: ""
            )(key)
            dump.append(f"{key} {value}")
        text = "\n".join(dump)
        for secret in ("o-secret-openid", "u-secret-unionid", "13812345678", ID_ZHANG, "张三"):
            assert secret not in text


class TestMerge:
    def test_proven_claims_merge_and_repoint_indexes(self, service, wechat, alipay, sms, identity):
        wx = login_wechat(service, wechat, "o-m1", "u-m1")
        ali = service.login_alipay(alipay.auth_code("ali-open-1", "2088000000000001"), client_ip=IP)
        app = login_sms(service, sms, "13812345678")
        service.verify_realname(wx.account.id, "张三", ID_ZHANG)
        second = claim_by_face(service, identity, ali, "张三", ID_ZHANG)
        third = claim_by_face(service, identity, app, "张三", ID_ZHANG)
        survivor = third.account.id
        assert second.account.id == survivor == wx.account.id  # the holder's account lives on
        view = service.me(survivor)
        # The first face claim removed the holder's WeChat login: it had proven only knowledge of the
        # name and number. The second met a 四级 holder and removed nothing.
        assert sorted(b.channel for b in view.bindings) == ["alipay", "phone", "realname"]
        # Every remaining channel leads to the survivor; the WeChat user starts afresh.
        assert login_wechat(service, wechat, "o-m1").account.id != survivor
        assert service.login_alipay(alipay.auth_code("ali-open-1"), client_ip=IP).account.id == survivor
        assert login_sms(service, sms, "13812345678").account.id == survivor
        assert service.accounts.resolve(ali.account.id) == survivor

    def test_absorbed_sessions_keep_working_and_follow_logout_all(self, service, wechat, sms):
        wx = login_wechat(service, wechat, "o-s1")
        ali = login_sms(service, sms, "13812345670")
        service.verify_realname(wx.account.id, "张三", ID_ZHANG)
        # the phone button proves the phone (WeChat verified it): the two accounts are one
        service.bind_wechat_phone(wx.account.id, wechat.phone_code("13812345670"))
        principal = service.authenticate_access_token(ali.access_token, audiences=["msb-app"])
        assert principal.account_id == wx.account.id and principal.level == 3
        refreshed = service.refresh(ali.refresh_token)
        assert refreshed.account.id == wx.account.id
        service.logout(wx.account.id, principal.session_id, all_devices=True)
        for pair in (wx, refreshed):
            with pytest.raises(Exception) as caught:
                service.refresh(pair.refresh_token)
            assert caught.value.code in ("refresh_token_invalid", "refresh_token_reused")

    def test_survivor_is_the_higher_level_then_older_account(self, service, wechat, clock):
        older = login_wechat(service, wechat, "o-old").account.id
        clock.advance(1)
        newer = login_wechat(service, wechat, "o-new").account.id
        assert service.accounts.merge(newer, older, reason="test") == (older, newer)
        verified = login_wechat(service, wechat, "o-verified").account.id
        service.verify_realname(verified, "乌兰其其格", ID_WULAN)
        assert service.accounts.merge(older, verified, reason="test") == (verified, older)

    def test_two_different_verified_people_never_merge(self, service, wechat, sms):
        wx = login_wechat(service, wechat, "o-c1")
        app = login_sms(service, sms, "13812345678")
        service.verify_realname(wx.account.id, "张三", ID_ZHANG)
        service.verify_realname(app.account.id, "乌兰其其格", ID_WULAN)
        with pytest.raises(BindingConflict) as caught:
            service.bind_wechat_phone(wx.account.id, wechat.phone_code("13812345678"))
        assert caught.value.http_status == 409
        assert service.accounts.resolve(app.account.id) == app.account.id

    def test_merge_moves_enterprise_links(self, service, wechat, alipay, identity):
        wx = login_wechat(service, wechat, "o-e1")
        service.verify_realname(wx.account.id, "张三", ID_ZHANG)
        link = service.link_enterprise(wx.account.id, USCC_GRASSLAND)
        ali = service.login_alipay(alipay.auth_code("ali-e1"), client_ip=IP)
        result = claim_by_face(service, identity, ali, "张三", ID_ZHANG)
        assert result.account.id == wx.account.id
        assert [e.enterprise_id for e in service.me(ali.account.id).enterprises] == [link.enterprise_id]


class TestBindings:
    def test_refuses_to_remove_the_last_login_method(self, service, wechat):
        pair = login_wechat(service, wechat, "o-last")
        with pytest.raises(LastBinding) as caught:
            service.remove_binding(pair.account.id, "wechat")
        assert (caught.value.code, caught.value.http_status) == ("last_binding", 409)

    def test_remove_a_channel_and_free_its_identifier(self, service, wechat, sms):
        pair = login_wechat(service, wechat, "o-rm")
        service.bind_wechat_phone(pair.account.id, wechat.phone_code("13812345678"))
        view = service.remove_binding(pair.account.id, "phone")
        assert [b.channel for b in view.bindings] == ["wechat"]
        assert login_sms(service, sms, "13812345678").account.id != pair.account.id

    def test_unknown_and_unremovable_channels(self, service, wechat):
        pair = login_wechat(service, wechat, "o-x")
        with pytest.raises(BindingNotFound):
            service.remove_binding(pair.account.id, "alipay")
        with pytest.raises(InvalidInput):
            service.remove_binding(pair.account.id, "realname")

    def test_shared_unionid_index_survives_removing_one_openid(self, service, wechat, database):
        first = login_wechat(service, wechat, "o-u1", "u-shared")
        login_wechat(service, wechat, "o-u2", "u-shared")
        binding = service.me(first.account.id).bindings[0]
        service.remove_binding(first.account.id, "wechat", binding.binding_id)
        blind = service.crypto.blind_index("wechat_unionid", "u-shared")
        with database.transaction() as conn:
            row = conn.execute("SELECT account_id FROM identity_index WHERE kind = 'wechat_unionid' AND blind = %s",
                               (blind,)).fetchone()
        assert row["account_id"] == first.account.id


class TestView:
    def test_me_shows_masked_values_only(self, service, wechat):
        pair = login_wechat(service, wechat, "o-view-openid", "u-view")
        service.bind_wechat_phone(pair.account.id, wechat.phone_code("13812345678"))
        service.verify_realname(pair.account.id, "张三", ID_ZHANG)
        view = service.me(pair.account.id).to_dict()
        assert view["id_number_masked"] == ID_ZHANG[:4] + "*" * 10 + ID_ZHANG[-4:]
        assert view["phones_masked"] == ["138****5678"]
        assert view["name_masked"] == "张*"
        assert view["realname_level"] == 3 and view["realname_level_name"] == "三级"
        assert {b["channel"] for b in view["bindings"]} == {"wechat", "phone", "realname"}
        text = str(view)
        for raw in ("o-view-openid", "u-view", "13812345678", ID_ZHANG, "张三"):
            assert raw not in text


class TestPreferences:
    def test_defaults_and_patch(self, service, wechat):
        account = login_wechat(service, wechat, "o-p").account.id
        assert service.me(account).preferences.to_dict() == {
            "mode": "standard",
            "language": "zh",
            "home_region": None,
            "push_opt_outs": {"marketing": [], "policy": []},
        }
        service.update_preferences(
            account, {"mode": "elder", "home_region": "150102", "push_opt_outs": {"marketing": ["wechat", "app"]}}
        )
        prefs = service.update_preferences(account, {"language": "mn", "push_opt_outs": {"policy": ["inbox"]}})
        assert prefs.to_dict() == {
            "mode": "elder",
            "language": "mn",
            "home_region": "150102",
            "push_opt_outs": {"marketing": ["app", "wechat"], "policy": ["inbox"]},
        }
        assert prefs.opted_out("marketing", "wechat") and not prefs.opted_out("policy", "wechat")
        assert (
            service.update_preferences(account, {"home_region": None, "push_opt_outs": {"marketing": []}}).to_dict()[
                "push_opt_outs"
            ]["marketing"]
            == []
        )

    @pytest.mark.parametrize(
        "changes",
        [
            {"mode": "dark"},
            {"language": "en"},
            {"home_region": "15010"},
            {"home_region": 150102},
            {"push_opt_outs": {"service": ["app"]}},
            {"push_opt_outs": {"marketing": ["sms"]}},
            {"nickname": "x"},
        ],
    )
    def test_invalid_changes(self, service, wechat, changes):
        account = login_wechat(service, wechat, "o-pi").account.id
        with pytest.raises(InvalidInput) as caught:
            service.update_preferences(account, changes)
        assert caught.value.details["field"] in ("mode", "language", "home_region", "push_opt_outs", "nickname")
        assert service.me(account).preferences.mode == "standard"
