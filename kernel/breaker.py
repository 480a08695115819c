"""A circuit breaker for one backing store in one process: a hung store costs a request milliseconds.

Without it, every thread that touches a hung store (Redis SIGSTOPped, a PostgreSQL stuck on I/O) waits its
full socket timeout, so a few seconds of hang fill every gunicorn thread and even requests that need no
store queue behind them. The breaker counts the store's *connectivity* failures (the adapter names which
exception types those are: timeouts, refused or reset connections; an error *answer* such as a script
error proves the store is alive) and:

* **closed**: calls pass. ``failure_threshold`` consecutive failures within ``window_seconds`` open it;
  any success resets the streak.
* **open**: calls fail at once with the adapter's ``open_error`` (a ``kernel.errors.StoreUnavailable``:
  HTTP 503 with ``Retry-After``) for ``cooldown_seconds``.
* **half-open**: after the cool-down exactly one probe reaches the store. Its success closes the breaker,
  its failure opens it for another cool-down; meanwhile every other call fails at once. With a
  ``background_probe`` (e.g. a PING) the probe runs on its own thread, so no request ever waits on a
  store that was hung a moment ago; without one the first caller is the probe.

One breaker per store per process (gunicorn workers each have their own), shared by every client of that
store in the process; thread-safe. Store-agnostic: ``kernel.redis`` wraps Redis clients with it, and a
PostgreSQL pool can wrap its connections' execution the same way with its own ``failure_types``.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from kernel.errors import StoreUnavailable

log = logging.getLogger("msb.breaker")

T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(
        self,
        store: str,
        *,
        failure_types: tuple[type[BaseException], ...],
        open_error: Callable[[str, int], BaseException] = StoreUnavailable,
        failure_threshold: int = 3,
        window_seconds: float = 5.0,
        cooldown_seconds: float = 1.0,
        probe_lease_seconds: float = 5.0,
        background_probe: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or cooldown_seconds <= 0 or window_seconds <= 0:
            raise ValueError("failure_threshold ≥ 1, window_seconds > 0 and cooldown_seconds > 0")
        self.store = store
        self.failure_types = failure_types
        self.failure_threshold = failure_threshold
        self.window_seconds = window_seconds
        self.cooldown_seconds = cooldown_seconds
        # A probe that never reports (its thread died, a call without a socket timeout) must not keep the
        # breaker half-open forever: after this long another probe may go.
        self.probe_lease_seconds = probe_lease_seconds
        self.background_probe = background_probe
        self._open_error = open_error
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures: deque[float] = deque()
        self._opened_at = 0.0
        self._probe_started_at: float | None = None
        self._last_failure: str | None = None
        self.times_opened = 0

    # -- calls ----------------------------------------------------------------------------------

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` through the breaker: raises ``open_error`` at once while open."""
        is_probe = self._admit()
        try:
            result = fn(*args, **kwargs)
        except BaseException as error:
            self._settle(error, is_probe)
            raise
        self._answered(is_probe)
        return result

    @contextmanager
    def guarding(self) -> Iterator[None]:
        """``call`` for a block (a database transaction): the block's connectivity failures count."""
        is_probe = self._admit()
        try:
            yield
        except BaseException as error:
            self._settle(error, is_probe)
            raise
        self._answered(is_probe)

    def _settle(self, error: BaseException, is_probe: bool) -> None:
        if isinstance(error, self.failure_types):
            self._failed(error, is_probe)
        else:
            # Not a connectivity failure: the store answered (an error reply) or was never reached.
            self._answered(is_probe)

    # -- state ----------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """closed | open | half_open (open whose cool-down is over reads as half_open)."""
        with self._lock:
            if self._state == OPEN and self._clock() - self._opened_at >= self.cooldown_seconds:
                return HALF_OPEN
            return self._state

    def snapshot(self) -> dict[str, Any]:
        """For logs and diagnosis: state, the current failure streak, the last failure's class."""
        state = self.state
        with self._lock:
            return {"state": state, "consecutive_failures": len(self._failures),
                    "last_failure": self._last_failure, "times_opened": self.times_opened}

    def retry_after_seconds(self) -> int:
        """Whole seconds until a probe may go (at least 1): the ``Retry-After`` of a refusal."""
        with self._lock:
            return self._retry_after(self._clock())

    # -- internals (callers hold no lock) ---------------------------------------------------------

    def _retry_after(self, now: float) -> int:
        remaining = self.cooldown_seconds - (now - self._opened_at) if self._state == OPEN else 0.0
        return max(1, math.ceil(remaining))

    def _refusal(self) -> BaseException:
        return self._open_error(self.store, self._retry_after(self._clock()))

    def _probe_running(self, now: float) -> bool:
        return self._probe_started_at is not None and now - self._probe_started_at < self.probe_lease_seconds

    def _admit(self) -> bool:
        """True when this call is the half-open probe; raises while open or while another probe runs."""
        with self._lock:
            if self._state == CLOSED:
                return False
            now = self._clock()
            if self._state == OPEN and now - self._opened_at < self.cooldown_seconds:
                raise self._refusal()
            if self._probe_running(now):
                raise self._refusal()
            self._state = HALF_OPEN
            self._probe_started_at = now
            background = self.background_probe
            if background is not None:
                threading.Thread(target=self._run_background_probe, args=(background,),
                                 name=f"{self.store}-breaker-probe", daemon=True).start()
                raise self._refusal()
            return True

    def _run_background_probe(self, probe: Callable[[], Any]) -> None:
        try:
            probe()
        except self.failure_types as error:
            self._failed(error, True)
        except Exception as error:  # noqa: BLE001 - an error answer still proves the store is reachable
            log.debug("breaker probe answered with an error", extra={"fields": {"store": self.store,
                                                                                 "error_class": type(error).__name__}})
            self._answered(True)
        else:
            self._answered(True)

    def _failed(self, error: BaseException, is_probe: bool) -> None:
        with self._lock:
            now = self._clock()
            self._last_failure = type(error).__name__
            if is_probe or self._state == HALF_OPEN:
                self._open(now, reason="probe failed" if is_probe else "call failed while probing")
                return
            if self._state == OPEN:
                return  # a call admitted before the breaker opened, failing late
            self._failures.append(now)
            while self._failures and now - self._failures[0] > self.window_seconds:
                self._failures.popleft()
            if len(self._failures) >= self.failure_threshold:
                self._open(now, reason=f"{len(self._failures)} consecutive failures")

    def _open(self, now: float, *, reason: str) -> None:
        was = self._state
        self._state = OPEN
        self._opened_at = now
        self._probe_started_at = None
        self._failures.clear()
        if was == CLOSED:
            self.times_opened += 1
            log.warning("circuit breaker opened: failing fast", extra={"fields": {
                "store": self.store, "reason": reason, "error_class": self._last_failure,
                "cooldown_seconds": self.cooldown_seconds}})

    def _answered(self, is_probe: bool) -> None:
        with self._lock:
            if self._state == CLOSED:
                self._failures.clear()
            elif is_probe:
                self._state = CLOSED
                self._failures.clear()
                self._probe_started_at = None
                log.warning("circuit breaker closed: store answering again", extra={"fields": {"store": self.store}})
            # A late success of a call admitted before the breaker opened proves little: only the probe closes it.
