-- Campaign guardrails (CONTRACT: Campaign guardrails): each campaign's counters, kept as links are
-- issued and reports are committed, so that reading a campaign's rates never scans its history.
-- `epoch` counts resumes: a resume starts the counts afresh, and a recipient or a report counts
-- once per campaign and epoch.
CREATE TABLE campaigns (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             text        NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    epoch            integer     NOT NULL DEFAULT 0,
    counted_since    timestamptz NOT NULL DEFAULT now(),
    sent             bigint      NOT NULL DEFAULT 0,
    hard_bounces     bigint      NOT NULL DEFAULT 0,
    soft_bounces     bigint      NOT NULL DEFAULT 0,
    complaints       bigint      NOT NULL DEFAULT 0,
    unsubscribes     bigint      NOT NULL DEFAULT 0,
    status           text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    paused_at        timestamptz,
    paused_reason    text,
    paused_by        text        CHECK (paused_by IN ('complaint_rate', 'hard_bounce_rate')),
    paused_rate      double precision,
    paused_count     bigint,   -- the complaints or hard bounces, and `sent`, when it was paused: the
    paused_sent      bigint,   -- counts go on growing while a campaign is paused
    resumed_at       timestamptz,
    resumed_by       text,
    resume_note      text
);
CREATE INDEX campaigns_newest ON campaigns (created_at DESC, id DESC);
CREATE INDEX campaigns_paused ON campaigns (paused_at) WHERE status = 'paused';
CREATE INDEX campaigns_by_activity ON campaigns (last_activity_at);

-- Who was given links in a campaign (by recipient id: erasure deletes what names the address).
CREATE TABLE campaign_recipients (
    campaign_id  bigint  NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    recipient_id bigint  NOT NULL,
    epoch        integer NOT NULL,
    PRIMARY KEY (campaign_id, recipient_id)
);

-- Whose complaint, bounce or unsubscribe counted for a campaign: one of each kind per recipient.
-- Unsubscribes come in bursts (every one-click of a newsletter): they are not added to the
-- campaign's row one by one, which would make every click wait for the one before it on that
-- row. They are kept `folded = false` and added in batches (the worker folds them every few
-- seconds); a read adds the few not folded yet, so it is exact.
CREATE TABLE campaign_reports (
    campaign_id  bigint  NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    kind         text    NOT NULL CHECK (kind IN ('complaint', 'hard_bounce', 'soft_bounce', 'unsubscribe')),
    recipient_id bigint  NOT NULL,
    epoch        integer NOT NULL,
    folded       boolean NOT NULL DEFAULT true,
    PRIMARY KEY (campaign_id, kind, recipient_id)
);
CREATE INDEX campaign_reports_unfolded ON campaign_reports (campaign_id, epoch) WHERE NOT folded;

-- A gateway copy's campaign (its X-Optout-Campaign header): its link carries it, and a paused
-- campaign's copies wait.
ALTER TABLE outbox ADD COLUMN campaign text;
