"""Identity's records: natural-person accounts, their bindings (encrypted identifiers + masked values),
the blind-index lookups, enterprises and the people linked to them.

The lookup table's primary key (kind, blind) is what makes two first logins with the same openid end on
one account: the database refuses the second claim, whatever the timing. Times are timestamptz; the
service writes its injected clock's instants, so tests on a fixed clock stay deterministic.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE accounts (
        id               text PRIMARY KEY,
        type             text NOT NULL DEFAULT 'person',
        created_at       timestamptz NOT NULL,
        realname_level   smallint NOT NULL DEFAULT 2,
        realname_source  text,
        realname_at      timestamptz,
        -- access tokens issued before this epoch second are refused (set by recovery); 0 = never set
        tokens_after     bigint NOT NULL DEFAULT 0,
        -- an absorbed account keeps only this pointer: its id still resolves to the survivor
        merged_into      text REFERENCES accounts (id),
        merged_at        timestamptz,
        merge_reason     text,
        CHECK (merged_into IS NULL OR merged_into <> id)
    );
    CREATE INDEX accounts_merged_into ON accounts (merged_into) WHERE merged_into IS NOT NULL;

    -- One row per way into an account: wechat, alipay, phone, and the verified ID number (realname).
    -- Identifiers only encrypted (kernel.crypto); ``indexes`` names the blind-index rows the binding holds.
    CREATE TABLE account_bindings (
        account_id   text NOT NULL REFERENCES accounts (id),
        binding_id   text NOT NULL,
        channel      text NOT NULL,
        indexes      jsonb NOT NULL,
        encrypted    jsonb NOT NULL,
        masked       text,
        masked_name  text,
        via          text,
        bound_at     timestamptz NOT NULL,
        PRIMARY KEY (account_id, binding_id)
    );

    -- Blind index -> account: kind is wechat_openid, wechat_unionid, alipay_open_id, alipay_user_id, phone or
    -- id_number; blind is Crypto.blind_index(kind, value). Always points at a live account (merges re-point).
    CREATE TABLE identity_index (
        kind        text NOT NULL,
        blind       text NOT NULL,
        account_id  text NOT NULL REFERENCES accounts (id),
        PRIMARY KEY (kind, blind)
    );
    CREATE INDEX identity_index_account ON identity_index (account_id);

    -- Legal persons. A USCC is public registry data, stored as is.
    CREATE TABLE enterprises (
        id           text PRIMARY KEY,
        uscc         text NOT NULL UNIQUE,
        name         text NOT NULL,
        status       text NOT NULL,
        region_code  text NOT NULL DEFAULT '',
        created_at   timestamptz NOT NULL
    );

    -- Who may act for an enterprise: one row, read from both sides.
    CREATE TABLE enterprise_links (
        person_id      text NOT NULL REFERENCES accounts (id),
        enterprise_id  text NOT NULL REFERENCES enterprises (id),
        role           text NOT NULL CHECK (role IN ('legal_representative', 'agent')),
        status         text NOT NULL CHECK (status IN ('active', 'pending')),
        linked_at      timestamptz NOT NULL,
        PRIMARY KEY (person_id, enterprise_id)
    );
    CREATE INDEX enterprise_links_enterprise ON enterprise_links (enterprise_id);
    """)


def downgrade() -> None:
    op.execute("DROP TABLE enterprise_links; DROP TABLE enterprises; DROP TABLE identity_index; "
               "DROP TABLE account_bindings; DROP TABLE accounts;")
