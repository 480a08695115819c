"""Store helpers shared by the session fixtures (tests/conftest.py) and module-scoped stacks."""
from __future__ import annotations


def emptied_database(postgres_server):
    """The process's pool on the private server, every table emptied (partitions and migrations kept)."""
    from kernel.postgres import database_for

    if not postgres_server.running:
        postgres_server.start()  # a test that stopped it and failed before restarting must not break the rest
    db = database_for(postgres_server.url)
    with db.transaction() as conn:
        tables = [row["tablename"] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' "
            "AND tablename NOT LIKE 'security_audit_%'").fetchall()]
        conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
    return db
