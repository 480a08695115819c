"""The circuit breaker on a fake clock: closed → open → half-open → closed/open, thread-safe probing."""
from __future__ import annotations

import threading

import pytest

from kernel.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from kernel.errors import StoreUnavailable


class Hung(Exception):
    """Stands for a store's timeout."""


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def failing():
    raise Hung()


def make(clock, **policy) -> CircuitBreaker:
    return CircuitBreaker("store", failure_types=(Hung,), clock=clock,
                          **{"failure_threshold": 3, "window_seconds": 5.0, "cooldown_seconds": 1.0, **policy})


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        with pytest.raises(Hung):
            breaker.call(failing)


def test_opens_after_consecutive_failures_then_refuses_at_once_with_retry_after():
    clock = FakeClock()
    breaker = make(clock)
    fail(breaker, 2)
    assert breaker.state == CLOSED
    fail(breaker, 1)
    assert breaker.state == OPEN
    calls = []
    with pytest.raises(StoreUnavailable) as refused:
        breaker.call(calls.append, 1)
    assert calls == []  # the store was not touched
    assert refused.value.http_status == 503 and refused.value.code == "store_unavailable"
    assert refused.value.headers == {"Retry-After": "1"} and refused.value.details == {"store": "store"}


def test_a_success_breaks_the_streak_and_old_failures_leave_the_window():
    clock = FakeClock()
    breaker = make(clock)
    fail(breaker, 2)
    assert breaker.call(lambda: "ok") == "ok"
    fail(breaker, 2)
    assert breaker.state == CLOSED
    clock.now += 6  # the two failures are older than the window
    fail(breaker, 2)
    assert breaker.state == CLOSED
    fail(breaker, 1)
    assert breaker.state == OPEN


def test_error_answers_are_not_failures():
    breaker = make(FakeClock())
    for _ in range(5):
        with pytest.raises(ValueError):
            breaker.call(lambda: (_ for _ in ()).throw(ValueError("script error")))
    assert breaker.state == CLOSED


def test_half_open_lets_one_probe_through_which_closes_or_reopens():
    clock = FakeClock()
    breaker = make(clock)
    fail(breaker, 3)
    clock.now += 1.0
    assert breaker.state == HALF_OPEN
    fail(breaker, 1)  # the probe failed: open for another cool-down
    assert breaker.state == OPEN
    with pytest.raises(StoreUnavailable):
        breaker.call(lambda: "ok")
    clock.now += 1.0
    assert breaker.call(lambda: "ok") == "ok"  # the probe answered
    assert breaker.state == CLOSED
    assert breaker.snapshot() == {"state": CLOSED, "consecutive_failures": 0, "last_failure": "Hung",
                                  "times_opened": 1}


def test_while_the_probe_runs_every_other_call_is_refused():
    clock = FakeClock()
    breaker = make(clock)
    fail(breaker, 3)
    clock.now += 1.0
    probe_inside, release = threading.Event(), threading.Event()
    results: list[str] = []

    def slow_probe():
        probe_inside.set()
        release.wait(5)
        return "probe"

    probe = threading.Thread(target=lambda: results.append(breaker.call(slow_probe)))
    probe.start()
    assert probe_inside.wait(5)
    with pytest.raises(StoreUnavailable):
        breaker.call(lambda: "second")
    release.set()
    probe.join(5)
    assert results == ["probe"] and breaker.state == CLOSED


def test_a_probe_that_never_reports_loses_its_lease():
    clock = FakeClock()
    breaker = make(clock, probe_lease_seconds=3.0)
    fail(breaker, 3)
    clock.now += 1.0
    breaker._admit()  # a probe admitted whose thread then vanished  # noqa: SLF001
    with pytest.raises(StoreUnavailable):
        breaker.call(lambda: "ok")
    clock.now += 3.0
    assert breaker.call(lambda: "ok") == "ok" and breaker.state == CLOSED


def test_background_probe_runs_off_the_request_and_closes_the_breaker():
    clock = FakeClock()
    pinged = threading.Event()
    breaker = make(clock, background_probe=pinged.set)
    fail(breaker, 3)
    clock.now += 1.0
    with pytest.raises(StoreUnavailable):  # the caller never waits for the probe
        breaker.call(lambda: "ok")
    assert pinged.wait(5)
    for _ in range(100):
        if breaker.state == CLOSED:
            break
        threading.Event().wait(0.01)
    assert breaker.call(lambda: "ok") == "ok" and breaker.state == CLOSED


def test_failing_background_probe_reopens():
    clock = FakeClock()
    done = threading.Event()

    def probe():
        done.set()
        raise Hung()

    breaker = make(clock, background_probe=probe)
    fail(breaker, 3)
    clock.now += 1.0
    with pytest.raises(StoreUnavailable):
        breaker.call(lambda: "ok")
    assert done.wait(5)
    for _ in range(100):
        if breaker.state == OPEN:
            break
        threading.Event().wait(0.01)
    assert breaker.state == OPEN and breaker.retry_after_seconds() == 1


def test_concurrent_failures_open_once():
    breaker = make(FakeClock(), failure_threshold=5)
    barrier = threading.Barrier(20)

    def worker():
        barrier.wait()
        try:
            breaker.call(failing)
        except (Hung, StoreUnavailable):
            pass

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert breaker.state == OPEN and breaker.times_opened == 1
