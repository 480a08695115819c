"""Apply the schema migrations (``migrations/``, Alembic) to a database: ``python -m tools.migrate [URL]``.

`make run` and the test harness call this before anything opens the database; a newer checkout's
migrations apply on top of an older ``var/`` database.
"""
from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    # SQLAlchemy's name for the psycopg 3 driver; '%' must be doubled for ConfigParser.
    config.set_main_option("sqlalchemy.url", url.replace("postgresql://", "postgresql+psycopg://", 1).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def main(argv: list[str]) -> int:
    from config import Settings

    url = argv[0] if argv else Settings.from_env().database_url
    upgrade(url)
    from kernel.postgres import Database
    from auth.audit_records import ensure_partitions

    database = Database(url, min_size=0, max_size=1, statement_timeout_ms=60_000, io_timeout=None)
    try:
        with database.transaction() as conn:
            ensure_partitions(conn)
    finally:
        database.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
