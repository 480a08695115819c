"""`make bench`: the figures each issue names, at full catalogue scale.

Everything runs on this machine: its own redis-server and servers on free ports, its own full-scale
index under var/bench/. Timings are noisy on a 2-core box where the load generator shares the cores.
"""
from __future__ import annotations

import json
import sys

from config import PROJECT_ROOT

BENCH_DIR = PROJECT_ROOT / "var" / "bench"


def _print_section(title: str, figures: dict) -> None:
    print(f"\n== {title} ==")
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    sys.stdout.flush()


def print_search_quality(index_dir) -> None:
    """hit@1 / hit@3 / MRR per category on our query sets, ours beside SQLite FTS5 trigram."""
    from bench import search_eval

    report = search_eval.run(index_dir, search_eval.ALL_SETS)
    for name, result in report.items():
        print(f"\n== search quality: {name} (ours | SQLite FTS5 trigram over the same catalogue) ==")
        print(result["table"])
    sys.stdout.flush()


def main() -> None:
    from bench import catalog_bench, http_auth, http_home, http_search, push_bench
    from bench.stack import running_stack

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    index_dir = BENCH_DIR / "index"
    _print_section("catalogue index build (scale 1.0)", catalog_bench.ensure_full_index(index_dir))
    _print_section("search in-process", catalog_bench.run_inprocess(index_dir))
    print_search_quality(index_dir)

    with running_stack(index_dir=index_dir, work_dir=BENCH_DIR) as stack:
        _print_section("search over HTTP (gunicorn 2 workers x 4 threads)", http_search.run(stack.api_base, stack.api_process))
        _print_section("cached home and search vs a bare Flask endpoint",
                       http_home.run(stack.api_base, stack.bare_base, stack.api_process))
        _print_section("login and refresh over HTTP", http_auth.run(stack.api_base, stack.sandbox_base, seconds=10))

    # After the stack is down: planning and dispatch want the cores (and their own Redis and sandbox).
    print("\n== push: plan a campaign over 1 M synthetic citizens, then dispatch to the sandbox WeChat channel ==")
    push_bench.main()


if __name__ == "__main__":
    main()
