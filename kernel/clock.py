"""Injectable time, and China's one time zone.

Every expiry and time-of-day decision (tokens, codes, rate-limit windows, quiet hours, calendar-day
caps, schedules) is made against an injected ``Clock``, never against Redis TTLs, which only garbage-
collect. Tests move time with ``FixedClock.advance`` instead of sleeping. China has one time zone and
no daylight saving: the IANA zone when the host has tzdata, a fixed UTC+8 otherwise (same results).
"""
from __future__ import annotations

import time as _time
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Protocol

try:
    from zoneinfo import ZoneInfo

    SHANGHAI: tzinfo = ZoneInfo("Asia/Shanghai")
except Exception:  # pragma: no cover - no tzdata on the host
    SHANGHAI = timezone(timedelta(hours=8), "CST")

# Kept for callers that name the fixed offset; identical to SHANGHAI for every date since 1991.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""


class SystemClock:
    def now(self) -> float:
        return _time.time()


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


def local(clock_or_ts: Clock | float) -> datetime:
    """Wall-clock time in Beijing."""
    ts = clock_or_ts if isinstance(clock_or_ts, (int, float)) else clock_or_ts.now()
    return datetime.fromtimestamp(ts, SHANGHAI)


def china_today(clock: Clock) -> date:
    """The calendar date in China: birthdays, ages, caps and quotas turn over at Beijing midnight."""
    return local(clock).date()


def day_key(ts: float) -> str:
    """Calendar day in Beijing as ``YYYYMMDD``."""
    return local(ts).strftime("%Y%m%d")


def minute(ts: float) -> int:
    """Start of the minute (epoch seconds) for per-minute series."""
    return int(ts) - int(ts) % 60


def parse_hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def quiet_until(ts: float, start: str, end: str) -> float | None:
    """If ``ts`` falls in the quiet window [start, end) (local time, may wrap midnight, e.g.
    22:00–08:00), the epoch seconds when it ends; else None."""
    start_t, end_t = parse_hhmm(start), parse_hhmm(end)
    if start_t == end_t:
        return None
    now = local(ts)
    today_end = datetime.combine(now.date(), end_t, SHANGHAI)
    if start_t < end_t:  # same-day window, e.g. 12:00–14:00
        if start_t <= now.time() < end_t:
            return today_end.timestamp()
        return None
    if now.time() >= start_t:  # wraps midnight
        return (today_end + timedelta(days=1)).timestamp()
    if now.time() < end_t:
        return today_end.timestamp()
    return None


def shanghai_ts(year: int, month: int, day: int, hour: int = 0, minute_: int = 0) -> float:
    """Epoch seconds of a Beijing wall-clock time (tests and schedules)."""
    return datetime(year, month, day, hour, minute_, tzinfo=SHANGHAI).timestamp()


def instant(epoch_seconds: float | None) -> datetime | None:
    """Epoch seconds (the clock's unit) as the UTC datetime a PostgreSQL timestamptz takes; None stays None."""
    return None if epoch_seconds is None else datetime.fromtimestamp(epoch_seconds, timezone.utc)


def epoch(moment: datetime | None) -> float | None:
    """A timestamptz read back as epoch seconds; None stays None."""
    return None if moment is None else moment.timestamp()
