"""The response cache over HTTP: variant isolation, 304s on cached answers, stampedes, invalidation
after a catalogue rebuild and on notice changes, and Redis going away and coming back."""
from __future__ import annotations

import threading
import time

import pytest

from bff import create_app
from catalog.live import LiveCatalogue
from push.campaigns import CAMPAIGN_STATE_CHANGED
from tests.bff.auth.conftest import Citizen, Drive, bearer
from tests.redis_mode import single_redis_only

SEARCH = "/v1/items/search?q=%E5%85%BB%E8%80%81%E9%87%91&region=150102"  # 养老金
HOME = "/v1/home?region=150102"
CACHED_STATUSES = ("local", "hit")

# Same URL, different headers: (headers, what the body must say).
HOME_VARIANTS = [
    ({}, {"channel": "app", "mode": "standard", "language": "zh"}),
    ({"X-Client-Mode": "elder"}, {"channel": "app", "mode": "elder", "language": "zh"}),
    ({"Accept-Language": "mn"}, {"channel": "app", "mode": "standard", "language": "mn"}),
    ({"X-Client-Channel": "wechat"}, {"channel": "wechat", "mode": "standard", "language": "zh"}),
    ({"X-Client-Channel": "alipay"}, {"channel": "alipay", "mode": "standard", "language": "zh"}),
    ({"X-Client-Channel": "wechat", "X-Client-Mode": "elder", "Accept-Language": "mn-Mong"},
     {"channel": "wechat", "mode": "elder", "language": "mn"}),
]


def _search_variant(body):
    mode = body.get("mode", "standard")
    language = "mn" if "name_local" in body["items"][0] else "zh"
    return mode, language


SEARCH_VARIANTS = [
    ({}, ("standard", "zh")),
    ({"X-Client-Mode": "elder"}, ("elder", "zh")),
    ({"Accept-Language": "mn"}, ("standard", "mn")),
    ({"X-Client-Mode": "elder", "Accept-Language": "mn"}, ("elder", "mn")),
]


def test_home_variants_never_cross_even_once_cached(client):
    bodies = {}
    for round_ in range(2):
        for headers, expected in HOME_VARIANTS:
            response = client.get(HOME, headers=headers)
            assert response.status_code == 200
            body = response.get_json()
            assert {k: body[k] for k in expected} == expected, (headers, round_)
            assert ("tiles" in body) == (expected["mode"] == "elder")
            key = tuple(sorted(headers.items()))
            if round_:
                assert response.headers["X-Cache"] in CACHED_STATUSES
                assert response.get_data() == bodies[key]
            else:
                assert response.headers["X-Cache"] == "miss"
                bodies[key] = response.get_data()
    assert len(set(bodies.values())) == len(HOME_VARIANTS)


def test_search_variants_never_cross_even_once_cached(client):
    for round_ in range(2):
        for headers, expected in SEARCH_VARIANTS:
            response = client.get(SEARCH, headers=headers)
            assert response.status_code == 200
            assert _search_variant(response.get_json()) == expected, (headers, round_)
            assert response.headers["X-Cache"] == ("miss" if round_ == 0 else response.headers["X-Cache"])
            assert set(response.headers["Vary"].split(", ")) == {"X-Client-Mode", "Accept-Language"}
    # The channel does not change a search answer: one entry serves every channel.
    assert client.get(SEARCH, headers={"X-Client-Channel": "alipay"}).headers["X-Cache"] in CACHED_STATUSES


@pytest.mark.parametrize("url", [HOME, SEARCH, "/v1/items/B0083?region=150102", "/v1/themes", "/v1/items/hot"])
@pytest.mark.parametrize("weak", [False, True], ids=["strong", "weak"])
def test_cached_answers_revalidate_with_304(client, url, weak):
    headers = {"X-Client-Mode": "elder", "Accept-Language": "mn"}
    first = client.get(url, headers=headers)
    cached = client.get(url, headers=headers)
    assert cached.headers["X-Cache"] in CACHED_STATUSES
    assert cached.headers["ETag"] == first.headers["ETag"]
    etag = cached.headers["ETag"]
    sent = f"W/{etag}" if weak else etag
    again = client.get(url, headers={**headers, "If-None-Match": f'"other", {sent}'})
    assert again.status_code == 304 and again.get_data() == b""
    for name in ("ETag", "Cache-Control", "Vary"):
        assert again.headers.get(name) == cached.headers.get(name), name
    assert cached.headers["Cache-Control"].startswith("public, max-age=")
    # Another variant's validator never matches (the theme list is the same for every variant).
    other = client.get(url, headers={"If-None-Match": etag})
    assert other.status_code == (304 if url == "/v1/themes" else 200)


def test_many_concurrent_misses_compute_once(app, monkeypatch):
    from bff.home import build

    calls = []
    original = build.anonymous_home

    def slow_home(*args, **kwargs):
        calls.append(1)
        time.sleep(0.2)
        return original(*args, **kwargs)

    monkeypatch.setattr(build, "anonymous_home", slow_home)
    barrier = threading.Barrier(8)
    results = []

    def fetch():
        client = app.test_client()
        barrier.wait()
        response = client.get("/v1/home?region=150203", headers={"X-Client-Channel": "wechat"})
        results.append((response.status_code, response.headers["X-Cache"], response.get_data()))

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(calls) == 1
    assert {status for status, _, _ in results} == {200} and len(results) == 8
    assert len({body for _, _, body in results}) == 1
    assert sorted(cache for _, cache, _ in results).count("miss") == 1


def test_a_catalogue_rebuild_is_never_answered_from_the_old_build(settings, redis_client, tmp_path, monkeypatch):
    from catalog.build import build_index

    index_dir = tmp_path / "index"
    build_index(index_dir, scale=0.02)
    app = create_app(settings.with_changes(index_dir=index_dir))
    catalogue: LiveCatalogue = app.extensions["services"].catalogue
    monkeypatch.setattr(catalogue, "_reload_check_seconds", 0.0)
    client = app.test_client()
    urls = [SEARCH, HOME, "/v1/items/hot?region=150102"]
    for url in urls:
        client.get(url)
    old_build = catalogue.get().version
    assert all(client.get(url).headers["X-Cache"] in CACHED_STATUSES for url in urls)

    build_index(index_dir, scale=0.03)  # a different build: other implementations, same items
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["X-Cache"] == "miss", url
    assert catalogue.get().version != old_build
    assert client.get(SEARCH).headers["X-Cache"] in CACHED_STATUSES


def test_notice_changes_invalidate_home_only(client):
    client.get(HOME)
    client.get(SEARCH)
    client.application.extensions["services"].events.publish(
        CAMPAIGN_STATE_CHANGED, campaign_id="c1", status="running", previous="scheduled", category="policy")
    assert client.get(HOME).headers["X-Cache"] == "miss"
    assert client.get(SEARCH).headers["X-Cache"] in CACHED_STATUSES


@single_redis_only
def test_redis_down_anonymous_still_answers_personal_is_503_and_recovers(client, redis_server, sandbox):
    citizen = Citizen(client, Drive(sandbox))
    token = citizen.sms_login("13700471041")["access_token"]
    assert client.get(HOME).headers["X-Cache"] == "miss"
    redis_server.stop()
    try:
        client.application.extensions["services"].response_cache.clear_local()
        for url in (HOME, SEARCH, "/v1/items/B0083", "/v1/themes"):
            response = client.get(url, headers={"X-Client-Mode": "elder"})
            assert response.status_code == 200, url
            assert response.headers["X-Cache"] == "bypass"
        personal = client.get(HOME, headers=bearer(token))
        assert personal.status_code == 503
        assert personal.headers["Retry-After"]
        assert personal.get_json()["error"] == "store_unavailable"
    finally:
        redis_server.start()
    # The Redis breaker (kernel.breaker) probes again after its one-second cool-down: back within 2 s.
    deadline = time.monotonic() + 2.0
    while client.get(HOME, headers=bearer(token)).status_code != 200:
        assert time.monotonic() < deadline, "personal home not back within 2 s of Redis"
        time.sleep(0.05)
    time.sleep(0.5)  # the cache's own retry interval
    # What was computed during the outage stays in the local layer only, for its usual TTL.
    client.application.extensions["services"].response_cache.clear_local()
    statuses = [client.get(HOME).headers["X-Cache"] for _ in range(2)]
    assert statuses[0] in ("hit", "miss") and statuses[1] in CACHED_STATUSES


@pytest.mark.parametrize("url,route", [(HOME, "home"), (SEARCH, "items.search"),
                                       ("/v1/items/B0083?region=150102", "items.detail")])
def test_stale_answers_are_refreshed_in_the_background_as_the_same_variant(client, monkeypatch, url, route):
    from bff.caching.response_keys import ROUTES

    cache = client.application.extensions["services"].response_cache
    now = [time.time()]
    monkeypatch.setattr(cache, "_clock", lambda: now[0])
    headers = {"X-Client-Channel": "wechat", "X-Client-Mode": "elder", "Accept-Language": "mn"}
    first = client.get(url, headers=headers)
    assert first.headers["X-Cache"] == "miss"
    now[0] += ROUTES[route].ttl + 30  # past the fresh TTL, within the stale window
    cache.clear_local()
    stale = client.get(url, headers=headers)
    assert stale.headers["X-Cache"] == "stale" and stale.get_data() == first.get_data()
    assert cache.wait_for_refreshes(5)
    assert cache.stats()["local"]["refresh"] == 1 and cache.stats()["local"]["refresh_error"] == 0
    cache.clear_local()
    refreshed = client.get(url, headers=headers)
    assert refreshed.headers["X-Cache"] == "hit"
    assert refreshed.get_data() == first.get_data()  # replayed as the same variant, not the default one
