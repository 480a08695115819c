"""`make bench`: the figures each issue names, at full catalogue scale.

Uses its own redis-server on a free port and its own full-scale index under var/bench/.
"""
from __future__ import annotations

import json
import sys

from config import PROJECT_ROOT
from tools.redis_server import RedisServer

BENCH_DIR = PROJECT_ROOT / "var" / "bench"


def _print_section(title: str, figures: dict) -> None:
    print(f"\n== {title} ==")
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    sys.stdout.flush()


def main() -> None:
    from bench import catalog_bench, http_search

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    index_dir = BENCH_DIR / "index"
    build = catalog_bench.ensure_full_index(index_dir)
    _print_section("catalogue index build (scale 1.0)", build)
    _print_section("search in-process", catalog_bench.run_inprocess(index_dir))

    redis_server = RedisServer(BENCH_DIR / "redis")
    redis_server.start()
    try:
        _print_section("search over HTTP (gunicorn 2 workers x 4 threads)",
                       http_search.run(index_dir=index_dir, redis_url=redis_server.url, log_dir=BENCH_DIR))
    finally:
        redis_server.stop()


if __name__ == "__main__":
    main()
