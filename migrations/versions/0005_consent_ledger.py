"""The subscription/consent ledger becomes a record: the current state per (citizen, channel, template) and
an append-only history of every grant, reject, ban, revocation, consumption and refund (what a citizen's
"我的数据" export reads). Redis keeps only the counters and bitmaps the planner's Lua consumes from,
derived from ``consent_state`` and rebuilt from it (``python -m push rebuild-targeting``).

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE consent_state (
        account_id   text NOT NULL,
        channel      text NOT NULL CHECK (channel IN ('wechat', 'alipay')),
        template_id  text NOT NULL,
        kind         text NOT NULL CHECK (kind IN ('one_time', 'long_term')),
        -- One-time sends left (>= 0); -1 for an accepted long-term template.
        remaining    integer NOT NULL CHECK (remaining >= -1),
        status       text NOT NULL CHECK (status IN ('active', 'used_up', 'rejected', 'banned', 'revoked')),
        -- Bumped by every grant and revocation (not by consumption or refunds): Redis applies a change
        -- only on top of the one before it, and otherwise takes this row's view (push.consent).
        version      bigint NOT NULL,
        updated_at   timestamptz NOT NULL,
        PRIMARY KEY (account_id, channel, template_id)
    );

    CREATE TABLE consent_history (
        id           bigserial PRIMARY KEY,
        account_id   text NOT NULL,
        channel      text NOT NULL,
        template_id  text NOT NULL,
        action       text NOT NULL CHECK (action IN ('grant', 'confirm', 'reject', 'ban', 'revoke', 'consume',
                                                     'refund')),
        -- client (the app's popup report), wechat_event, planner, dispatcher, dead_letter_retry
        source       text NOT NULL,
        delta        integer NOT NULL,
        remaining    integer NOT NULL,
        campaign_id  text,
        -- A pushed event's identity (digest of its signed timestamp, nonce and signature): the same event
        -- delivered twice (WeChat retries after an error) is applied once.
        event_ref    text,
        at           timestamptz NOT NULL
    );
    CREATE INDEX consent_history_by_account ON consent_history (account_id, at, id);
    CREATE UNIQUE INDEX consent_history_event_once ON consent_history (account_id, channel, template_id, event_ref)
        WHERE event_ref IS NOT NULL;
    """)


def downgrade() -> None:
    op.execute("DROP TABLE consent_history; DROP TABLE consent_state;")
