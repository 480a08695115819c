"""In-process catalogue benchmark: build (or reuse) a full-scale index, then
time a mixed query list through `Catalogue.search`.

    python bench/catalog_bench.py /tmp/catalog-index            # reuse if up to date
    python bench/catalog_bench.py /tmp/catalog-index --rebuild  # force a build

Targets: p95 ≤ 5 ms per in-process search, RSS ≤ 200 MB. Builds run in a
child process, so the RSS reported is a reader's, as in a web worker.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_PROJECT_ROOT))

from catalog.index import CURRENT, directory_bytes  # noqa: E402
from catalog.service import Catalogue  # noqa: E402

QUERIES = (
    # official names, short names
    "居民身份证换领", "农药经营许可", "内地居民结婚登记", "最低生活保障", "食品经营许可",
    "换身份证", "企业开办", "不动产登记", "住房公积金提取", "异地就医备案",
    # colloquial
    "生孩子", "身份证丢了", "开农药店", "退休金怎么领", "孩子上户口", "驾照到期",
    # pinyin, initials, typos, traditional, mixed
    "shenfenzheng", "gongjijin", "sfz", "gjj", "ydjy", "身份正", "公积今提取", "結婚登記",
    "身份證", "辦sfz", "12345热线", "社保卡", "护照", "营业执照",
    # how citizens ask (issue 12): chatty, question words, spaced pinyin, typos next to a word
    "想和对象去领证", "营业执照到期了怎么办", "jie hun deng ji", "公基金提取", "药店经营许可", "jhz丢了",
)
REGIONS = (None, "150203", "150702", "150100", "152502", "150821")
FILTERS: tuple[dict[str, Any], ...] = (
    {}, {"audience": "自然人"}, {"item_type": "行政许可"}, {"online_depth": 4}, {"department": "公安厅"},
)


def _workload() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for n, q in enumerate(QUERIES):
        for m, region in enumerate(REGIONS):
            kwargs: dict[str, Any] = dict(FILTERS[(n + m) % len(FILTERS)])
            if region:
                kwargs["region"] = region
            cases.append((q, kwargs))
    return cases


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ensure_full_index(index_dir: str | Path, *, scale: float = 1.0, rebuild: bool = False) -> dict[str, Any]:
    """Build the index at `index_dir` unless an up-to-date one is published;
    returns the build report (entries, seconds, bytes, reused)."""
    completed = subprocess.run(
        [sys.executable, "-m", "catalog", "build" if rebuild else "ensure",
         "--scale", str(scale), "--out", str(index_dir)],
        check=True, capture_output=True, text=True, cwd=_PROJECT_ROOT)
    return json.loads(completed.stdout)


def run_inprocess(index_dir: str | Path, *, rounds: int = 5) -> dict[str, Any]:
    """Open the published index at `index_dir` and time the mixed workload."""
    started = time.perf_counter()
    catalogue = Catalogue.open(index_dir)
    open_ms = (time.perf_counter() - started) * 1000
    workload = _workload()
    for q, kwargs in workload:  # warm caches and the page cache
        catalogue.search(q, **kwargs)
    samples = []
    for _ in range(rounds):
        for q, kwargs in workload:
            t0 = time.perf_counter()
            catalogue.search(q, **kwargs)
            samples.append((time.perf_counter() - t0) * 1000)
    suggest_samples = []
    for q in QUERIES:
        t0 = time.perf_counter()
        catalogue.suggest(q[:2], region="150203")
        suggest_samples.append((time.perf_counter() - t0) * 1000)
    root = Path(index_dir)
    build_root = (root / CURRENT).resolve()
    meta = json.loads((build_root / "meta.json").read_text(encoding="utf-8"))
    return {
        "version": catalogue.version,
        "entries": meta["entries"],
        "searchable_entries": meta["searchable_entries"],
        "index_bytes": directory_bytes(build_root),
        "open_ms": round(open_ms, 1),
        "searches": len(samples),
        "search_ms": {"p50": round(statistics.median(samples), 3),
                      "p95": round(_percentile(samples, 95), 3),
                      "p99": round(_percentile(samples, 99), 3),
                      "max": round(max(samples), 3)},
        "suggest_ms_p95": round(_percentile(suggest_samples, 95), 3),
        "rss_mb": round(_rss_mb(), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index_dir")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    build = ensure_full_index(args.index_dir, scale=args.scale, rebuild=args.rebuild)
    report = {"build": build, "search": run_inprocess(args.index_dir)}
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
