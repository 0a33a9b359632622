-- 009_draft_redactions.sql
--     The originals behind the placeholders of a draft.
--
-- A draft is written from the redacted ticket, so its body may hold
-- placeholders such as [EMAIL_1].  The values they stand for are kept
-- here, one row per placeholder that occurs in the draft, so that the
-- reply posted to the requester and the view of staff allowed to see
-- personal data get them back exactly, even after the ticket changed.
-- The ticket itself already holds these values; this table holds no
-- more than the draft needs, and nothing else reads it.
--
-- SPDX-License-Identifier: Apache-2.0

ALTER TABLE drafts ADD CONSTRAINT drafts_tenant_id_id_key
    UNIQUE (tenant_id, id);

CREATE TABLE draft_redactions (
    tenant_id bigint NOT NULL,
    draft_id bigint NOT NULL,
    placeholder text NOT NULL
        CHECK (placeholder ~ '^\[[A-Z][A-Z0-9_]*_[0-9]+\]$'),
    kind text NOT NULL,
    original text NOT NULL,
    PRIMARY KEY (tenant_id, draft_id, placeholder),
    FOREIGN KEY (tenant_id, draft_id) REFERENCES drafts (tenant_id, id)
        ON DELETE CASCADE
);

ALTER TABLE draft_redactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE draft_redactions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON draft_redactions
    USING (tenant_id = NULLIF(current_setting('triage.tenant_id', true),
                              '')::bigint)
    WITH CHECK (tenant_id = NULLIF(current_setting('triage.tenant_id', true),
                                   '')::bigint);
REVOKE ALL ON draft_redactions FROM PUBLIC;
GRANT SELECT, INSERT ON draft_redactions TO triage_app;
