"""In-memory building blocks shared by every stand-in: the movable clock,
single-use codes with a TTL, sliding-window counters, call counters and
failure injection.

Nothing here is thread-safe on its own: every caller holds `Sandbox.lock`
(one gunicorn worker, several threads), which keeps each request's
check-then-act sequences atomic without per-structure locks.
"""

from __future__ import annotations

import secrets
import string
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Protocol

ALNUM = string.ascii_letters + string.digits

# Codes nobody asked about for this long after expiry are dropped, so a
# long-running dev sandbox does not grow without bound.
_CODE_RETENTION_SECONDS = 86_400


def random_token(length: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def request_id() -> str:
    return secrets.token_hex(16)


class SandboxClock:
    """Wall clock (or an injected one) plus an offset moved by the drive API,
    so tests can expire codes and tokens without sleeping."""

    def __init__(self, base: Callable[[], float]) -> None:
        self._base = base
        self.offset_seconds = 0.0

    def now(self) -> float:
        return self._base() + self.offset_seconds

    def advance(self, seconds: float) -> float:
        self.offset_seconds += seconds
        return self.now()

    def reset(self) -> None:
        self.offset_seconds = 0.0


class CodeOutcome(Enum):
    OK = "ok"
    USED = "used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass
class IssuedCode:
    kind: str
    payload: dict[str, Any]
    expires_at: float
    used_at: float | None = None


class CodeStore:
    """Single-use codes with a TTL: WeChat login and phone codes, Alipay auth
    codes, SSO tickets, face tokens. `kind` keeps families apart: a login
    code presented as a phone code is simply unknown, as upstream treats it."""

    def __init__(self, clock: SandboxClock) -> None:
        self._clock = clock
        self._codes: dict[str, IssuedCode] = {}

    def issue(self, kind: str, payload: dict[str, Any], ttl_seconds: float, length: int = 32) -> str:
        self._prune()
        code = random_token(length)
        self._codes[code] = IssuedCode(kind, payload, self._clock.now() + ttl_seconds)
        return code

    def peek(self, code: str, kind: str) -> tuple[CodeOutcome, dict[str, Any] | None]:
        """Classify without consuming, so a handler can refuse for another
        reason (rate limit, risky user) and leave the code usable."""
        issued = self._codes.get(code)
        if issued is None or issued.kind != kind:
            return CodeOutcome.UNKNOWN, None
        if issued.used_at is not None:
            return CodeOutcome.USED, issued.payload
        if self._clock.now() >= issued.expires_at:
            return CodeOutcome.EXPIRED, issued.payload
        return CodeOutcome.OK, issued.payload

    def consume(self, code: str) -> None:
        self._codes[code].used_at = self._clock.now()

    def redeem(self, code: str, kind: str) -> tuple[CodeOutcome, dict[str, Any] | None]:
        outcome, payload = self.peek(code, kind)
        if outcome is CodeOutcome.OK:
            self.consume(code)
        return outcome, payload

    def clear(self) -> None:
        self._codes.clear()

    def _prune(self) -> None:
        horizon = self._clock.now() - _CODE_RETENTION_SECONDS
        stale = [c for c, issued in self._codes.items() if issued.expires_at < horizon]
        for code in stale:
            del self._codes[code]


class EventWindows:
    """Timestamps of past events per key, for sliding-window rate limits
    (WeChat 100/min per user, SMS 1/min 5/h 10/day per phone)."""

    def __init__(self, clock: SandboxClock, horizon_seconds: float = 86_400) -> None:
        self._clock = clock
        self._horizon = horizon_seconds
        self._events: dict[Any, deque[float]] = {}

    def count(self, key: Any, window_seconds: float) -> int:
        since = self._clock.now() - window_seconds
        return sum(1 for t in self._events.get(key, ()) if t > since)

    def add(self, key: Any) -> None:
        now = self._clock.now()
        events = self._events.setdefault(key, deque())
        events.append(now)
        while events and events[0] <= now - self._horizon:
            events.popleft()

    def clear(self) -> None:
        self._events.clear()


@dataclass
class Fault:
    """One injected failure rule. `error` is merged into the target system's
    native error envelope (WeChat errcode/errmsg, Alipay code/sub_code, gov/SMS
    code/message); `raw_body` replaces the whole body (e.g. a proxy's 502 page)."""

    endpoint: str
    remaining: int | None  # None: until cleared
    error: dict[str, Any] = field(default_factory=dict)
    http_status: int | None = None
    delay_ms: int = 0
    raw_body: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "remaining": self.remaining,
            "error": self.error,
            "http_status": self.http_status,
            "delay_ms": self.delay_ms,
            "raw_body": self.raw_body,
        }


class FaultInjector:
    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def take(self, endpoint: str) -> Fault | None:
        """First matching rule, consuming one of its uses (FIFO across rules)."""
        for fault in self._faults:
            if fault.endpoint != endpoint:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
            return fault
        return None

    def describe(self) -> list[dict[str, Any]]:
        return [f.describe() for f in self._faults]

    def clear(self, endpoint: str | None = None) -> None:
        self._faults = [f for f in self._faults if endpoint is not None and f.endpoint != endpoint]


class Resettable(Protocol):
    def reset(self) -> None: ...


class Sandbox:
    """Process-wide state of the sandbox server: one lock for everything,
    the clock, call counters, fault rules and the per-system stores."""

    def __init__(self, base_clock: Callable[[], float]) -> None:
        self.lock = threading.RLock()
        self.clock = SandboxClock(base_clock)
        self.counters: Counter[str] = Counter()
        self.faults = FaultInjector()
        self.known_endpoints: set[str] = set()
        self._stores: list[Resettable] = []

    def register_endpoints(self, *names: str) -> None:
        self.known_endpoints.update(names)

    def register_store(self, store: Resettable) -> None:
        self._stores.append(store)

    def enter(self, endpoint: str) -> Fault | None:
        """Count a call to an upstream endpoint and return the fault to
        inject for it, if any."""
        with self.lock:
            self.counters[endpoint] += 1
            return self.faults.take(endpoint)

    def reset(self) -> None:
        with self.lock:
            self.clock.reset()
            self.counters.clear()
            self.faults.clear()
            for store in self._stores:
                store.reset()
