"""Push figures: planning a campaign over 1 M citizens, and dispatch throughput to the sandbox WeChat.

    .venv/bin/python -m bench.push_bench            # own redis-server + sandbox on free ports
    plan_campaign(redis_url, n_citizens=1_000_000)  # needs an empty Redis database
    dispatch_throughput(redis_url, sandbox_url, seconds)

``plan_campaign`` seeds synthetic citizens straight into the segment bitmaps (whole bitmaps built in
Python and written with one SET each, per-citizen hashes through pipelines), then times
``Planner.plan`` of a policy campaign on WeChat with the inbox as fallback (``max_per_citizen`` 1)
over everyone aged 18+: audience BITOPs, opt-outs, reachability, dedupe, caps, consent consumption,
daily quota and the XADDs. ``dispatch_throughput`` seeds citizens known to the sandbox (long-term
subscription), plans, then runs dispatcher processes against the sandbox for ``seconds``.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis
import requests

from catalog.model import ReferenceData
from kernel.clock import FixedClock, shanghai_ts
from kernel.crypto import Crypto
from push import keys
from push.campaigns import Actor
from push.service import PushService
from push.settings import PushSettings
from push.stats import Stats

PROJECTION_CITIZENS = 24_500_000
EDITOR, APPROVER = Actor("op_bench_editor", ("editor",)), Actor("op_bench_approver", ("approver",))
TEMPLATE_ONE_TIME, TEMPLATE_LONG_TERM = "wx_tpl_service_reminder", "wx_tpl_policy_notice"
SHARES = {"wechat": 0.8, "consent": 0.35, "opt_out": 0.05, "verified_age": 0.7}
# The campaign both planning benches time: a policy reminder on WeChat (one-time template), inbox as fallback.
POLICY_CAMPAIGN: dict[str, Any] = {
    "name": "城乡居民医保缴费提醒", "category": "policy", "channels": ["wechat", "inbox"], "max_per_citizen": 1,
    "content": {"wechat": {"template_id": TEMPLATE_ONE_TIME, "data": {
        "thing1": "城乡居民医保缴费", "phrase2": "待缴费", "time3": "2026年3月31日 17:00", "thing4": "请及时缴费"}},
        "inbox": {"title": "医保缴费提醒", "text": "2026年度城乡居民医保缴费已开始，请及时缴费。"}},
    "audience": {"age_min": 18},
}


def _bitmap(n: int) -> bytearray:
    return bytearray(n // 8 + 1)


def _set(bitmap: bytearray, idx: int) -> None:
    bitmap[idx >> 3] |= 0x80 >> (idx & 7)


def _set_sharded(pipe: Any, key_for_shard: Any, bitmap: bytearray) -> None:
    """Write a population-wide bitmap (bit = global idx) as its shards' bitmaps: a shard's first idx is a
    multiple of 8, so its bytes are a plain slice."""
    for shard in range(keys.shard_count(len(bitmap) * 8 - 1)):
        part = bytes(bitmap[shard * keys.SHARD_BYTES:(shard + 1) * keys.SHARD_BYTES])
        if any(part):
            pipe.set(key_for_shard(shard), part)


def _empty_db(client: redis.Redis) -> None:
    if client.dbsize():
        raise RuntimeError("the bench needs an empty Redis database (it writes push:* keys at scale)")


def _service(client: redis.Redis, secret_dir: Path, settings: PushSettings) -> PushService:
    clock = FixedClock(shanghai_ts(2026, 3, 2, 10, 0))  # a Monday morning: no quiet hours
    return PushService(client, crypto=Crypto(secret_dir), settings=settings, clock=clock, database=_database())


def _database():
    """Campaign records are in PostgreSQL: the one ``main`` started (MSB_DATABASE_URL), else the configured one."""
    from config import Settings
    from kernel.postgres import database_for

    return database_for(Settings.from_env().database_url)


def _launch(service: PushService, spec: dict[str, Any]) -> str:
    campaign = service.create_campaign(EDITOR, spec)
    service.submit_campaign(EDITOR, campaign["id"])
    service.approve_campaign(APPROVER, campaign["id"])
    service.schedule_campaign(EDITOR, campaign["id"])
    return campaign["id"]


def seed_segments(client: redis.Redis, n: int, *, seed: int = 7) -> dict[str, Any]:
    """``n`` synthetic citizens (idx 1..n) in the segment bitmaps and the consent ledger."""
    started = time.perf_counter()
    rng = random.Random(seed)
    reference = ReferenceData.load()
    counties = [county.code for county in reference.regions.all_counties()]
    everyone, wechat, opted_out, consent_has = _bitmap(n), _bitmap(n), _bitmap(n), _bitmap(n)
    regions = {code: _bitmap(n) for code in counties}
    births: dict[str, bytearray] = {}
    consent: dict[int, int] = {}
    for idx in range(1, n + 1):
        _set(everyone, idx)
        _set(regions[counties[idx % len(counties)]], idx)
        if rng.random() < SHARES["verified_age"]:
            month = f"{1940 + rng.randrange(68)}06"
            _set(births.setdefault(month, _bitmap(n)), idx)
        if rng.random() < SHARES["wechat"]:
            _set(wechat, idx)
            if rng.random() < SHARES["consent"]:
                _set(consent_has, idx)
                consent[idx] = 1
        if rng.random() < SHARES["opt_out"]:
            _set(opted_out, idx)
    pipe = client.pipeline(transaction=False)
    _set_sharded(pipe, keys.seg_all, everyone)
    _set_sharded(pipe, lambda shard: keys.seg_address(shard, "wechat"), wechat)
    _set_sharded(pipe, lambda shard: keys.seg_opt_out(shard, "policy", "wechat"), opted_out)
    _set_sharded(pipe, lambda shard: keys.consent_has(shard, "wechat", TEMPLATE_ONE_TIME), consent_has)
    for code, bitmap in regions.items():
        _set_sharded(pipe, lambda shard, code=code: keys.seg_region(shard, code), bitmap)
    for month, bitmap in births.items():
        _set_sharded(pipe, lambda shard, month=month: keys.seg_birth_month(shard, month), bitmap)
    pipe.execute()
    for shard, idxs in keys.by_shard(consent).items():
        for start in range(0, len(idxs), 20_000):
            client.hset(keys.consent(shard, "wechat", TEMPLATE_ONE_TIME),
                        mapping={idx: consent[idx] for idx in idxs[start:start + 20_000]})
    client.set(keys.CITIZEN_SEQ, n)
    return {"citizens": n, "seed_seconds": round(time.perf_counter() - started, 2), "with_consent": len(consent)}


def plan_campaign(redis_url: str, n_citizens: int = 1_000_000) -> dict[str, Any]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    _empty_db(client)
    seeded = seed_segments(client, n_citizens)
    used_before = int(client.info("memory")["used_memory"])
    with tempfile.TemporaryDirectory() as secrets:
        service = _service(client, Path(secrets), PushSettings())
        campaign_id = _launch(service, POLICY_CAMPAIGN)
        service.campaigns.transition(Actor("system"), campaign_id, "start")
        campaign = service.campaigns.get(campaign_id)
        preview_started = time.perf_counter()
        preview = service.planner.preview(campaign)
        preview_seconds = time.perf_counter() - preview_started
        result = service.planner.plan(campaign)
    memory = int(client.info("memory")["used_memory"])
    seconds = result.seconds
    figures = {
        **seeded,
        "audience": result.audience,
        "reach": result.reach,
        "enqueued": {c.channel: c.enqueued for c in result.channels},
        "skipped": result.skipped,
        "stream_entries": {ch: sum(client.xlen(keys.stream(shard, ch)) for shard in range(keys.shard_count(n_citizens)))
                           for ch in ("wechat", "inbox")},
        "shards": keys.shard_count(n_citizens), "shard_bits": keys.SHARD_BITS,
        "preview_seconds": round(preview_seconds, 2),
        "preview_matches_plan": preview.enqueued == result.enqueued and preview.skipped == result.skipped,
        "plan_seconds": round(seconds, 2),
        "plan_citizens_per_second": int(n_citizens / seconds),
        "projected_plan_seconds_24_5M": round(seconds * PROJECTION_CITIZENS / n_citizens, 1),
        "redis_used_mb_segments": round(used_before / 2**20, 1),
        "redis_used_mb_after_plan": round(memory / 2**20, 1),
    }
    client.close()
    return figures


# --- dispatch throughput --------------------------------------------------------------------------


def _seed_dispatch(client: redis.Redis, crypto: Crypto, sandbox_url: str, n: int) -> None:
    http = requests.Session()
    openids: list[str] = []
    while len(openids) < n:
        batch = min(5000, n - len(openids))
        reply = http.post(f"{sandbox_url}/_drive/wechat/push/bulk-users",
                          json={"count": batch, "template_id": TEMPLATE_LONG_TERM}, timeout=60)
        reply.raise_for_status()
        openids.extend(reply.json()["openids"])
    everyone = _bitmap(n)
    pipe = client.pipeline(transaction=False)
    for idx, openid in enumerate(openids, start=1):
        _set(everyone, idx)
        shard = keys.shard_of(idx)
        pipe.hset(keys.address(shard, "wechat"), idx, crypto.encrypt(openid, context="push.address.wechat"))
        pipe.hset(keys.citizen_by_index(shard), idx, f"acc_bench_{idx}")
        pipe.hset(keys.consent(shard, "wechat", TEMPLATE_LONG_TERM), idx, -1)
        if idx % 5000 == 0:
            pipe.execute()
    pipe.execute()
    pipe = client.pipeline(transaction=False)
    _set_sharded(pipe, keys.seg_all, everyone)
    _set_sharded(pipe, lambda shard: keys.seg_address(shard, "wechat"), everyone)
    _set_sharded(pipe, lambda shard: keys.consent_has(shard, "wechat", TEMPLATE_LONG_TERM), everyone)
    pipe.execute()
    client.set(keys.CITIZEN_SEQ, n)


def _dispatch_process(redis_url: str, sandbox_url: str, secret_dir: str, settings_json: str, threads: int,
                      deadline: float) -> None:
    from integrations.http import UpstreamHttp, pooled_session
    from integrations.json_http import JsonHttp
    from integrations.wechat_subscribe import SubscribeMessageClient
    from integrations.wechat_token import StableTokenSource, WeChatAccessTokenHolder
    from push.senders.inbox import InboxSender
    from push.senders.wechat import WeChatSender

    client = redis.Redis.from_url(redis_url, decode_responses=True, max_connections=64)
    settings = PushSettings(**json.loads(settings_json))
    service = PushService(client, crypto=Crypto(secret_dir), settings=settings, database=_database())
    source = StableTokenSource(sandbox_url, "wx_sandbox_app", "wx_sandbox_secret", UpstreamHttp("wechat", session=pooled_session()))
    holder = WeChatAccessTokenHolder(client, "wx_sandbox_app", source)
    senders = {"wechat": WeChatSender(SubscribeMessageClient(sandbox_url, holder, http=JsonHttp())),
               "inbox": InboxSender(service.inbox_store)}
    stop = threading.Event()

    def loop(number: int) -> None:
        dispatcher = service.dispatcher(senders=senders, name=f"bench:{os.getpid()}:{number}", stop=stop)
        while time.time() < deadline:
            dispatcher.poll(block_ms=200, count=1)
        dispatcher.close()

    workers = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def dispatch_throughput(redis_url: str, sandbox_url: str, seconds: float = 10.0, *, processes: int = 2,
                        threads: int = 4, concurrency: int = 8, sandbox_pid: int | None = None) -> dict[str, Any]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    _empty_db(client)
    requests.post(f"{sandbox_url}/_drive/reset", timeout=10).raise_for_status()
    n = int(min(80_000, max(5_000, seconds * 2_500)))
    with tempfile.TemporaryDirectory() as secrets:
        settings = PushSettings(quiet_start="00:00", quiet_end="00:00", concurrency=concurrency,
                                rates={"wechat": 0.0, "alipay": 0.0, "app": 0.0, "inbox": 0.0})
        service = PushService(client, crypto=Crypto(secrets), settings=settings, database=_database())
        seed_started = time.perf_counter()
        _seed_dispatch(client, service.crypto, sandbox_url, n)
        spec = {"name": "医保缴费提醒", "category": "policy", "channels": ["wechat"],
                "content": {"wechat": {"template_id": TEMPLATE_LONG_TERM, "data": {
                    "thing1": "医保缴费提醒", "thing2": "2026年城乡居民医保开始缴费", "time3": "2026年3月2日 09:00"}}}}
        campaign_id = _launch(service, spec)
        service.campaigns.transition(Actor("system"), campaign_id, "start")
        service.queue.ensure_groups()
        planned = service.planner.plan(service.campaigns.get(campaign_id))
        seed_seconds = time.perf_counter() - seed_started
        settings_json = json.dumps({"concurrency": concurrency, "quiet_start": "00:00", "quiet_end": "00:00",
                                    "rates": {"wechat": 0.0, "alipay": 0.0, "app": 0.0, "inbox": 0.0}})
        cpu_before = _cpu_seconds(sandbox_pid)
        started = time.time()
        deadline = started + seconds
        context = multiprocessing.get_context("spawn")
        workers = [context.Process(target=_dispatch_process,
                                   args=(redis_url, sandbox_url, secrets, settings_json, threads, deadline))
                   for _ in range(processes)]
        for worker in workers:
            worker.start()
        sent_at_start: int | None = None
        warm = started
        while time.time() < deadline:
            time.sleep(0.25)
            sent = Stats(client).raw(campaign_id).get("sent:wechat", 0)
            if sent_at_start is None and sent > 0:
                sent_at_start, warm = sent, time.time()  # exclude process start-up (imports, token)
            if sent >= planned.enqueued:
                break
        finished = time.time()
        sent = Stats(client).raw(campaign_id).get("sent:wechat", 0)
        for worker in workers:
            worker.join(timeout=seconds + 30)
        cpu_after = _cpu_seconds(sandbox_pid)
        counts = requests.get(f"{sandbox_url}/_drive/wechat/messages/counts", timeout=30).json()["counts"]
    steady = (sent - (sent_at_start or 0)) / max(finished - warm, 1e-6)
    result = {
        "citizens": n,
        "seed_and_plan_seconds": round(seed_seconds, 1),
        "dispatchers": f"{processes} processes x {threads} threads x {concurrency} concurrent sends",
        "sent": sent,
        "elapsed_seconds": round(finished - started, 2),
        "msg_per_second_overall": int(sent / max(finished - started, 1e-6)),
        "msg_per_second_steady": int(steady),
        "sandbox_received": sum(counts.values()),
        "duplicates_at_sandbox": sum(1 for c in counts.values() if c > 1),
    }
    if cpu_before is not None and cpu_after is not None:
        result["sandbox_cpu_share"] = round((cpu_after - cpu_before) / max(finished - started, 1e-6), 2)
    client.close()
    return result


def _cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a process and its children (the sandbox's gunicorn worker)."""
    if pid is None:
        return None
    total = 0.0
    from tools.processes import children_of

    for process in [pid, *children_of(pid)]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def main() -> None:
    from config import PROJECT_ROOT
    from tools import processes
    from tools.dev_keys import ensure_dev_keys, sandbox_env
    from tools.postgres_server import migrated_postgres
    from tools.redis_server import RedisServer, free_port

    work = PROJECT_ROOT / "var" / "bench" / "push"
    work.mkdir(parents=True, exist_ok=True)
    n_citizens = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    server = RedisServer(work / "redis", port=free_port())
    server.start()
    postgres_context = migrated_postgres(prefix="msb-bench-pg-")
    os.environ["MSB_DATABASE_URL"] = postgres_context.__enter__().url  # the dispatch processes inherit it
    try:
        redis.Redis.from_url(server.url).flushall()
        print(json.dumps({"plan_campaign": plan_campaign(server.url, n_citizens)}, ensure_ascii=False, indent=2), flush=True)
        redis.Redis.from_url(server.url).flushall()
        secret_dir = ensure_dev_keys(work / "secrets")
        port = free_port()
        sandbox = processes.start_gunicorn("sandbox.wsgi:app", port=port, env={"MSB_ENV": "test", **sandbox_env(secret_dir)},
                                           workers=1, threads=16, log_path=work / "sandbox.log")
        url = f"http://127.0.0.1:{port}"
        try:
            processes.wait_until_ready(f"{url}/_drive/health", timeout=20, process=sandbox)
            figures = dispatch_throughput(server.url, url, 10.0, sandbox_pid=sandbox.pid)
            print(json.dumps({"dispatch_throughput": figures}, ensure_ascii=False, indent=2), flush=True)
        finally:
            processes.stop(sandbox)
    finally:
        server.stop()
        postgres_context.__exit__(None, None, None)


if __name__ == "__main__":
    main()
