"""``python -m push.worker`` as a real process, SIGKILLed in the middle of a campaign and restarted:
every recipient ends up with exactly one message on their (sandbox) phone."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from config import PROJECT_ROOT
from push import keys
from tests.push.conftest import EDITOR, REMINDER, inflight_total, launch, wechat_campaign

RECIPIENTS = 48
CONCURRENCY = 4


def start_worker(redis_url: str, sandbox: str, secret_dir, log_path, *, concurrency: int = CONCURRENCY,
                 rate: float | None = None) -> subprocess.Popen:
    env = {
        **os.environ,
        "MSB_ENV": "test",
        "MSB_REDIS_URL": redis_url,
        "MSB_SANDBOX": "1",
        "MSB_SANDBOX_URL": sandbox,
        "MSB_SECRET_DIR": str(secret_dir),
        "MSB_LOG_LEVEL": "INFO",
        "MSB_PUSH_THREADS": "2",
        "MSB_PUSH_CONCURRENCY": str(concurrency),
        "MSB_PUSH_ORPHAN_SECONDS": "3",
        "MSB_PUSH_CLAIM_IDLE_SECONDS": "2",
        "MSB_PUSH_QUIET_HOURS": "00:00-00:00",  # the subprocess runs on the real clock: no night deferral here
    }
    if rate is not None:
        env["MSB_PUSH_RATE_WECHAT"] = str(rate)
    log = open(log_path, "ab")
    return subprocess.Popen([sys.executable, "-m", "push.worker"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_killed_worker_loses_nothing_and_sends_nothing_twice(service, citizens, runtime, drive, redis_server,
                                                               dev_secret_dir, tmp_path) -> None:
    people = [citizens.make(subscribe={REMINDER: 1}) for _ in range(RECIPIENTS)]
    campaign_id = launch(service, wechat_campaign())
    runtime.tick()  # planned here; the worker processes only send
    shards = keys.by_shard(service.index.find(p["account_id"]) for p in people)
    assert sum(service.redis.xlen(keys.stream(shard, "wechat")) for shard in shards) == len(shards)  # one batch of 48 per shard
    drive.fault("wechat.subscribe_send", times=None, delay_ms=300)  # slow sends: a chunk of 4 in flight at a time

    def mid_send() -> bool:
        """A third delivered, and a whole chunk of requests received by WeChat but not yet answered:
        the worker is blocked waiting for those responses, so the kill lands mid-send (and not in the
        microseconds between a send's wire mark and its socket write, where never-duplicate loses it)."""
        received = sum(drive.message_counts().values())
        return received >= RECIPIENTS // 3 and drive.counters()["wechat.subscribe_send"] - received == CONCURRENCY

    first = start_worker(redis_server.url, drive.base_url, dev_secret_dir, tmp_path / "worker1.log")
    try:
        wait_for(mid_send, 30, "the first third to be sent and the next chunk to be in flight")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    received_at_kill = sum(drive.message_counts().values())
    assert received_at_kill < RECIPIENTS  # killed mid-campaign

    second = start_worker(redis_server.url, drive.base_url, dev_secret_dir, tmp_path / "worker2.log")
    try:
        wait_for(lambda: service.get_campaign(EDITOR, campaign_id)["status"] == "finished", 60, "the campaign to finish")
        counts = drive.message_counts()
        assert counts == {p["openid"]: 1 for p in people}  # everyone, exactly once
        stats = service.campaign_stats(EDITOR, campaign_id)
        # the chunk in flight when the first worker died is settled "unknown" (never re-sent); it did arrive
        assert stats["unknown"] == CONCURRENCY
        assert stats["sent"] + stats["unknown"] == RECIPIENTS and stats["failed"] == 0
        assert inflight_total(service.redis) == 0

        second.send_signal(signal.SIGTERM)  # graceful stop
        assert second.wait(timeout=15) == 0
    finally:
        if second.poll() is None:
            second.kill()
    log_text = (tmp_path / "worker2.log").read_text()
    assert "push worker stopped" in log_text and drive.base_url not in log_text
