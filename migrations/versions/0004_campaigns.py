"""Push campaigns as records: the campaign (its current spec and lifecycle state), every spec version an
operator wrote, the four-eyes submissions and their decisions, and the audit trail of every change.

Dispatch state (queues, per-message bitmaps, plan locks) and the hot statistics counters stay in Redis.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE campaigns (
        id             text PRIMARY KEY,
        status         text NOT NULL CHECK (status IN ('draft', 'submitted', 'approved', 'scheduled', 'running',
                                                        'paused', 'cancelled', 'finished')),
        -- Bumped by every write (spec, lifecycle, plan bookkeeping); an approval names the version it read.
        version        integer NOT NULL,
        spec           jsonb NOT NULL,
        author         text NOT NULL,
        -- The creator first, then every later editor of the spec: none of them may approve it.
        authors        text[] NOT NULL,
        start_at       timestamptz,
        end_at         timestamptz,
        approved_by    text,
        approved_at    timestamptz,
        rejection      text,
        paused_reason  text,
        plan_state     text,
        planned_at     timestamptz,
        created_at     timestamptz NOT NULL,
        updated_at     timestamptz NOT NULL
    );
    -- The console's listing (newest first, optionally by status) and the worker's two hot questions:
    -- which scheduled campaigns are due, which are running or paused. Partial indexes stay tiny.
    CREATE INDEX campaigns_newest ON campaigns (created_at DESC, id DESC);
    CREATE INDEX campaigns_by_status ON campaigns (status, created_at DESC, id DESC);
    CREATE INDEX campaigns_scheduled_due ON campaigns (start_at) WHERE status = 'scheduled';
    CREATE INDEX campaigns_active ON campaigns (id) WHERE status IN ('running', 'paused');

    -- One row per spec an operator wrote (create, every edit that changed something), keyed by the
    -- campaign version that write produced.
    CREATE TABLE campaign_versions (
        campaign_id  text NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
        version      integer NOT NULL,
        spec         jsonb NOT NULL,
        written_by   text NOT NULL,
        fields       text[] NOT NULL,
        written_at   timestamptz NOT NULL,
        PRIMARY KEY (campaign_id, version)
    );

    -- A submission for approval and its outcome: approved/rejected by an approver, or withdrawn (edited
    -- or cancelled while waiting). At most one open submission per campaign, at most one approval per
    -- submitted version.
    CREATE TABLE campaign_approvals (
        id                 bigserial PRIMARY KEY,
        campaign_id        text NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
        submitted_version  integer NOT NULL,
        submitted_by       text NOT NULL,
        submitted_at       timestamptz NOT NULL,
        decision           text CHECK (decision IN ('approved', 'rejected', 'withdrawn')),
        decided_by         text,
        decided_at         timestamptz,
        reason             text,
        CHECK ((decision IS NULL) = (decided_at IS NULL))
    );
    CREATE UNIQUE INDEX campaign_approvals_open ON campaign_approvals (campaign_id) WHERE decision IS NULL;
    CREATE UNIQUE INDEX campaign_approvals_once ON campaign_approvals (campaign_id, submitted_version)
        WHERE decision = 'approved';

    CREATE TABLE campaign_audit (
        id           bigserial PRIMARY KEY,
        campaign_id  text NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
        at           timestamptz NOT NULL,
        actor        text NOT NULL,
        action       text NOT NULL,
        from_status  text,
        to_status    text NOT NULL,
        changes      jsonb NOT NULL DEFAULT '{}'::jsonb,
        version      integer
    );
    CREATE INDEX campaign_audit_by_campaign ON campaign_audit (campaign_id, id);
    """)


def downgrade() -> None:
    op.execute("DROP TABLE campaign_audit; DROP TABLE campaign_approvals; DROP TABLE campaign_versions; "
               "DROP TABLE campaigns;")
