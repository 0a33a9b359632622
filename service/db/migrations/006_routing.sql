-- 006_routing.sql
--     Routing: each tenant's routing configuration and the versions of
--     its trained routing model.
--
-- The configuration is kept as the text the operator set (validated by
-- the service before it is stored), so that `triage route config show`
-- gives back exactly that file.  Models are numbered per tenant from 1;
-- at most one version of a tenant is active, which a partial unique
-- index enforces, and older versions stay for comparison and rollback.
-- Both tables are tenant-owned with row-level security like those of
-- 001_schema.sql.
--
-- SPDX-License-Identifier: Apache-2.0

CREATE TABLE routing_configs (
    tenant_id bigint PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    config text NOT NULL CHECK (length(config) <= 1048576),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE route_models (
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    version integer NOT NULL CHECK (version > 0),
    model bytea NOT NULL,
    labels jsonb NOT NULL DEFAULT '[]',
    metrics jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    active boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, version)
);
CREATE UNIQUE INDEX route_models_one_active ON route_models (tenant_id)
    WHERE active;

-- A model can be large; keep it out of line and uncompressed (its
-- floats do not compress well and decompressing costs each load).
ALTER TABLE route_models ALTER COLUMN model SET STORAGE EXTERNAL;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['routing_configs', 'route_models']
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

REVOKE ALL ON routing_configs, route_models FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON routing_configs, route_models TO triage_app;
