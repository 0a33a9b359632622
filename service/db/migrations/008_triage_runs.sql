-- 008_triage_runs.sql
--     One row per triage of a ticket: what was decided and why, and the
--     draft when one was written.
--
-- A triage job that runs again after a crash (its work committed, its
-- completion not) must not write a second draft: job_id is unique, and
-- the pipeline checks it inside the transaction that writes the draft.
-- Draft bodies keep the placeholders of redacted personal data; staff
-- who may see the originals get them restored from the ticket.
--
-- SPDX-License-Identifier: Apache-2.0

CREATE TABLE triage_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    ticket_id bigint NOT NULL,
    job_id bigint,
    action text NOT NULL
        CHECK (action IN ('escalate', 'draft', 'auto_send')),
    reasons jsonb NOT NULL DEFAULT '[]',
    team text NOT NULL,
    group_id bigint,
    priority text NOT NULL,
    intent text,
    intent_prob double precision,
    language text NOT NULL,
    draft_id bigint,
    ledger_seq bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, job_id),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX triage_runs_ticket ON triage_runs (tenant_id, ticket_id, id);

-- What the approver needs next to the draft's text.
ALTER TABLE drafts
    ADD COLUMN language text,
    ADD COLUMN provider text,
    ADD COLUMN model text,
    ADD COLUMN grounded boolean,
    ADD COLUMN sentences jsonb NOT NULL DEFAULT '[]';

ALTER TABLE triage_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE triage_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON triage_runs
    USING (tenant_id = NULLIF(current_setting('triage.tenant_id', true),
                              '')::bigint)
    WITH CHECK (tenant_id = NULLIF(current_setting('triage.tenant_id', true),
                                   '')::bigint);
REVOKE ALL ON triage_runs FROM PUBLIC;
GRANT SELECT, INSERT ON triage_runs TO triage_app;
