"""Search quality on citizen-style query sets: hit@1, hit@3 and MRR per category, for our search
and for the SQLite FTS5 trigram baseline over the same catalogue, side by side.

    python -m bench.search_eval /tmp/catalog-index [bench/search_eval.jsonl ...] [--json out.json] [--misses]

Each line of a set: {"q", "cat", "expect": [acceptable basic codes], "region"?, "mode"?}; mode
`elder` searches as the 长辈版 does, `suggest` asks the completions instead of search. A query
counts as empty when it returned nothing at all.
"""
from __future__ import annotations

import argparse
import inspect
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

_PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_PROJECT_ROOT))

from bench.fts_baseline import FtsBaseline  # noqa: E402
from catalog.service import Catalogue  # noqa: E402

DEFAULT_SETS = (_PROJECT_ROOT / "bench" / "search_eval.jsonl",)
# the holdout sets were written after tuning on search_eval.jsonl (see bench/results/SEARCH_QUALITY.md)
ALL_SETS = (*DEFAULT_SETS, _PROJECT_ROOT / "bench" / "search_holdout.jsonl",
            _PROJECT_ROOT / "bench" / "search_holdout2.jsonl")
TOP = 10


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class OurSearch:
    def __init__(self, catalogue: Catalogue) -> None:
        self._cat = catalogue
        self._has_mode = "mode" in inspect.signature(catalogue.search).parameters

    def __call__(self, row: dict[str, Any]) -> list[str]:
        region = row.get("region")
        if row.get("mode") == "suggest":
            return [s.basic_code for s in self._cat.suggest(row["q"], region=region)]
        kwargs: dict[str, Any] = {"region": region, "page_size": TOP}
        if self._has_mode and row.get("mode") == "elder":
            kwargs["mode"] = "elder"
        return [hit.basic_code for hit in self._cat.search(row["q"], **kwargs).items]


def _rank(found: list[str], expect: list[str]) -> int | None:
    for position, code in enumerate(found, 1):
        if code in expect:
            return position
    return None


def evaluate(rows: list[dict[str, Any]], engine) -> dict[str, Any]:
    per_cat: dict[str, list[tuple[int | None, bool, float]]] = defaultdict(list)
    misses = []
    for row in rows:
        started = time.perf_counter()
        found = engine(row)
        elapsed = (time.perf_counter() - started) * 1000
        rank = _rank(found, row["expect"])
        per_cat[row["cat"]].append((rank, not found, elapsed))
        if rank != 1:
            misses.append({"q": row["q"], "cat": row["cat"], "rank": rank, "top3": found[:3],
                           "expect": row["expect"][:3]})
    def figures(results: list[tuple[int | None, bool, float]]) -> dict[str, Any]:
        n = len(results)
        return {"n": n,
                "hit@1": round(sum(r == 1 for r, _, _ in results) / n, 3),
                "hit@3": round(sum(r is not None and r <= 3 for r, _, _ in results) / n, 3),
                "mrr": round(sum(1 / r for r, _, _ in results if r) / n, 3),
                "empty": sum(e for _, e, _ in results)}
    categories = {cat: figures(results) for cat, results in sorted(per_cat.items())}
    everything = [r for results in per_cat.values() for r in results]
    times = sorted(t for _, _, t in everything)
    overall = figures(everything)
    overall["ms_p50"] = round(statistics.median(times), 3)
    overall["ms_p95"] = round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 3)
    return {"overall": overall, "categories": categories, "misses": misses}


def table(ours: dict[str, Any], baseline: dict[str, Any]) -> str:
    lines = [f"{'category':<14}{'n':>4} | {'ours h@1':>8}{'h@3':>7}{'MRR':>7}{'empty':>6} | "
             f"{'fts5 h@1':>8}{'h@3':>7}{'MRR':>7}{'empty':>6}"]
    for cat in [*ours["categories"], "OVERALL"]:
        a = ours["overall"] if cat == "OVERALL" else ours["categories"][cat]
        b = baseline["overall"] if cat == "OVERALL" else baseline["categories"][cat]
        lines.append(f"{cat:<14}{a['n']:>4} | {a['hit@1']:>8.3f}{a['hit@3']:>7.3f}{a['mrr']:>7.3f}{a['empty']:>6} | "
                     f"{b['hit@1']:>8.3f}{b['hit@3']:>7.3f}{b['mrr']:>7.3f}{b['empty']:>6}")
    lines.append(f"latency ms (ours, per query): p50 {ours['overall']['ms_p50']}  p95 {ours['overall']['ms_p95']}")
    return "\n".join(lines)


def run(index_dir: str | Path, sets: tuple[Path, ...] = DEFAULT_SETS) -> dict[str, Any]:
    catalogue = Catalogue.open(index_dir)
    ours, baseline = OurSearch(catalogue), FtsBaseline(catalogue._snapshot.ref)
    report = {}
    for path in sets:
        rows = load(path)
        for row in rows[:20]:  # warm-up
            ours(row)
        mine = evaluate(rows, ours)
        theirs = evaluate(rows, lambda row: baseline.search(row["q"], limit=TOP))
        report[path.name] = {"ours": mine, "fts5_trigram": theirs, "table": table(mine, theirs)}
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index_dir")
    parser.add_argument("sets", nargs="*", type=Path)
    parser.add_argument("--json", type=Path, help="write the full report (with misses) here")
    parser.add_argument("--misses", action="store_true", help="print our misses")
    args = parser.parse_args()
    report = run(args.index_dir, tuple(args.sets) or DEFAULT_SETS)
    for name, result in report.items():
        print(f"\n== {name} ==\n{result['table']}")
        if args.misses:
            for miss in result["ours"]["misses"]:
                print(json.dumps(miss, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
