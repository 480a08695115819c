"""Accounts as PostgreSQL records: what the transactions guarantee (races, atomic merges, the change and
its events committing together)."""

import threading

import pytest

from auth import enterprise_records, keys
from auth.accounts import Identity
from auth.notices import ACCOUNT_NOTICE
from auth.service import ACCOUNT_CHANGED
from tests.auth.conftest import ID_ZHANG

IP = "203.0.113.7"


def login_wechat(service, wechat, openid, unionid=None):
    return service.login_wechat(wechat.login_code(openid, unionid), client_ip=IP)


def outbox(database):
    with database.transaction() as conn:
        return [(row["name"], row["data"]) for row in conn.execute("SELECT name, data FROM outbox ORDER BY id")]


def snapshot(service, database, *account_ids):
    """What a merge would change: liveness, bindings, the lookups and the enterprise links."""
    with database.transaction() as conn:
        lookups = conn.execute("SELECT kind, blind, account_id FROM identity_index ORDER BY kind, blind").fetchall()
        merged = conn.execute("SELECT id, merged_into, realname_level FROM accounts ORDER BY id").fetchall()
    return (
        {account_id: service.accounts.resolve(account_id) for account_id in account_ids},
        {account_id: [b.binding_id for b in service.accounts.bindings(account_id)] for account_id in account_ids},
        lookups,
        merged,
    )


class TestRaces:
    def test_concurrent_logins_by_openid_and_unionid_meet_on_one_account(self, service, wechat, database):
        """Two appids of one WeChat user log in for the first time at once: both end on one account."""
        results, barrier = [], threading.Barrier(2)

        def first_login(openid):
            barrier.wait()
            identities = [Identity("wechat_openid", openid), Identity("wechat_unionid", "u-race")]
            results.append(service.accounts.attach("wechat", identities).account_id)

        racers = [threading.Thread(target=first_login, args=(openid,)) for openid in ("o-appA", "o-appB")]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
        assert len(results) == 2 and len({service.accounts.resolve(r) for r in results}) == 1
        with database.transaction() as conn:
            live = conn.execute("SELECT count(*) AS n FROM accounts WHERE merged_into IS NULL").fetchone()["n"]
            owners = conn.execute("SELECT DISTINCT account_id FROM identity_index").fetchall()
        assert live == 1 and len(owners) == 1

    def test_opposite_merges_at_once_neither_deadlock_nor_split(self, service, wechat):
        for round_ in range(3):
            a = login_wechat(service, wechat, f"o-a{round_}").account.id
            b = login_wechat(service, wechat, f"o-b{round_}").account.id
            results, errors, barrier = [], [], threading.Barrier(2)

            def merge(first, second):
                barrier.wait()
                try:
                    results.append(service.accounts.merge(first, second, reason="test"))
                except Exception as exc:  # noqa: BLE001 — the assertion below names it
                    errors.append(exc)

            racers = [threading.Thread(target=merge, args=pair) for pair in ((a, b), (b, a))]
            for racer in racers:
                racer.start()
            for racer in racers:
                racer.join()
            assert errors == []
            assert service.accounts.resolve(a) == service.accounts.resolve(b) == results[0][0]


class TestMergeAtomicity:
    def test_a_failure_mid_merge_leaves_both_accounts_intact(self, service, wechat, sms, database, redis_client,
                                                             monkeypatch):
        wx = login_wechat(service, wechat, "o-keep")
        service.clock.advance(61)
        service.send_sms_code("13812345678", client_ip=IP)
        app = service.login_app_sms("13812345678", sms.last_code("13812345678"), client_ip=IP)
        app_families = redis_client.smembers(keys.account_families(app.account.id))
        before = snapshot(service, database, wx.account.id, app.account.id)
        events_before = outbox(database)

        def broken(conn, absorbed, survivor):
            raise RuntimeError("power cut between moving bindings and links")

        # Late in the merge: bindings moved and lookups re-pointed already when it fails.
        monkeypatch.setattr(enterprise_records, "move_links", broken)
        with pytest.raises(RuntimeError):
            service.bind_wechat_phone(wx.account.id, wechat.phone_code("13812345678"))

        assert snapshot(service, database, wx.account.id, app.account.id) == before
        assert outbox(database) == events_before  # no account.changed, no notice for a merge that never was
        assert redis_client.smembers(keys.account_families(app.account.id)) == app_families

        monkeypatch.undo()
        summary = service.bind_wechat_phone(wx.account.id, wechat.phone_code("13812345678"))
        survivor = summary.id
        absorbed = app.account.id if survivor == wx.account.id else wx.account.id
        assert service.accounts.resolve(absorbed) == survivor
        # After the commit the absorbed account's sessions joined the survivor's (logout-all covers them).
        assert app_families <= redis_client.smembers(keys.account_families(survivor))

    def test_merging_an_account_that_absorbed_others_keeps_every_id_one_hop_away(self, service, wechat, database):
        first, second, third = (login_wechat(service, wechat, f"o-hop{i}").account.id for i in range(3))
        service.clock.advance(1)
        middle, gone = service.accounts.merge(first, second, reason="test")
        last, _ = service.accounts.merge(middle, third, reason="test")
        for account_id in (first, second, third):
            assert service.accounts.current(account_id)[0] == last
        with database.transaction() as conn:
            pointers = {row["merged_into"] for row in conn.execute(
                "SELECT merged_into FROM accounts WHERE merged_into IS NOT NULL")}
        assert pointers == {last} and gone != last


class TestChangesAndTheirEvents:
    def test_a_first_login_commits_the_account_and_its_event_together(self, service, sms, database):
        service.send_sms_code("13812345678", client_ip=IP)
        pair = service.login_app_sms("13812345678", sms.last_code("13812345678"), client_ip=IP)
        assert (ACCOUNT_CHANGED, {"account_id": pair.account.id}) in outbox(database)

    def test_an_event_that_cannot_be_written_undoes_the_account(self, service, sms, database, monkeypatch):
        def refused(conn, name, **data):
            raise RuntimeError("outbox refused")

        monkeypatch.setattr(service.outbox, "add", refused)
        service.send_sms_code("13812345678", client_ip=IP)
        with pytest.raises(RuntimeError):
            service.login_app_sms("13812345678", sms.last_code("13812345678"), client_ip=IP)
        with database.transaction() as conn:
            assert conn.execute("SELECT count(*) AS n FROM accounts").fetchone()["n"] == 0
            assert conn.execute("SELECT count(*) AS n FROM identity_index").fetchone()["n"] == 0

    def test_a_merge_writes_its_notice_and_event_with_it(self, service, wechat, sms, database):
        wx = login_wechat(service, wechat, "o-n1")
        service.send_sms_code("13812345670", client_ip=IP)
        service.login_app_sms("13812345670", sms.last_code("13812345670"), client_ip=IP)
        summary = service.bind_wechat_phone(wx.account.id, wechat.phone_code("13812345670"))
        recorded = outbox(database)
        assert (ACCOUNT_CHANGED, {"account_id": summary.id}) == recorded[-1]
        notice = recorded[-2]
        assert notice[0] == ACCOUNT_NOTICE and notice[1]["account_id"] == summary.id
        assert notice[1]["kind"] == "merged"

    def test_real_name_verification_and_its_event_commit_together(self, service, wechat, database):
        pair = login_wechat(service, wechat, "o-rn")
        heard = []
        service.events.subscribe(ACCOUNT_CHANGED, lambda event: heard.append(event.data["account_id"]))
        service.verify_realname(pair.account.id, "张三", ID_ZHANG)
        names = [name for name, data in outbox(database) if data.get("account_id") == pair.account.id]
        assert names[-2:] == [ACCOUNT_NOTICE, ACCOUNT_CHANGED]
        assert heard == [pair.account.id]  # delivered once, after the commit
        assert service.accounts.level(pair.account.id) == 3
