"""Push's operator commands: ``python -m push rebuild-targeting``.

rebuild-targeting  rebuild the citizen index, profiles, encrypted addresses and identity-derived segment
                   bitmaps in Redis from the records in PostgreSQL (after losing Redis, or after a bulk
                   load), then the consent counters and bitmaps from the consent ledger. Safe to run on
                   a live system: citizens keep their index, segments are replaced (consent takes the
                   record's view: see push/consent_rebuild.py).
"""
from __future__ import annotations

import argparse
import json
import sys

from bootstrap import bootstrap
from config import Settings
from kernel.logging import configure_logging
from kernel.postgres import Database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m push", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rebuild-targeting", help="rebuild push's Redis targeting data from PostgreSQL")
    parser.parse_args(argv)
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    services = bootstrap(settings)
    # A bulk read: pages of citizens with deadlines fit for them, not the API's 0.8 s.
    reader = Database(settings.database_url, min_size=0, max_size=1, statement_timeout_ms=60_000, io_timeout=120.0)
    try:
        report = services.push.rebuild_targeting(services.identity.directory.all_facts(database=reader), database=reader)
    finally:
        reader.close()
    print(json.dumps(report.__dict__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
