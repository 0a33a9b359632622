-- 003_kb.sql
--     The knowledge base: article body formats, versioned search indexes
--     stored in the database, their chunks, and a tenant lookup by name.
--
-- An index version is built beside the live one (status 'building'),
-- becomes 'ready' once every blob and chunk of it is stored, and one
-- transaction makes it 'live' while the former live version goes back to
-- 'ready' (kept for rollback).  A rolled-back version becomes 'retired'.
-- At most one version of a tenant is live, which a partial unique index
-- enforces.  Every table is tenant-owned with row-level security like
-- those of 001_schema.sql.
--
-- SPDX-License-Identifier: Apache-2.0

ALTER TABLE articles ADD COLUMN body_format text NOT NULL DEFAULT 'html'
    CHECK (body_format IN ('html', 'markdown', 'text'));
ALTER TABLE articles ADD CONSTRAINT articles_tenant_id_key
    UNIQUE (tenant_id, id);

CREATE TABLE index_versions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'building'
        CHECK (status IN ('building', 'ready', 'live', 'retired')),
    created_at timestamptz NOT NULL DEFAULT now(),
    live_at timestamptz,
    stats jsonb NOT NULL DEFAULT '{}',
    UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX index_versions_one_live ON index_versions (tenant_id)
    WHERE status = 'live';

-- A blob is stored in parts so that no single value nears the 1 GB
-- limit of a bytea, and so that a large index streams in pieces.
CREATE TABLE index_blobs (
    tenant_id bigint NOT NULL,
    version_id bigint NOT NULL,
    name text NOT NULL CHECK (name ~ '^[a-z0-9_.]{1,64}$'),
    part integer NOT NULL CHECK (part >= 0),
    data bytea NOT NULL,
    PRIMARY KEY (version_id, name, part),
    FOREIGN KEY (tenant_id, version_id)
        REFERENCES index_versions (tenant_id, id) ON DELETE CASCADE
);

-- Chunk ids run from 0 within a version; article_id is articles.id.
-- No foreign key to articles: an old version keeps its chunks even when
-- an article is deleted afterwards (search then skips the chunk).
CREATE TABLE chunks (
    tenant_id bigint NOT NULL,
    version_id bigint NOT NULL,
    chunk_id bigint NOT NULL,
    article_id bigint NOT NULL,
    heading_path text NOT NULL DEFAULT '',
    text text NOT NULL,
    start_off integer NOT NULL,
    end_off integer NOT NULL,
    PRIMARY KEY (version_id, chunk_id),
    FOREIGN KEY (tenant_id, version_id)
        REFERENCES index_versions (tenant_id, id) ON DELETE CASCADE
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['index_versions', 'index_blobs', 'chunks']
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

REVOKE ALL ON index_versions, index_blobs, chunks FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON index_versions, index_blobs, chunks TO triage_app;

-- The id of the tenant called p_name, or NULL.  The app role cannot see
-- other tenants' rows, yet a request names its tenant before any tenant
-- is set; this function answers that one question and nothing more.
CREATE FUNCTION triage_tenant_id(p_name text)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT id FROM tenants WHERE name = p_name;
$$;
REVOKE EXECUTE ON FUNCTION triage_tenant_id(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION triage_tenant_id(text) TO triage_app;
