"""Bulk-load a synthetic province into the real schema: accounts, bindings, blind-index lookups, preferences.

Rows are generated inside PostgreSQL (``generate_series``), chunk by chunk, so the load measures the
database, not Python. Every value has the size the application writes: ids of 30 characters, blind
indexes of 32 hex characters, ciphertexts of the lengths ``kernel.crypto`` produces for each kind of
identifier (measured: openid 87, phone 64, ID number 74, name 70, Alipay open_id 92, user_id 71) — their
content is md5 text, not real encryption (storage cost is what is measured). The mix follows the push
bench: 80 % WeChat, 20 % Alipay, 60 % phone, 70 % real-name verified (level 3), 30 % with preferences.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg

TABLES = ("accounts", "account_bindings", "identity_index", "account_preferences")


def _enc(tag: str, length: int) -> str:
    # 12 characters of key prefix, then a body of the ciphertext's length (not compressible below 2 kB).
    return f"'v1:a0fe8401:' || rpad(md5('{tag}' || g), {length - 12}, 'Q')"


def _blind(tag: str) -> str:
    return f"md5('{tag}' || g)"


ACCOUNT_ID = "'acc_' || substr(md5('a' || g), 1, 26)"

CHUNK_SQL = [
    # accounts
    f"""INSERT INTO accounts (id, type, created_at, realname_level, realname_source, realname_at)
        SELECT {ACCOUNT_ID}, 'person', now() - (g %% 2000) * interval '1 day',
               CASE WHEN g %% 10 < 7 THEN 3 ELSE 2 END,
               CASE WHEN g %% 10 < 7 THEN 'gov_identity' END,
               CASE WHEN g %% 10 < 7 THEN now() - (g %% 900) * interval '1 day' END
        FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g""",
    # WeChat (80 %): openid + unionid
    f"""INSERT INTO account_bindings (account_id, binding_id, channel, indexes, encrypted, via, bound_at)
        SELECT {ACCOUNT_ID}, 'wechat:' || substr(md5('wb' || g), 1, 12), 'wechat',
               jsonb_build_object('wechat_openid', {_blind('wo')}, 'wechat_unionid', {_blind('wu')}),
               jsonb_build_object('wechat_openid', {_enc('eo', 87)}, 'wechat_unionid', {_enc('eu', 87)}),
               'wx_login', now()
        FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g WHERE g %% 5 <> 0""",
    f"""INSERT INTO identity_index (kind, blind, account_id)
        SELECT kind, blind, {ACCOUNT_ID} FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g,
        LATERAL (VALUES ('wechat_openid', {_blind('wo')}), ('wechat_unionid', {_blind('wu')})) v(kind, blind)
        WHERE g %% 5 <> 0""",
    # Alipay (20 %): open_id + user_id
    f"""INSERT INTO account_bindings (account_id, binding_id, channel, indexes, encrypted, via, bound_at)
        SELECT {ACCOUNT_ID}, 'alipay:' || substr(md5('ab' || g), 1, 12), 'alipay',
               jsonb_build_object('alipay_open_id', {_blind('ao')}, 'alipay_user_id', {_blind('au')}),
               jsonb_build_object('alipay_open_id', {_enc('eao', 92)}, 'alipay_user_id', {_enc('eau', 71)}),
               'alipay_login', now()
        FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g WHERE g %% 5 = 1""",
    f"""INSERT INTO identity_index (kind, blind, account_id)
        SELECT kind, blind, {ACCOUNT_ID} FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g,
        LATERAL (VALUES ('alipay_open_id', {_blind('ao')}), ('alipay_user_id', {_blind('au')})) v(kind, blind)
        WHERE g %% 5 = 1""",
    # phone (60 %)
    f"""INSERT INTO account_bindings (account_id, binding_id, channel, indexes, encrypted, masked, via, bound_at)
        SELECT {ACCOUNT_ID}, 'phone:' || substr(md5('pb' || g), 1, 12), 'phone',
               jsonb_build_object('phone', {_blind('ph')}), jsonb_build_object('phone', {_enc('eph', 64)}),
               '138****' || lpad((g %% 10000)::text, 4, '0'), 'sms', now()
        FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g WHERE g %% 10 < 6""",
    f"""INSERT INTO identity_index (kind, blind, account_id)
        SELECT 'phone', {_blind('ph')}, {ACCOUNT_ID} FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g WHERE g %% 10 < 6""",
    # real name (70 %): ID number and name
    f"""INSERT INTO account_bindings (account_id, binding_id, channel, indexes, encrypted, masked, masked_name,
                                      via, bound_at)
        SELECT {ACCOUNT_ID}, 'realname:' || substr(md5('rb' || g), 1, 12), 'realname',
               jsonb_build_object('id_number', {_blind('id')}),
               jsonb_build_object('id_number', {_enc('eid', 74)}, 'name', {_enc('enm', 70)}),
               '1501**********' || lpad((g %% 10000)::text, 4, '0'), '*其格', 'gov_identity', now()
        FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g WHERE g %% 10 < 7""",
    f"""INSERT INTO identity_index (kind, blind, account_id)
        SELECT 'id_number', {_blind('id')}, {ACCOUNT_ID} FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g WHERE g %% 10 < 7""",
    # preferences (30 %): a home region, some opt-outs, elder mode for some
    f"""INSERT INTO account_preferences (account_id, preferences)
        SELECT {ACCOUNT_ID}, jsonb_build_object(
                 'mode', CASE WHEN g %% 9 = 0 THEN 'elder' ELSE 'standard' END, 'language', 'zh',
                 'home_region', '1501' || lpad((g %% 9 + 1)::text, 2, '0'),
                 'push_opt_outs', jsonb_build_object('marketing', CASE WHEN g %% 4 = 0 THEN '["wechat"]'::jsonb
                                                                  ELSE '[]'::jsonb END, 'policy', '[]'::jsonb))
        FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g WHERE g %% 10 >= 7""",
]


def _constraints_and_indexes(conn: psycopg.Connection) -> tuple[list[str], list[str], list[str]]:
    """What a bulk load drops and recreates afterwards, as pg_restore does: (drop, create keys, create rest)."""
    drops, keys, rest = [], [], []
    foreign = conn.execute(
        "SELECT conrelid::regclass::text AS t, conname, pg_get_constraintdef(oid) AS def, contype FROM pg_constraint "
        "WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('p', 'f', 'u') ORDER BY contype DESC",
        (list(TABLES),)).fetchall()
    for row in foreign:
        if row["conname"] == "accounts_pkey":
            continue  # other records (enterprise links) reference it: it stays, loaded into as it grows
        drops.append(f"ALTER TABLE {row['t']} DROP CONSTRAINT {row['conname']}")
        (keys if row["contype"] in ("p", "u") else rest).append(
            f"ALTER TABLE {row['t']} ADD CONSTRAINT {row['conname']} {row['def']}")
    owned = {row["conname"] for row in foreign}
    for row in conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)",
                            (list(TABLES),)).fetchall():
        if row["indexname"] not in owned:
            drops.append(f"DROP INDEX {row['indexname']}")
            rest.append(row["indexdef"])
    # Foreign keys depend on the referenced primary keys: drop them first, create them last.
    drops.sort(key=lambda sql: "DROP CONSTRAINT" not in sql or "_fkey" not in sql)
    return drops, keys, rest


def load(conn: psycopg.Connection, citizens: int, *, chunk: int = 1_000_000, loaders: int = 2,
         progress: Callable[[str, int, float], None] | None = None) -> dict[str, float]:
    """Insert ``citizens`` synthetic citizens; returns the seconds of each phase. ``conn`` must be in
    autocommit mode. Keys and indexes are dropped for the load and rebuilt after it (every constraint is
    checked again when it is recreated), the way pg_restore loads a dump."""
    started = time.perf_counter()
    drops, keys, rest = _constraints_and_indexes(conn)
    for sql in drops:
        conn.execute(sql)
    chunks = [(lo, min(citizens, lo + chunk - 1)) for lo in range(1, citizens + 1, chunk)]
    done_rows = [0]
    lock = threading.Lock()

    def load_chunk(bounds: tuple[int, int]) -> None:
        lo, hi = bounds
        with psycopg.connect(conninfo, autocommit=True) as worker:
            for sql in CHUNK_SQL:
                worker.execute(sql, {"lo": lo, "hi": hi})
        with lock:
            done_rows[0] += hi - lo + 1
            if progress:
                progress("rows", done_rows[0], time.perf_counter() - started)

    conninfo = conn.info.dsn
    # One loader per core: INSERT … SELECT is CPU-bound in the backend.
    with ThreadPoolExecutor(max_workers=loaders) as pool:
        list(pool.map(load_chunk, chunks))
    loaded = time.perf_counter()
    for sql in keys + rest:
        conn.execute(sql)
    if progress:
        progress("keys and indexes", citizens, time.perf_counter() - started)
    conn.execute("VACUUM ANALYZE")
    done = time.perf_counter()
    return {"rows_seconds": round(loaded - started, 1), "index_seconds": round(done - loaded, 1),
            "total_seconds": round(done - started, 1)}


def bytes_per_citizen(conn: psycopg.Connection, citizens: int) -> dict[str, object]:
    """On-disk size of each identity table with its indexes and TOAST, and the total per citizen."""
    sizes = {table: conn.execute("SELECT pg_total_relation_size(%s) AS n", (table,)).fetchone()["n"]
             for table in TABLES}
    rows = {table: conn.execute(f"SELECT reltuples::bigint AS n FROM pg_class WHERE relname = '{table}'")
            .fetchone()["n"] for table in TABLES}
    total = sum(sizes.values())
    return {"tables_mb": {t: round(b / 2**20, 1) for t, b in sizes.items()}, "rows": rows,
            "total_gb": round(total / 2**30, 2), "bytes_per_citizen": round(total / citizens)}
