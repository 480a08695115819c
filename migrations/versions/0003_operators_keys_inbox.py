"""Console operators, the token-signing key set and the in-app inbox move from Redis into PostgreSQL.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE operators (
        operator_id    text PRIMARY KEY,
        -- The login name; the constraint (not a check before the insert) is what refuses a second
        -- operator with the same name when two admins create one at the same moment.
        username       text NOT NULL CONSTRAINT operators_username_key UNIQUE,
        password_hash  text NOT NULL,
        roles          text[] NOT NULL,
        disabled       boolean NOT NULL DEFAULT false,
        created_at     timestamptz NOT NULL
    );

    -- ES256 keys that sign access tokens. The private key is the PKCS#8 PEM encrypted by
    -- kernel.crypto (context "signing-key:<kid>"), exactly as it was kept in Redis.
    CREATE TABLE signing_keys (
        kid          text PRIMARY KEY,
        private_enc  text NOT NULL,
        public_jwk   jsonb NOT NULL,
        created_at   timestamptz NOT NULL,
        retired_at   timestamptz
    );
    -- The active key is the one not retired: at most one at any time.
    CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((true)) WHERE retired_at IS NULL;

    -- One row per message in a citizen's inbox. The key is the deterministic message id (campaign x
    -- citizen x channel, or the account notice's id), so the dispatcher's at-least-once delivery
    -- inserts it once. "C" collation: pages order ties by id bytewise, as the cursor expects.
    CREATE TABLE inbox_messages (
        account_id    text NOT NULL,
        message_id    text COLLATE "C" NOT NULL,
        delivered_at  timestamptz NOT NULL,
        body          jsonb NOT NULL,
        read_at       timestamptz,
        PRIMARY KEY (account_id, message_id)
    );
    CREATE INDEX inbox_messages_newest ON inbox_messages (account_id, delivered_at DESC, message_id DESC);
    -- The badge counts only unread rows: a small partial index.
    CREATE INDEX inbox_messages_unread ON inbox_messages (account_id) WHERE read_at IS NULL;
    -- Retention purges by age across all citizens.
    CREATE INDEX inbox_messages_age ON inbox_messages (delivered_at);
    """)


def downgrade() -> None:
    op.execute("DROP TABLE inbox_messages; DROP TABLE signing_keys; DROP TABLE operators;")
