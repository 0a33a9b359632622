-- 001_schema.sql
--     Roles, tenants and every tenant-owned table, with row-level security.
--
-- Runs as the schema owner (the user of the migration connection).  The
-- service itself works as triage_app, a role that owns nothing, cannot
-- bypass row-level security and sees only the rows of the tenant named
-- by the transaction-local setting triage.tenant_id.
--
-- SPDX-License-Identifier: Apache-2.0

-- The application role is cluster-wide, so several databases (or two
-- processes migrating at once) may race to create it: losing is fine.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'triage_app') THEN
        BEGIN
            CREATE ROLE triage_app NOLOGIN NOSUPERUSER NOCREATEDB
                NOCREATEROLE NOBYPASSRLS NOINHERIT;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    IF NOT pg_has_role(current_user, 'triage_app', 'MEMBER') THEN
        EXECUTE format('GRANT triage_app TO %I', current_user);
    END IF;
END
$$;

-- Nobody but the owner may create objects here (the default before 15
-- let every role do so, which would let the app role plant functions).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO triage_app;

CREATE TABLE tenants (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    webhook_secret text NOT NULL,
    settings jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email text NOT NULL,
    password_hash text,
    role text NOT NULL DEFAULT 'agent'
        CHECK (role IN ('admin', 'agent', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, email),
    UNIQUE (tenant_id, id)
);

CREATE TABLE tickets (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    external_id text NOT NULL,
    subject text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    requester text,
    status text NOT NULL DEFAULT 'new',
    priority text,
    language text,
    raw jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, external_id),
    UNIQUE (tenant_id, id)
);

CREATE TABLE inbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    dedup_key text NOT NULL,
    source text NOT NULL DEFAULT 'webhook',
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    UNIQUE (tenant_id, dedup_key)
);
CREATE INDEX inbox_unprocessed ON inbox (tenant_id, received_at)
    WHERE processed_at IS NULL;

CREATE TABLE articles (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    external_id text NOT NULL,
    title text NOT NULL,
    body text NOT NULL,
    locale text NOT NULL DEFAULT 'en',
    section text,
    url text,
    draft boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, external_id)
);

-- Composite keys keep a draft from pointing at another tenant's ticket
-- or user: foreign keys are checked without row-level security.
CREATE TABLE drafts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    ticket_id bigint NOT NULL,
    body text NOT NULL,
    citations jsonb NOT NULL DEFAULT '[]',
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'rejected', 'sent')),
    approver bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, approver) REFERENCES users (tenant_id, id)
);

-- The ledger is append-only: a trigger refuses UPDATE, DELETE and
-- TRUNCATE for every role, and the app role is granted neither.  Each
-- row chains to the previous row of its tenant by hash.
CREATE TABLE ledger (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL REFERENCES tenants (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    prev_hash text,
    hash text NOT NULL,
    payload jsonb NOT NULL
);
CREATE INDEX ledger_tenant ON ledger (tenant_id, id);

CREATE FUNCTION triage_ledger_forbid() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only'
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE FUNCTION triage_ledger_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- One writer per tenant at a time, so the chain never forks.
    PERFORM pg_advisory_xact_lock(1952544371, (NEW.tenant_id % 2147483647)::int);
    SELECT l.hash INTO NEW.prev_hash FROM ledger l
        WHERE l.tenant_id = NEW.tenant_id ORDER BY l.id DESC LIMIT 1;
    NEW.hash := encode(sha256(convert_to(coalesce(NEW.prev_hash, '') ||
        NEW.tenant_id::text || NEW.payload::text, 'UTF8')), 'hex');
    RETURN NEW;
END
$$;

CREATE TRIGGER ledger_no_update BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION triage_ledger_forbid();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION triage_ledger_forbid();
CREATE TRIGGER ledger_chain BEFORE INSERT ON ledger
    FOR EACH ROW EXECUTE FUNCTION triage_ledger_chain();

-- Row-level security, enabled and forced, one policy per table.  An
-- unset or empty triage.tenant_id matches no row.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_self ON tenants
    USING (id = NULLIF(current_setting('triage.tenant_id', true), '')::bigint)
    WITH CHECK
        (id = NULLIF(current_setting('triage.tenant_id', true), '')::bigint);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'tickets', 'inbox', 'articles',
                             'drafts', 'ledger']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I '
            'USING (tenant_id = NULLIF(current_setting('
            '''triage.tenant_id'', true), '''')::bigint) '
            'WITH CHECK (tenant_id = NULLIF(current_setting('
            '''triage.tenant_id'', true), '''')::bigint)', t);
    END LOOP;
    -- Operator commands (tenant add, tenant list) run as the schema
    -- owner and must see every tenant; the app role never gets this.
    EXECUTE format('CREATE POLICY owner_all ON tenants TO %I '
                   'USING (true) WITH CHECK (true)', current_user);
END
$$;

REVOKE ALL ON tenants, users, tickets, inbox, articles, drafts, ledger
    FROM PUBLIC;
GRANT SELECT, UPDATE (settings) ON tenants TO triage_app;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON users, tickets, inbox, articles, drafts TO triage_app;
GRANT SELECT, INSERT ON ledger TO triage_app;
REVOKE EXECUTE ON FUNCTION triage_ledger_forbid(), triage_ledger_chain()
    FROM PUBLIC;
GRANT SELECT ON schema_migrations TO triage_app;
