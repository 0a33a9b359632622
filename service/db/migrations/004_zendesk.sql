-- 004_zendesk.sql
--     Tables and functions of the Zendesk connector: ticket comments,
--     the incremental-export cursor of each tenant, post-back records,
--     the webhook tenant lookup and the batched inbox insert that the
--     webhook's group commit runs.
--
-- Every table is tenant-owned with row-level security like the others.
-- The functions that must work before a tenant is known (the lookup of a
-- webhook's tenant by name, the metrics of all tenants) or across the
-- tenants of one batch are SECURITY DEFINER and owned by the schema
-- owner; they set triage.tenant_id themselves before touching a
-- tenant's rows, so the policies still apply to every row written.
--
-- SPDX-License-Identifier: Apache-2.0

CREATE TABLE ticket_comments (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    ticket_id bigint NOT NULL,
    external_id text NOT NULL,
    author_id bigint,
    public boolean NOT NULL DEFAULT true,
    body text NOT NULL DEFAULT '',
    created_at timestamptz,
    UNIQUE (tenant_id, external_id),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX ticket_comments_ticket ON ticket_comments (tenant_id, ticket_id);

-- One row per tenant: where the incremental export stopped, and how many
-- ticket versions the pull found before any webhook announced them.
CREATE TABLE zendesk_cursors (
    tenant_id bigint PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    cursor text,
    recovered bigint NOT NULL DEFAULT 0,
    pages bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per approved draft sent back to Zendesk.  attempt_at is set,
-- and committed, before the ticket update is sent: a retry that finds it
-- set looks for the comment in Zendesk before posting again.
CREATE TABLE zendesk_postbacks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    draft_id bigint NOT NULL,
    ticket_external_id text NOT NULL,
    public boolean NOT NULL,
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'done')),
    attempts integer NOT NULL DEFAULT 0,
    attempt_at timestamptz,
    audit_id text,
    comment_id text,
    found_on_retry boolean NOT NULL DEFAULT false,
    done_at timestamptz,
    UNIQUE (tenant_id, draft_id)
);

-- Lets the pull ask quickly whether a webhook already announced a
-- ticket.
CREATE INDEX inbox_zendesk_ticket
    ON inbox (tenant_id, ((payload ->> 'ticket_id')));

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['ticket_comments', 'zendesk_cursors',
                             'zendesk_postbacks']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I '
            'USING (tenant_id = NULLIF(current_setting('
            '''triage.tenant_id'', true), '''')::bigint) '
            'WITH CHECK (tenant_id = NULLIF(current_setting('
            '''triage.tenant_id'', true), '''')::bigint)', t);
    END LOOP;
END
$$;

REVOKE ALL ON ticket_comments, zendesk_cursors, zendesk_postbacks
    FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON ticket_comments, zendesk_cursors, zendesk_postbacks TO triage_app;

-- The tenant a webhook names: its id and webhook secret.  The app role
-- cannot read tenants before it knows the tenant's id; this function
-- answers for exactly one name and nothing else.
CREATE FUNCTION triage_zendesk_tenant(p_name text)
RETURNS TABLE (id bigint, webhook_secret text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT t.id, t.webhook_secret FROM tenants t WHERE t.name = p_name;
$$;

-- Insert a batch of webhook events into the inbox, each with its
-- "zendesk.ingest" job, in the caller's transaction.  p_items is a JSON
-- array of {"t": tenant id, "k": dedup key, "s": source, "p": payload}.
-- Each item runs in its own subtransaction, so one bad item fails
-- alone.  Returns one row per item: its 0-based index, the inbox id
-- (NULL unless new) and 'new', 'dup' or 'error:<SQLSTATE>'.
CREATE FUNCTION triage_zendesk_inbox_batch(p_items jsonb)
RETURNS TABLE (idx integer, inbox_id bigint, status text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    it jsonb;
    i integer := 0;
    new_id bigint;
BEGIN
    FOR it IN SELECT value FROM jsonb_array_elements(p_items)
    LOOP
        idx := i;
        inbox_id := NULL;
        BEGIN
            PERFORM set_config('triage.tenant_id', it ->> 't', true);
            new_id := NULL;
            INSERT INTO inbox (tenant_id, dedup_key, source, payload)
                VALUES ((it ->> 't')::bigint, it ->> 'k',
                        coalesce(it ->> 's', 'webhook'), it -> 'p')
                ON CONFLICT (tenant_id, dedup_key) DO NOTHING
                RETURNING inbox.id INTO new_id;
            IF new_id IS NULL THEN
                status := 'dup';
            ELSE
                PERFORM triage_job_enqueue((it ->> 't')::bigint,
                    'zendesk.ingest',
                    jsonb_build_object('inbox_id', new_id,
                                       'ticket_id', it -> 'p' -> 'ticket_id'),
                    0);
                inbox_id := new_id;
                status := 'new';
            END IF;
        EXCEPTION WHEN OTHERS THEN
            status := 'error:' || SQLSTATE;
        END;
        RETURN NEXT;
        i := i + 1;
    END LOOP;
    PERFORM set_config('triage.tenant_id', '', true);
END
$$;

-- Tickets recovered by the pull, per tenant name, for metrics.
CREATE FUNCTION triage_zendesk_recovered_stats()
RETURNS TABLE (tenant text, n bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT t.name, c.recovered FROM zendesk_cursors c
      JOIN tenants t ON t.id = c.tenant_id ORDER BY t.name;
$$;

-- The owner reads every tenant's cursor row through the function above.
DO $$
BEGIN
    EXECUTE format('CREATE POLICY zendesk_owner ON zendesk_cursors TO %I '
                   'USING (true) WITH CHECK (true)', current_user);
END
$$;

REVOKE EXECUTE ON FUNCTION triage_zendesk_tenant(text),
    triage_zendesk_inbox_batch(jsonb), triage_zendesk_recovered_stats()
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION triage_zendesk_tenant(text),
    triage_zendesk_inbox_batch(jsonb), triage_zendesk_recovered_stats()
    TO triage_app;
