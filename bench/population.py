"""`make bench-population`: the whole province, measured — not projected.

1. Bulk-load ``MSB_POPULATION`` (default 24,460,000) synthetic citizens into PostgreSQL's identity records
   (``bench.population_records``: generated in the database, in parallel chunks, keys rebuilt after).
2. Bytes per citizen in PostgreSQL (tables + indexes + TOAST).
3. Build push's Redis targeting data from those records with the real bulk builder (``push.rebuild``):
   citizen index, profiles, addresses, segment bitmaps per shard; time it and measure bytes per citizen
   in Redis. The synthetic ciphertexts are not decryptable, so the records are read with the same SQL as
   ``CitizenDirectory.all_facts`` but the stored ciphertext stands in for push's (same length) and the birth
   month is derived from the row; the cost of decryption the real command adds is measured on 20,000
   real ciphertexts and printed beside it.
4. Seed one-time WeChat consent for 35 % of WeChat users and plan a policy campaign over the full
   population (WeChat, inbox fallback) with the real planner.
5. Start the API against this database and measure WeChat login rate and p95 over HTTP.

Needs ~50 GB of disk for 24.46 M citizens and takes the better part of an hour on a 2-core machine.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import redis
from psycopg.rows import dict_row

from bench import population_records
from config import PROJECT_ROOT
from kernel.redis import with_bytes_responses
from push import keys
from push.rebuild import TargetingFacts, rebuild

POPULATION = int(os.environ.get("MSB_POPULATION", "24460000"))
TEMPLATE_ONE_TIME = "wx_tpl_service_reminder"
BULK_SETTINGS = {"shared_buffers": "2GB", "max_wal_size": "16GB", "maintenance_work_mem": "1GB",
                 "checkpoint_timeout": "30min", "wal_level": "minimal", "max_wal_senders": "0",
                 "max_parallel_maintenance_workers": "2"}


def _facts(conn: psycopg.Connection, page: int = 20_000) -> Iterator[TargetingFacts]:
    from auth.account_records import targeting_page

    after = ""
    while True:
        rows = targeting_page(conn, after, page)
        for row in rows:
            prefs = row["preferences"] or {}
            opt_outs = frozenset((category, channel) for category, channels in (prefs.get("push_opt_outs") or {}).items()
                                 for channel in channels)
            addresses = {channel: row[column] for channel, column in (("wechat", "wechat_openid"),
                                                                      ("alipay", "alipay_open_id")) if row[column]}
            birth = None
            if row["id_number"]:
                seed = int(row["id"][4:10], 36)
                birth = f"{1940 + seed % 68}{seed % 12 + 1:02d}"
            yield TargetingFacts(account_id=row["id"], home_region=prefs.get("home_region"), birth_ym=birth,
                                 enterprise=row["enterprise"], opt_outs=opt_outs, addresses=addresses)
        if len(rows) < page:
            return
        after = rows[-1]["id"]


def _decrypt_cost() -> float:
    """Seconds per citizen the real command spends decrypting (openid and ID number for most)."""
    from kernel.crypto import Crypto

    with tempfile.TemporaryDirectory() as secrets:
        crypto = Crypto(Path(secrets))
        samples = [crypto.encrypt(f"o{n:027d}", context="wechat_openid") for n in range(20_000)]
        started = time.perf_counter()
        for sample in samples:
            crypto.decrypt(sample, context="wechat_openid")
        per_value = (time.perf_counter() - started) / len(samples)
    return per_value * (0.8 + 0.7 + 0.2) + per_value * 0.8  # decrypt openid/ID/open_id, re-encrypt addresses


def _seed_consent(client: redis.Redis) -> int:
    """One-time consent for 35 % of WeChat-reachable citizens, straight into the shard ledgers."""
    raw_client = with_bytes_responses(client)
    granted = 0
    for shard in range(keys.shard_count(int(client.get(keys.CITIZEN_SEQ) or 0))):
        raw = raw_client.get(keys.seg_address(shard, "wechat"))
        if not raw:
            continue
        has = bytearray(len(raw))
        fields: dict[int, int] = {}
        base = keys.shard_base(shard)
        for byte_no, byte in enumerate(raw):
            if not byte:
                continue
            for bit in range(8):
                if byte & (0x80 >> bit) and (byte_no * 8 + bit) % 20 < 7:
                    has[byte_no] |= 0x80 >> bit
                    fields[base + byte_no * 8 + bit] = 1
        pipe = client.pipeline(transaction=False)
        pipe.set(keys.consent_has(shard, "wechat", TEMPLATE_ONE_TIME), bytes(has))
        items = list(fields.items())
        for start in range(0, len(items), 50_000):
            pipe.hset(keys.consent(shard, "wechat", TEMPLATE_ONE_TIME), mapping=dict(items[start:start + 50_000]))
        pipe.execute()
        granted += len(fields)
    return granted


def _plan(redis_url: str, database_url: str) -> dict[str, Any]:
    from bench.push_bench import POLICY_CAMPAIGN, _launch
    from kernel.clock import FixedClock, shanghai_ts
    from kernel.crypto import Crypto
    from kernel.postgres import Database
    from push.campaigns import Actor
    from push.service import PushService
    from push.settings import PushSettings

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    database = Database(database_url, statement_timeout_ms=60_000, io_timeout=120.0)
    with tempfile.TemporaryDirectory() as secrets:
        service = PushService(client, crypto=Crypto(Path(secrets)), settings=PushSettings(), database=database,
                              clock=FixedClock(shanghai_ts(2026, 3, 2, 10, 0)))
        campaign_id = _launch(service, POLICY_CAMPAIGN)
        service.campaigns.transition(Actor("system"), campaign_id, "start")
        result = service.planner.plan(service.campaigns.get(campaign_id))
    database.close()
    return {"plan_seconds": round(result.seconds, 1), "audience": result.audience,
            "enqueued": {c.channel: c.enqueued for c in result.channels}, "skipped": result.skipped,
            "citizens_per_second": int(POPULATION / result.seconds)}


def main() -> None:
    from bench import http_auth
    from bench.stack import running_stack
    from tools.postgres_server import migrated_postgres
    from tools.redis_server import RedisServer

    work = PROJECT_ROOT / "var" / "bench" / "population"
    work.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {"citizens": POPULATION}

    def show(section: str, value: Any) -> None:
        figures[section] = value
        print(json.dumps({section: value}, ensure_ascii=False), flush=True)

    with migrated_postgres(prefix="msb-population-pg-", settings=BULK_SETTINGS) as postgres:
        with psycopg.connect(postgres.url, autocommit=True, row_factory=dict_row) as conn:
            show("postgres_load", population_records.load(
                conn, POPULATION, progress=lambda phase, n, t: print(f"  {phase}: {n:,} after {t:.0f} s", flush=True)))
            show("postgres_size", population_records.bytes_per_citizen(conn, POPULATION))
        redis_server = RedisServer(work / "redis")
        redis_server.start()
        try:
            client = redis.Redis.from_url(redis_server.url, decode_responses=True)
            client.config_set("appendonly", "no")  # a bench store: no AOF rewrite competing with the build
            empty = int(client.info("memory")["used_memory"])
            with psycopg.connect(postgres.url, row_factory=dict_row) as reader:
                report = rebuild(client, _facts(reader), now=time.time(), batch=10_000)
            used = int(client.info("memory")["used_memory"]) - empty
            show("redis_targeting_build", {
                "seconds": report.seconds, "citizens": report.citizens, "shards": report.shards,
                "bitmaps": report.bitmaps, "redis_gb": round(used / 2**30, 2),
                "redis_bytes_per_citizen": round(used / POPULATION),
                "decryption_the_real_command_adds_seconds": round(_decrypt_cost() * POPULATION, 1)})
            show("consent_seeded", _seed_consent(client))
            show("plan_full_population", _plan(redis_server.url, postgres.url))
            client.flushall(asynchronous=True)  # gigabytes: freed in the background
            with running_stack(index_dir=Path(os.environ.get("MSB_INDEX_DIR", PROJECT_ROOT / "var" / "index")),
                               work_dir=work, database_url=postgres.url) as stack:
                show("login_over_http", http_auth.run(stack.api_base, stack.sandbox_base, seconds=15))
        finally:
            redis_server.stop()
    (work / "figures.json").write_text(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
