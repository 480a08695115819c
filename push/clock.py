"""Injectable time for ``push/``: epoch seconds from ``auth.clock`` plus Asia/Shanghai local time.

Every decision that depends on the time of day (quiet hours, calendar-day frequency caps and channel
quotas, schedule windows, retry due times) reads the injected clock, so tests move time with
``FixedClock.advance`` instead of sleeping. China has one time zone and no daylight saving; the
IANA zone is used when the system has tzdata, a fixed UTC+8 otherwise (identical results).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo

from auth.clock import Clock, FixedClock, SystemClock  # noqa: F401  (re-exported for callers)

try:
    from zoneinfo import ZoneInfo

    SHANGHAI: tzinfo = ZoneInfo("Asia/Shanghai")
except Exception:  # pragma: no cover - no tzdata on the host
    SHANGHAI = timezone(timedelta(hours=8), "CST")


def local(clock_or_ts: Clock | float) -> datetime:
    ts = clock_or_ts if isinstance(clock_or_ts, (int, float)) else clock_or_ts.now()
    return datetime.fromtimestamp(ts, SHANGHAI)


def day_key(ts: float) -> str:
    """Calendar day in Beijing as ``YYYYMMDD``: caps and quotas turn over at Beijing midnight."""
    return local(ts).strftime("%Y%m%d")


def local_today(clock: Clock) -> date:
    return local(clock).date()


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
    # wraps midnight
    if now.time() >= start_t:
        return (today_end + timedelta(days=1)).timestamp()
    if now.time() < end_t:
        return today_end.timestamp()
    return None


def shanghai_ts(year: int, month: int, day: int, hour: int = 0, minute_: int = 0) -> float:
    """Epoch seconds of a Beijing wall-clock time (tests and schedules)."""
    return datetime(year, month, day, hour, minute_, tzinfo=SHANGHAI).timestamp()
