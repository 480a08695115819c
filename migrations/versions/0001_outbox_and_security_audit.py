"""The outbox for facts other packages must learn, the security audit log (monthly partitions) and
per-account preferences (opt-outs among them) — the first records PostgreSQL holds.

Revision ID: 0001
Revises:
"""
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE outbox (
        id            bigserial PRIMARY KEY,
        event_id      text NOT NULL UNIQUE,
        name          text NOT NULL,
        data          jsonb NOT NULL,
        occurred_at   timestamptz NOT NULL DEFAULT now(),
        published_at  timestamptz
    );
    -- The relay reads only what is still to be published: a small partial index however long the table.
    CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

    -- Pseudonyms only (never a phone, ID number, name, openid or token); one partition per month so
    -- retention (at least six months, Cybersecurity Law art. 21) drops whole partitions.
    CREATE TABLE security_audit (
        at        timestamptz NOT NULL,
        id        bigserial,
        event     text NOT NULL,
        outcome   text NOT NULL,
        actor     text,
        related   text,
        ip        text,
        channel   text,
        detail    jsonb NOT NULL DEFAULT '{}'::jsonb,
        PRIMARY KEY (at, id)
    ) PARTITION BY RANGE (at);
    -- Catches entries outside the prepared months (a host clock far off, tests on a fixed clock).
    CREATE TABLE security_audit_default PARTITION OF security_audit DEFAULT;
    CREATE INDEX security_audit_actor ON security_audit (actor, at DESC);
    CREATE INDEX security_audit_related ON security_audit (related, at DESC) WHERE related IS NOT NULL;

    CREATE TABLE account_preferences (
        account_id  text PRIMARY KEY,
        preferences jsonb NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now()
    );
    """)


def downgrade() -> None:
    op.execute("DROP TABLE account_preferences; DROP TABLE security_audit; DROP TABLE outbox;")
