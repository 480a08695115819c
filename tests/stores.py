"""Store helpers shared by the session fixtures (tests/conftest.py) and module-scoped stacks."""
from __future__ import annotations

# Sequences owned by the given tables (serial or identity columns), so they restart as TRUNCATE … RESTART
# IDENTITY would restart them.
_OWNED_SEQUENCES = (
    "SELECT sequence.oid::regclass::text AS name FROM pg_depend dependency "
    "JOIN pg_class sequence ON sequence.oid = dependency.objid AND sequence.relkind = 'S' "
    "JOIN pg_class owner ON owner.oid = dependency.refobjid "
    "WHERE dependency.classid = 'pg_class'::regclass AND dependency.refclassid = 'pg_class'::regclass "
    "AND dependency.deptype IN ('a', 'i') AND owner.relnamespace = 'public'::regnamespace "
    "AND owner.relname = ANY(%s)")


def emptied_database(postgres_server):
    """The process's pool on the private server, every table emptied (partitions and migrations kept).

    DELETE with foreign-key triggers off (``session_replication_role = replica``, allowed because the test
    role is the cluster's superuser) plus restarting the owned sequences does what ``TRUNCATE … RESTART
    IDENTITY`` did, at a fraction of its cost on tables this small: TRUNCATE swaps every table's files.
    """
    from kernel.postgres import database_for

    if not postgres_server.running:
        postgres_server.start()  # a test that stopped it and failed before restarting must not break the rest
    db = database_for(postgres_server.url)
    with db.transaction() as conn:
        tables = [row["tablename"] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' "
            "AND tablename NOT LIKE 'security_audit_%'").fetchall()]
        conn.execute("SET LOCAL session_replication_role = replica")
        for table in tables:  # security_audit is the partitioned parent: deleting from it covers its partitions
            conn.execute(f"DELETE FROM {table}")
        for row in conn.execute(_OWNED_SEQUENCES, (tables,)).fetchall():
            conn.execute(f"ALTER SEQUENCE {row['name']} RESTART")
    return db
