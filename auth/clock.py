"""Injectable time source.

Every expiry in this package (tokens, refresh families, SMS codes, rate-limit windows, lockouts) is
decided against this clock, never against Redis TTLs: TTLs only garbage-collect. That keeps the
tests deterministic (``FixedClock.advance``) without sleeping.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from typing import Protocol

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""


class SystemClock:
    def now(self) -> float:
        return time.time()


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


def china_today(clock: Clock) -> date:
    """The calendar date in China (UTC+8): birthdays and ages turn over at Beijing midnight."""
    return datetime.fromtimestamp(clock.now(), tz=CHINA_STANDARD_TIME).date()
