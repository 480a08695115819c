"""`python -m catalog build --scale S --out DIR` builds and atomically
publishes an index; `ensure` does so only when the published one is missing
or stale (other scale, data or index format); `search Q --index DIR` tries it."""
from __future__ import annotations

import argparse
import json
import sys

from catalog.build import build_index, ensure_index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m catalog")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("build", "generate the catalogue and publish a new index"),
                            ("ensure", "build only if the published index is missing or stale")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--out", required=True, help="index root (holds builds/ and the current symlink)")
        command.add_argument("--scale", type=float, default=1.0, help="1.0 ≈ 502k entries; 0.02 for tests")
    search = commands.add_parser("search", help="run one search against a built index")
    search.add_argument("q")
    search.add_argument("--index", required=True)
    search.add_argument("--region")
    search.add_argument("--page-size", type=int, default=10)
    args = parser.parse_args(argv)

    if args.command in ("build", "ensure"):
        make = build_index if args.command == "build" else ensure_index
        print(json.dumps(make(args.out, scale=args.scale).to_dict(), ensure_ascii=False, indent=1))
    else:
        from catalog.service import Catalogue
        result = Catalogue.open(args.index).search(args.q, region=args.region, page_size=args.page_size)
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
