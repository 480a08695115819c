"""Pure pieces: WeChat value rules, quiet-hours arithmetic, birth-month ranges, the token bucket,
settings from the environment."""
from __future__ import annotations

import time
from datetime import date

import pytest

from config import ConfigError, settings_for_tests
from kernel.clock import quiet_until, shanghai_ts
from push import keys
from push.audience import birth_months
from push.limits import RateLimiter
from push.settings import PushSettings
from push.templates import check_wechat_value


@pytest.mark.parametrize("key,value,ok", [
    ("thing1", "养老金资格认证", True), ("thing1", "一" * 20, True), ("thing1", "一" * 21, False), ("thing1", " ", False),
    ("phrase2", "待办理", True), ("phrase2", "已经受理完成了", False), ("phrase2", "ok", False),
    ("time3", "2019年10月1日 15:01", True), ("time3", "15:01", True), ("time3", "2026-03-02 09:00~2026-03-02 17:00", True),
    ("time3", "明天上午", False), ("date4", "2026年3月2日", True), ("date4", "03/02", False),
    ("character_string1", "NMG-2026-000123", True), ("character_string1", "内蒙古", False), ("character_string1", "x" * 33, False),
    ("number1", "12.5", True), ("number1", "1" * 33, False), ("letter1", "ABC", True), ("letter1", "AB1", False),
    ("amount1", "¥100.50", True), ("amount1", "100元", True), ("amount1", "一百元", False),
    ("phone_number1", "0471-1234567", True), ("car_number1", "蒙A12345", True), ("car_number1", "蒙A123456789", False),
    ("name1", "巴特尔", True), ("name1", "Bater Chen", True), ("name1", "巴特尔1", False), ("symbol1", "★", True),
    ("unknownkey1", "x", False), ("thing", "x", False),
])
def test_wechat_value_rules(key: str, value: str, ok: bool) -> None:
    assert (check_wechat_value(key, value) is None) is ok


def test_quiet_hours_wrap_midnight() -> None:
    assert quiet_until(shanghai_ts(2026, 3, 2, 21, 59), "22:00", "08:00") is None
    assert quiet_until(shanghai_ts(2026, 3, 2, 22, 0), "22:00", "08:00") == shanghai_ts(2026, 3, 3, 8, 0)
    assert quiet_until(shanghai_ts(2026, 3, 3, 3, 0), "22:00", "08:00") == shanghai_ts(2026, 3, 3, 8, 0)
    assert quiet_until(shanghai_ts(2026, 3, 3, 8, 0), "22:00", "08:00") is None
    assert quiet_until(shanghai_ts(2026, 3, 3, 12, 30), "12:00", "14:00") == shanghai_ts(2026, 3, 3, 14, 0)
    assert quiet_until(shanghai_ts(2026, 3, 3, 23, 0), "00:00", "00:00") is None  # disabled


def test_birth_months_cover_an_age_range() -> None:
    months = birth_months(date(2026, 3, 15), 60, 60)
    assert months[0] == "196503" and months[-1] == "196603"  # boundary months included (month precision)
    assert "196502" not in months and "196604" not in months
    assert len(birth_months(date(2026, 3, 15), 0, 130)) == 131 * 12 + 1


def test_token_bucket_is_shared_and_atomic(redis_client) -> None:
    slept: list[float] = []
    limiter = RateLimiter(redis_client, {"wechat": 20.0, "inbox": 0.0}, sleep=lambda s: (slept.append(s), time.sleep(s)))
    granted, wait = limiter.try_take("wechat", 25)
    assert granted == 20 and 0 < wait <= 0.05  # burst of one second's worth, then one token per 50 ms
    assert limiter.try_take("wechat", 1)[0] == 0
    started = time.monotonic()
    assert limiter.acquire("wechat", 10) == 10
    assert 0.4 <= time.monotonic() - started < 2.0 and slept  # waited for the refill at 20/s
    assert limiter.try_take("inbox", 10_000) == (10_000, 0.0)  # 0 = unlimited


def test_a_host_whose_clock_runs_ahead_stalls_no_dispatcher(redis_client, monkeypatch) -> None:
    """The bucket runs on the store's clock: a sender host an hour ahead neither stalls the others
    nor stalls itself, and a bucket stamped in the future (an older version's skewed write) refills."""
    honest = RateLimiter(redis_client, {"wechat": 20.0})
    ahead = RateLimiter(redis_client, {"wechat": 20.0})
    real_time = time.time

    def store_now() -> float:
        seconds, microseconds = redis_client.time()  # one TIME answer: two could straddle a second
        return seconds + microseconds / 1e6

    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)  # this host's clock: an hour ahead
    assert ahead.acquire("wechat", 20) == 20  # the full burst
    bucket = keys.rate_bucket("wechat")
    assert abs(float(redis_client.hget(bucket, "at")) - store_now()) < 5  # stamped with the store's time
    monkeypatch.setattr(time, "time", real_time)
    started = time.monotonic()
    for limiter in (honest, ahead, honest, ahead):  # both keep getting tokens at the shared rate
        assert limiter.acquire("wechat", 5) == 5
    assert time.monotonic() - started < 2.5  # 20 tokens at 20/s: about one second, not an hour

    redis_client.hset(bucket, mapping={"tokens": "0", "at": repr(store_now() + 3600)})  # a future stamp
    started = time.monotonic()
    assert honest.acquire("wechat", 5) == 5 and time.monotonic() - started < 1.5
    assert float(redis_client.hget(bucket, "at")) < store_now() + 1  # moved back to the store's now


def test_push_settings_from_env() -> None:
    base = settings_for_tests(sandbox_url="http://127.0.0.1:9")
    settings = PushSettings.from_env(base, {"MSB_PUSH_QUIET_HOURS": "23:00-07:30", "MSB_PUSH_RATE_WECHAT": "50",
                                            "MSB_PUSH_QUOTA_APP": "1000", "MSB_PUSH_DAILY_CAP": "3"})
    assert (settings.quiet_start, settings.quiet_end, settings.daily_cap) == ("23:00", "07:30", 3)
    assert settings.rates["wechat"] == 50 and settings.quotas["app"] == 1000 and settings.app_push_url == "http://127.0.0.1:9"
    with pytest.raises(ConfigError):
        PushSettings.from_env(base, {"MSB_PUSH_DAILY_CAP": "zero"})
    with pytest.raises(ConfigError):
        PushSettings.from_env(base, {"MSB_PUSH_WECHAT_AES_KEY": "short"})
