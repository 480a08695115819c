"""The deployment-wide WeChat access-token holder: caching, early refresh, single flight across
holders (processes) and threads, and compare-and-refresh on 40001."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import pytest
import requests

from integrations import keys
from integrations.errors import UpstreamUnavailable
from integrations.gateways import Gateways
from integrations.http import UpstreamHttp
from integrations.wechat_token import StableTokenSource, WeChatAccessTokenHolder
from kernel.clock import FixedClock
from tests.integrations.conftest import WECHAT_APPID, WECHAT_SECRET, Drive, counter

ISSUED = "wechat.access_tokens_issued"
STABLE = "wechat.stable_token"


def new_holder(drive: Drive, redis_client, clock: FixedClock | None = None, timeout: float = 2.0) -> WeChatAccessTokenHolder:
    """A holder with its own HTTP session: what another gunicorn worker would have."""
    source = StableTokenSource(drive.base_url, WECHAT_APPID, WECHAT_SECRET, UpstreamHttp("wechat", timeout=timeout))
    return WeChatAccessTokenHolder(redis_client, WECHAT_APPID, source, clock=clock, fetch_timeout=timeout)


def all_at_once(count: int, action: Callable[[int], str]) -> list[str | BaseException]:
    """Run ``action(i)`` on ``count`` threads released together; results or exceptions."""
    barrier = threading.Barrier(count)

    def run(index: int) -> str | BaseException:
        barrier.wait()
        try:
            return action(index)
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_token_is_cached_across_calls_and_holders(gateways: Gateways, drive: Drive, redis_client) -> None:
    first = gateways.wechat_token_holder.get()

    assert gateways.wechat_token_holder.get() == first
    assert new_holder(drive, redis_client).get() == first
    assert counter(drive.counters(), STABLE) == 1
    assert 0 < redis_client.pttl(keys.wechat_access_token(WECHAT_APPID)) <= 7200 * 1000


def test_refreshed_early_while_the_old_token_still_works(gateways: Gateways, drive: Drive, token_clock: FixedClock) -> None:
    holder = gateways.wechat_token_holder
    old = holder.get()

    drive.advance_clock(6600)
    token_clock.advance(6600)  # 10 minutes left: not yet
    assert holder.get() == old
    assert counter(drive.counters(), STABLE) == 1

    drive.advance_clock(400)
    token_clock.advance(400)  # 200 s left: renew now, before anyone gets 42001
    new = holder.get()
    assert new != old
    assert holder.get() == new
    counters = drive.counters()
    assert (counter(counters, STABLE), counter(counters, ISSUED)) == (2, 2)


def test_expired_token_is_replaced(gateways: Gateways, drive: Drive, token_clock: FixedClock) -> None:
    old = gateways.wechat_token_holder.get()
    drive.advance_clock(7300)
    token_clock.advance(7300)

    assert gateways.wechat_token_holder.get() != old


def test_single_flight_across_threads_and_holders(drive: Drive, redis_client) -> None:
    holders = [new_holder(drive, redis_client), new_holder(drive, redis_client)]
    # A slow token endpoint widens the window in which the others would refresh too.
    drive.fault(STABLE, times=None, delay_ms=300)

    results = all_at_once(16, lambda i: holders[i % 2].get())

    assert all(isinstance(token, str) for token in results), results
    assert len(set(results)) == 1
    counters = drive.counters()
    # Both: stable_token's normal mode hands out the same token to parallel callers, so counting
    # tokens alone would not notice parallel refreshes.
    assert (counter(counters, STABLE), counter(counters, ISSUED)) == (1, 1)


def test_in_the_early_window_only_one_caller_refreshes_and_nobody_waits(
    gateways: Gateways, drive: Drive, redis_client, token_clock: FixedClock
) -> None:
    holder = gateways.wechat_token_holder
    old = holder.get()
    drive.advance_clock(7000)
    token_clock.advance(7000)
    redis_client.set(keys.wechat_access_token_lock(WECHAT_APPID), "someone-else", px=5000)

    started = time.monotonic()
    assert holder.get() == old  # someone else is refreshing; the old token is still valid
    assert time.monotonic() - started < 0.2
    assert counter(drive.counters(), STABLE) == 1


def test_waiters_share_a_failed_refresh(drive: Drive, redis_client) -> None:
    holders = [new_holder(drive, redis_client), new_holder(drive, redis_client)]
    drive.fault(STABLE, times=None, http_status=502, raw_body="<html>502 Bad Gateway</html>", delay_ms=500)

    started = time.monotonic()
    results = all_at_once(8, lambda i: holders[i % 2].get())

    assert all(isinstance(result, UpstreamUnavailable) for result in results), results
    assert counter(drive.counters(), STABLE) == 1  # one call per flight, not one per thread
    assert time.monotonic() - started < 2


def test_waiter_gives_up_when_the_refresher_leaves_without_a_token(drive: Drive, redis_client) -> None:
    lock = keys.wechat_access_token_lock(WECHAT_APPID)
    redis_client.set(lock, "a-refresher-that-will-fail", px=5000)
    threading.Timer(0.3, lambda: redis_client.delete(lock)).start()

    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable):
        new_holder(drive, redis_client).get()
    assert time.monotonic() - started < 1.5
    assert counter(drive.counters(), STABLE) == 0


def test_passive_refresh_after_a_forced_40001_happens_once(gateways: Gateways, drive: Drive) -> None:
    old = gateways.wechat_token_holder.get()
    user = drive.wechat_user(phone="13800471001")
    drive.fault("wechat.getuserphonenumber", error={"errcode": 40001})

    assert gateways.wechat.phone_number(drive.wechat_phone_code(user["user_id"])) == "13800471001"

    counters = drive.counters()
    assert counter(counters, "wechat.getuserphonenumber") == 2
    assert (counter(counters, STABLE), counter(counters, ISSUED)) == (2, 2)
    assert gateways.wechat_token_holder.get() != old


def test_token_superseded_elsewhere_is_replaced_on_the_real_40001(gateways: Gateways, drive: Drive) -> None:
    ours = gateways.wechat_token_holder.get()
    # Someone else with our appid/secret forces a refresh: our stored token is dead at once.
    rogue = requests.post(
        f"{drive.base_url}/cgi-bin/stable_token",
        json={"grant_type": "client_credential", "appid": WECHAT_APPID, "secret": WECHAT_SECRET, "force_refresh": True},
        timeout=5,
    ).json()["access_token"]
    user = drive.wechat_user(phone="13800471001")

    assert gateways.wechat.phone_number(drive.wechat_phone_code(user["user_id"])) == "13800471001"
    assert gateways.wechat_token_holder.get() == rogue != ours


def test_concurrent_40001s_on_one_token_cause_one_refresh(drive: Drive, redis_client) -> None:
    holders = [new_holder(drive, redis_client), new_holder(drive, redis_client)]
    bad = holders[0].get()
    drive.fault(STABLE, times=None, delay_ms=200)

    results = all_at_once(10, lambda i: holders[i % 2].invalidate(bad))

    assert all(isinstance(token, str) for token in results), results
    assert len(set(results)) == 1 and bad not in results
    counters = drive.counters()
    # Forced refreshes within 30 s return the same token, so again count the calls, not the tokens.
    assert (counter(counters, STABLE), counter(counters, ISSUED)) == (2, 2)


def test_stale_invalidate_does_not_refresh_again(gateways: Gateways, drive: Drive) -> None:
    holder = gateways.wechat_token_holder
    first = holder.get()
    second = holder.invalidate(first)

    assert holder.invalidate(first) == second  # a late caller with the old token: already replaced
    assert counter(drive.counters(), STABLE) == 2


def test_persistent_token_error_refreshes_once_then_fails(gateways: Gateways, drive: Drive) -> None:
    gateways.wechat_token_holder.get()
    drive.fault("wechat.getuserphonenumber", times=None, error={"errcode": 42001})

    with pytest.raises(UpstreamUnavailable):
        gateways.wechat.phone_number("some-phone-code")

    counters = drive.counters()
    assert counter(counters, "wechat.getuserphonenumber") == 2
    assert counter(counters, STABLE) == 2
