-- 005_ledger.sql
--     The decision ledger's record format: a per-tenant sequence number,
--     the kind of entry, the draft and ticket it concerns, the payload
--     text exactly as hashed, and a hash over all of them.
--
-- Every entry of a tenant gets the next sequence number and chains to the
-- hash of the entry before it.  The hash (format 1) is the lower-case hex
-- SHA-256 of these fields joined by a newline (0x0a), in this order:
--
--     triage-ledger-1
--     tenant_id                  decimal
--     seq                        decimal, 1 for the first entry
--     created_at                 UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ
--     kind                       [a-z][a-z0-9_]{0,31}
--     draft_id                   decimal, empty when NULL
--     ticket_id                  decimal, empty when NULL
--     prev_hash                  64 hex digits, empty for seq 1
--     payload_text               verbatim, last (it may hold newlines)
--
-- The server computes it in the insert trigger, under a per-tenant
-- advisory lock, so no writer can fork the chain or choose its own seq,
-- timestamp or hash; service/ledger recomputes it independently to
-- verify.  payload_text is the text that was hashed; the jsonb column
-- payload is kept for queries and must equal payload_text::jsonb (jsonb
-- reorders keys and rewrites numbers, so it cannot be hashed itself).
--
-- Rows written before this migration keep their original hash, sha256 of
-- prev_hash || tenant_id || payload::text, and are marked format 0.
--
-- SPDX-License-Identifier: Apache-2.0

ALTER TABLE ledger
    ADD COLUMN seq bigint,
    ADD COLUMN kind text,
    ADD COLUMN draft_id bigint,
    ADD COLUMN ticket_id bigint,
    ADD COLUMN payload_text text,
    ADD COLUMN format smallint;

-- Number the earlier rows in the order they were chained.  The owner is
-- subject to the forced row-level security unless it is a superuser, and
-- the append-only trigger refuses every UPDATE: lift both for this one
-- statement, inside the migration's transaction.
ALTER TABLE ledger NO FORCE ROW LEVEL SECURITY;
ALTER TABLE ledger DISABLE TRIGGER ledger_no_update;
UPDATE ledger l
    SET seq = n.seq, kind = 'legacy', payload_text = l.payload::text,
        format = 0
    FROM (SELECT id, row_number() OVER (PARTITION BY tenant_id
                                        ORDER BY id) AS seq
          FROM ledger) n
    WHERE n.id = l.id;
ALTER TABLE ledger ENABLE TRIGGER ledger_no_update;
ALTER TABLE ledger FORCE ROW LEVEL SECURITY;

ALTER TABLE ledger
    ALTER COLUMN seq SET NOT NULL,
    ALTER COLUMN kind SET NOT NULL,
    ALTER COLUMN kind SET DEFAULT 'note',
    ALTER COLUMN payload_text SET NOT NULL,
    ALTER COLUMN format SET NOT NULL,
    ALTER COLUMN format SET DEFAULT 1,
    ADD CONSTRAINT ledger_tenant_seq UNIQUE (tenant_id, seq),
    ADD CONSTRAINT ledger_seq_positive CHECK (seq >= 1),
    ADD CONSTRAINT ledger_kind_name CHECK (kind ~ '^[a-z][a-z0-9_]{0,31}$'),
    ADD CONSTRAINT ledger_format_known CHECK (format IN (0, 1)),
    ADD CONSTRAINT ledger_hash_hex CHECK (hash ~ '^[0-9a-f]{64}$'),
    ADD CONSTRAINT ledger_ids_positive CHECK (draft_id > 0 AND ticket_id > 0),
    ADD CONSTRAINT ledger_payload_same CHECK (payload = payload_text::jsonb);

-- replay looks a draft's decision up by draft id.
CREATE INDEX ledger_draft ON ledger (tenant_id, draft_id, seq)
    WHERE draft_id IS NOT NULL;

-- The chain trigger now numbers the entry, stamps it with the clock at
-- the time the lock was granted (so created_at follows seq), fills
-- whichever of payload and payload_text is missing, and hashes.  The
-- trigger runs as the inserting role, under its row-level security: it
-- sees exactly the tenant's rows.  Under READ COMMITTED each statement
-- here takes a fresh snapshot, so after the lock the last row committed
-- by the previous writer is visible; a REPEATABLE READ writer that
-- missed it collides on ledger_tenant_seq instead of forking.
CREATE OR REPLACE FUNCTION triage_ledger_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
    last_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(1952544371,
                                  (NEW.tenant_id % 2147483647)::int);
    SELECT l.seq, l.hash INTO last_seq, last_hash FROM ledger l
        WHERE l.tenant_id = NEW.tenant_id ORDER BY l.seq DESC LIMIT 1;
    NEW.seq := coalesce(last_seq, 0) + 1;
    NEW.prev_hash := last_hash;
    NEW.created_at := clock_timestamp();
    NEW.format := 1;
    IF NEW.payload_text IS NULL THEN
        NEW.payload_text := NEW.payload::text;
    END IF;
    IF NEW.payload IS NULL THEN
        NEW.payload := NEW.payload_text::jsonb;
    END IF;
    NEW.hash := encode(sha256(convert_to(
        'triage-ledger-1' || E'\n' ||
        NEW.tenant_id::text || E'\n' ||
        NEW.seq::text || E'\n' ||
        to_char(NEW.created_at AT TIME ZONE 'UTC',
                'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || E'\n' ||
        NEW.kind || E'\n' ||
        coalesce(NEW.draft_id::text, '') || E'\n' ||
        coalesce(NEW.ticket_id::text, '') || E'\n' ||
        coalesce(NEW.prev_hash, '') || E'\n' ||
        NEW.payload_text, 'UTF8')), 'hex');
    RETURN NEW;
END
$$;

-- Whether the jsonb payload still says what payload_text says.  verify
-- asks this of every row; a payload_text altered into text that is not
-- JSON at all must answer false, not abort the walk.
CREATE FUNCTION triage_ledger_payload_same(p jsonb, t text)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN p = t::jsonb;
EXCEPTION WHEN others THEN
    RETURN false;
END
$$;
REVOKE EXECUTE ON FUNCTION triage_ledger_payload_same(jsonb, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION triage_ledger_payload_same(jsonb, text)
    TO triage_app;

-- The app role appends and reads, nothing else; the columns the trigger
-- computes are not even insertable by it.
REVOKE ALL ON ledger FROM triage_app;
GRANT SELECT ON ledger TO triage_app;
GRANT INSERT (tenant_id, kind, draft_id, ticket_id, payload, payload_text)
    ON ledger TO triage_app;
