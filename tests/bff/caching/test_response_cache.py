"""ResponseCache against the real Redis: variants, TTL + jitter, stale-while-revalidate,
stampede protection across instances and processes, tags, private refusal, Redis outages."""
from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
import zlib

import pytest

from kernel.redis import redis_client as open_redis
from tests.redis_mode import single_redis_only

from bff.caching.response_keys import Variant, entry_key
from bff.caching.response_store import PrivateResponseRefused, ResponseCache, etag_for
from bff.caching.response_keys import CHANNELS, LANGUAGES, MODES, STATS_KEY, RoutePolicy, lock_key

PARAMS = {"q": "养老金", "region": "150102"}
V = Variant()


def run_together(n: int, target) -> list:
    """Start ``n`` threads behind a barrier; return their results in order (re-raising errors)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    if errors:
        raise errors[0]
    return results


# -- basics -----------------------------------------------------------------------------------

def test_miss_then_local_then_redis_hit_with_precomputed_etag(make_cache, counting):
    compute = counting({"items": ["养老"], "total": 1})
    cache = make_cache()
    first = cache.get_or_compute("items.search", PARAMS, V, compute)
    assert first.status == "miss"
    assert first.body == json.dumps({"items": ["养老"], "total": 1}, ensure_ascii=False, separators=(",", ":")).encode()
    assert first.etag == etag_for(first.body) and len(first.etag) == 32
    assert first.payload == {"items": ["养老"], "total": 1}
    assert cache.get_or_compute("items.search", PARAMS, V, compute).status == "local"
    cache.clear_local()
    hit = cache.get_or_compute("items.search", PARAMS, V, compute)
    assert (hit.status, hit.body, hit.etag) == ("hit", first.body, first.etag)
    assert compute.calls == 1
    # a 304 needs only the stored ETag; weak and list forms match
    assert hit.matches(f'W/"{hit.etag}"') and hit.matches(f'"x", "{hit.etag}"') and hit.matches("*")
    assert not hit.matches('"other"') and not hit.matches(None)


def test_bytes_from_compute_are_stored_verbatim(make_cache):
    cache = make_cache()
    result = cache.get_or_compute("themes.list", {}, V, lambda: b'{"themes":[]}')
    assert result.body == b'{"themes":[]}' and result.etag == etag_for(b'{"themes":[]}')


def test_large_bodies_are_compressed_in_redis(make_cache, redis_server):
    cache = make_cache(local_maxsize=0)
    payload = {"items": [{"name": "城乡居民基本养老保险待遇申领", "n": i} for i in range(200)]}
    first = cache.get_or_compute("items.search", PARAMS, V, lambda: payload)
    raw = open_redis(redis_server.url, decode_responses=False).get(entry_key("items.search", PARAMS, V))
    header, _, stored = raw.partition(b"\n")
    assert json.loads(header)["z"] == 1
    assert zlib.decompress(stored) == first.body and len(stored) < len(first.body) / 3
    again = cache.get_or_compute("items.search", PARAMS, V, lambda: pytest.fail("recomputed"))
    assert again.status == "hit" and again.body == first.body and again.etag == first.etag


def test_compute_errors_propagate_and_store_nothing(make_cache, redis_client, counting):
    cache = make_cache()

    def broken():
        raise RuntimeError("catalogue down")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("items.detail", {"code": "B0096"}, V, broken)
    assert list(redis_client.scan_iter("bff:c:v*")) == []
    assert list(redis_client.scan_iter("bff:c:lock:*")) == []  # lock released
    assert cache.get_or_compute("items.detail", {"code": "B0096"}, V, counting()).status == "miss"


def test_unknown_route_is_refused(make_cache):
    with pytest.raises(ValueError):
        make_cache().get_or_compute("me.profile", {}, V, dict)


# -- variant isolation ------------------------------------------------------------------------

def test_channel_mode_language_never_share_entries(make_cache, redis_client):
    variants = [Variant(c, m, lang) for c in CHANNELS for m in MODES for lang in LANGUAGES]
    writer = make_cache()
    for variant in variants:
        payload = {"for": [variant.channel, variant.mode, variant.language]}
        result = writer.get_or_compute("items.search", PARAMS, variant, lambda p=payload: p)
        assert result.status == "miss"
    assert len(list(redis_client.scan_iter("bff:c:v*"))) == len(variants) == 16
    reader = make_cache()  # another process's view: no local layer content
    for variant in variants:
        result = reader.get_or_compute("items.search", PARAMS, variant, lambda: pytest.fail("recomputed"))
        assert result.status == "hit"
        assert result.payload == {"for": [variant.channel, variant.mode, variant.language]}


# -- TTL and jitter ----------------------------------------------------------------------------

@pytest.mark.parametrize("draw, expected_fresh", [(0.0, 300.0), (0.5, 285.0), (0.999999, 270.0)])
def test_jitter_only_shortens_the_stated_ttl(make_cache, redis_client, clock, draw, expected_fresh):
    cache = make_cache(clock=clock, rng=lambda: draw)
    result = cache.get_or_compute("items.search", PARAMS, V, dict)
    assert result.fresh_for == pytest.approx(expected_fresh, abs=0.01)
    pttl = redis_client.pttl(entry_key("items.search", PARAMS, V)) / 1000
    assert expected_fresh + 3600 - 1 <= pttl <= expected_fresh + 3600


def test_random_jitter_stays_within_bounds(make_cache, redis_client, clock):
    cache = make_cache(clock=clock)
    policy = RoutePolicy(ttl=100, stale=50, jitter=0.2)
    fresh = [cache.get_or_compute("items.hot", {"limit": n}, V, dict, policy=policy).fresh_for for n in range(40)]
    assert all(80 <= f <= 100 for f in fresh)
    assert len({round(f, 3) for f in fresh}) > 10  # actually spread
    for n in range(40):
        pttl = redis_client.pttl(entry_key("items.hot", {"limit": n}, V)) / 1000
        assert 80 + 50 - 1 <= pttl <= 100 + 50


def test_entry_lifecycle_fresh_stale_gone(make_cache, clock, counting):
    compute = counting(lambda call: {"version": call})
    cache = make_cache(clock=clock, rng=lambda: 0.0, local_ttl=1.0)
    policy = RoutePolicy(ttl=10, stale=20)
    assert cache.get_or_compute("items.hot", {}, V, compute, policy=policy).status == "miss"
    clock.advance(0.5)
    assert cache.get_or_compute("items.hot", {}, V, compute, policy=policy).status == "local"
    clock.advance(1.0)  # local layer expired, Redis entry still fresh
    assert cache.get_or_compute("items.hot", {}, V, compute, policy=policy).status == "hit"
    clock.advance(40)   # past stale_until: a plain miss
    result = cache.get_or_compute("items.hot", {}, V, compute, policy=policy)
    assert (result.status, result.payload) == ("miss", {"version": 2})


# -- stale-while-revalidate ---------------------------------------------------------------------

def test_stale_is_served_while_exactly_one_background_refresh_runs(make_cache, clock, counting):
    compute = counting(lambda call: {"version": call}, delay=0.5)
    policy = RoutePolicy(ttl=10, stale=60)
    caches = [make_cache(clock=clock, rng=lambda: 0.0), make_cache(clock=clock, rng=lambda: 0.0)]
    assert caches[0].get_or_compute("items.hot", {}, V, compute, policy=policy).payload == {"version": 1}
    clock.advance(15)  # stale now

    started = time.monotonic()
    results = run_together(20, lambda i: caches[i % 2].get_or_compute("items.hot", {}, V, compute, policy=policy))
    assert time.monotonic() - started < 0.45  # nobody waited for the 0.5 s recompute
    assert {r.status for r in results} == {"stale"}
    assert {r.body for r in results} == {b'{"version":1}'}

    assert all(c.wait_for_refreshes(5) for c in caches)
    assert compute.calls == 2  # the first fill and exactly ONE refresh across both instances
    for cache in caches:
        fresh = cache.get_or_compute("items.hot", {}, V, compute, policy=policy)
        assert fresh.status in ("hit", "local") and fresh.payload == {"version": 2}
    stats = [c.stats()["local"] for c in caches]
    assert sum(s["refresh"] for s in stats) == 1


def test_failed_background_refresh_keeps_serving_stale(make_cache, clock):
    policy = RoutePolicy(ttl=10, stale=60)
    cache = make_cache(clock=clock, rng=lambda: 0.0)
    cache.get_or_compute("items.hot", {}, V, lambda: {"ok": True}, policy=policy)
    clock.advance(15)

    def broken():
        raise RuntimeError("index being rebuilt")

    assert cache.get_or_compute("items.hot", {}, V, broken, policy=policy).status == "stale"
    assert cache.wait_for_refreshes(5)
    again = cache.get_or_compute("items.hot", {}, V, broken, policy=policy)
    assert (again.status, again.payload) == ("stale", {"ok": True})
    assert cache.wait_for_refreshes(5)
    assert cache.stats()["local"]["refresh_error"] == 2


# -- stampede ---------------------------------------------------------------------------------

def test_stampede_twenty_threads_two_instances_one_compute(make_cache, counting, redis_client):
    compute = counting({"answer": 42}, delay=0.3)
    caches = [make_cache(), make_cache()]
    results = run_together(20, lambda i: caches[i % 2].get_or_compute("home", {"region": "150102"}, V, compute))
    assert compute.calls == 1
    assert len({r.body for r in results}) == 1 and len({r.etag for r in results}) == 1
    statuses = sorted(r.status for r in results)
    assert statuses.count("miss") == 1
    assert set(statuses) <= {"miss", "coalesced", "waited"}
    assert "waited" in statuses  # the other instance's leader really waited on the Redis lock
    assert list(redis_client.scan_iter("bff:c:lock:*")) == []


def _process_worker(url: str, start, threads: int, failures) -> None:
    try:
        cache = ResponseCache(url)
        counter = open_redis(url, decode_responses=False)

        def compute():
            counter.incr("test:computes")
            time.sleep(0.4)
            return {"computed_by": os.getpid()}

        barrier = threading.Barrier(threads)
        bodies = []

        def run():
            barrier.wait()
            bodies.append(cache.get_or_compute("items.search", PARAMS, V, compute).body)

        start.wait(10)
        workers = [threading.Thread(target=run) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(10)
        if len(bodies) != threads or len(set(bodies)) != 1:
            failures.put(f"{os.getpid()}: {len(bodies)} answers, {len(set(bodies))} distinct")
    except BaseException as error:  # noqa: BLE001
        failures.put(repr(error))


def test_stampede_across_processes_one_compute(redis_server, redis_client):
    ctx = multiprocessing.get_context("fork")
    start, failures = ctx.Event(), ctx.Queue()
    processes = [ctx.Process(target=_process_worker, args=(redis_server.url, start, 4, failures)) for _ in range(3)]
    for p in processes:
        p.start()
    start.set()
    for p in processes:
        p.join(15)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    assert failures.empty(), failures.get()
    assert int(redis_client.get("test:computes")) == 1


def test_lock_release_only_deletes_our_own_lock(make_cache, redis_client):
    cache = make_cache()
    lock = lock_key(entry_key("home", {}, V))
    redis_client.set(lock, "someone-else", px=5000)
    cache._release(lock, "my-token")
    assert redis_client.get(lock) == "someone-else"
    cache._release(lock, "someone-else")
    assert redis_client.get(lock) is None


def test_loser_computes_itself_after_the_lock_wait(make_cache, redis_client, counting):
    compute = counting()
    cache = make_cache(wait_timeout=0.2)
    redis_client.set(lock_key(entry_key("home", {}, V)), "a-crashed-holder", px=5000)
    result = cache.get_or_compute("home", {}, V, compute)
    assert (result.status, compute.calls) == ("bypass", 1)
    assert cache.stats()["local"]["lock_timeout"] == 1


# -- tags ---------------------------------------------------------------------------------------

def test_invalidate_tag_makes_every_entry_of_the_tag_recompute(make_cache, counting):
    compute = counting(lambda call: {"version": call})
    cache, other = make_cache(), make_cache()
    cache.get_or_compute("items.search", PARAMS, V, compute)
    cache.get_or_compute("home", {}, V, compute)
    assert compute.calls == 2
    assert cache.invalidate_tag("home") == 1
    assert other.get_or_compute("items.search", PARAMS, V, compute).status == "hit"  # not tagged "home"
    home = other.get_or_compute("home", {}, V, compute)
    assert (home.status, home.payload) == ("miss", {"version": 3})

    assert cache.invalidate_tag("catalog") == 1
    other.clear_local()  # another process's local layer: it lets go within LOCAL_TTL_SECONDS
    first = cache.get_or_compute("items.search", PARAMS, V, compute)
    assert first.status == "miss" and first.payload == {"version": 4}
    assert other.get_or_compute("items.search", PARAMS, V, compute).status == "hit"
    assert cache.get_or_compute("home", {}, V, compute).status == "miss"
    assert compute.calls == 5


def test_invalidated_entry_is_not_served_stale(make_cache, clock):
    cache = make_cache(clock=clock, rng=lambda: 0.0)
    policy = RoutePolicy(ttl=10, stale=600)
    cache.get_or_compute("items.hot", {}, V, lambda: {"v": "old"}, policy=policy)
    clock.advance(15)
    cache.invalidate_tag("catalog")
    result = cache.get_or_compute("items.hot", {}, V, lambda: {"v": "new"}, policy=policy)
    assert (result.status, result.payload) == ("miss", {"v": "new"})


# -- private -----------------------------------------------------------------------------------

def test_private_responses_are_refused(make_cache, redis_client, counting):
    compute = counting({"id_number": "150102********1234"})
    with pytest.raises(PrivateResponseRefused):
        make_cache().get_or_compute("home", {"account": "a1"}, V, compute, private=True)
    assert compute.calls == 0
    assert list(redis_client.scan_iter("*")) == []


# -- Redis outages -----------------------------------------------------------------------------

@single_redis_only
def test_redis_stopped_mid_test_then_back_without_a_new_instance(make_cache, redis_server, counting):
    compute = counting(lambda call: {"call": call})
    cache = make_cache(retry_interval=0.05)
    assert cache.get_or_compute("items.search", PARAMS, V, compute).status == "miss"
    assert cache.available

    redis_server.stop()
    try:
        cache.clear_local()
        started = time.monotonic()
        down = [cache.get_or_compute("items.search", {"q": f"x{i}"}, V, compute) for i in range(5)]
        assert time.monotonic() - started < 1.0  # fails fast, no retry backoff
        assert {r.status for r in down} == {"bypass"}
        assert [r.payload["call"] for r in down] == [2, 3, 4, 5, 6]  # computed directly, every time
        assert cache.available is False
        assert cache.invalidate_tag("catalog") is None  # queued, not raised
        stats = cache.stats()
        assert stats["shared"] is None and stats["local"]["bypass"] == 5
    finally:
        redis_server.start()

    time.sleep(0.06)  # the retry interval
    resumed = cache.get_or_compute("items.search", {"q": "after"}, V, compute)
    assert resumed.status == "miss" and cache.available is True
    cache.clear_local()
    assert cache.get_or_compute("items.search", {"q": "after"}, V, compute).status == "hit"
    # the invalidation queued while Redis was down was applied on recovery
    assert cache.get_or_compute("items.search", PARAMS, V, compute).status == "miss"


def test_redis_down_from_the_start(counting):
    compute = counting()
    cache = ResponseCache("redis://127.0.0.1:1/0")
    assert cache.get_or_compute("home", {}, V, compute).status == "bypass"
    assert cache.available is False and cache.ping() is False
    cache.close()


def test_client_with_decoded_responses_is_accepted(redis_server, redis_client):
    cache = ResponseCache(client=redis_client)  # decode_responses=True, as in bff.extensions
    assert cache.get_or_compute("home", {}, V, lambda: {"a": 1}).status == "miss"
    cache.clear_local()
    assert cache.get_or_compute("home", {}, V, lambda: {"a": 2}).payload == {"a": 1}
    with pytest.raises(ValueError):
        ResponseCache()


# -- counters ------------------------------------------------------------------------------------

def test_hit_miss_stale_counters_local_and_in_redis(make_cache, redis_client, clock):
    cache = make_cache(clock=clock, rng=lambda: 0.0)
    policy = RoutePolicy(ttl=10, stale=60)
    cache.get_or_compute("items.hot", {}, V, dict, policy=policy)       # miss
    cache.get_or_compute("items.hot", {}, V, dict, policy=policy)       # local
    cache.clear_local()
    cache.get_or_compute("items.hot", {}, V, dict, policy=policy)       # hit
    clock.advance(15)
    cache.get_or_compute("items.hot", {}, V, dict, policy=policy)       # stale
    cache.wait_for_refreshes()
    stats = cache.stats()
    local = stats["local"]
    assert (local["miss"], local["local"], local["hit"], local["stale"], local["refresh"]) == (1, 1, 1, 1, 1)
    assert stats["hit_ratio"] == pytest.approx(3 / 4)
    shared = {k: int(v) for k, v in redis_client.hgetall(STATS_KEY).items()}
    assert shared == stats["shared"]
    assert shared["miss"] == 1 and shared["hit"] == 1 and shared["stale"] == 1 and shared["local"] == 1
