-- 002_jobs.sql
--     The durable job queue: the jobs table and the functions that move
--     jobs between states.
--
-- Jobs carry a tenant_id (NULL for jobs that belong to no tenant) and
-- have row-level security like every tenant-owned table, so the app role
-- reads only its tenant's jobs.  Workers, however, must claim jobs of all
-- tenants.  Every state change therefore goes through the SECURITY
-- DEFINER functions below, owned by the schema owner, which a policy
-- restricted to that owner lets see all rows.  The app role may call the
-- functions but has no INSERT, UPDATE or DELETE on the table itself.
--
-- States: queued -> running -> done; running -> queued (retry, released
-- at shutdown, or lease expired); running -> parked (attempts used up).
--
-- SPDX-License-Identifier: Apache-2.0

CREATE TABLE jobs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint REFERENCES tenants (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind ~ '^[a-z0-9_.:-]{1,64}$'),
    payload jsonb NOT NULL DEFAULT '{}',
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'parked')),
    attempts integer NOT NULL DEFAULT 0,
    run_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    worker text,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
-- Claims scan jobs_ready in (run_at, id) order and stop at the first
-- unlocked due row.  No other index may cover state = 'queued': with
-- fresh statistics the planner would pick it and sort every queued job.
CREATE INDEX jobs_ready ON jobs (run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_parked ON jobs (kind) WHERE state = 'parked';
-- Every job leaves dead index entries behind as it moves on; vacuum this
-- busy table early so that claims do not wade through them.
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.01,
                      autovacuum_vacuum_threshold = 500,
                      autovacuum_analyze_scale_factor = 0.02);

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON jobs
    USING (tenant_id = NULLIF(current_setting('triage.tenant_id', true),
                              '')::bigint);
DO $$
BEGIN
    EXECUTE format('CREATE POLICY queue_owner ON jobs TO %I '
                   'USING (true) WITH CHECK (true)', current_user);
END
$$;
REVOKE ALL ON jobs FROM PUBLIC;
GRANT SELECT ON jobs TO triage_app;

-- Enqueue.  Inside a tenant's transaction the job must be that tenant's.
-- The NOTIFY is delivered only if the surrounding transaction commits.
CREATE FUNCTION triage_job_enqueue(p_tenant bigint, p_kind text,
                                   p_payload jsonb, p_delay_ms integer)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    cur text := NULLIF(current_setting('triage.tenant_id', true), '');
    new_id bigint;
BEGIN
    IF cur IS NOT NULL AND p_tenant IS DISTINCT FROM cur::bigint THEN
        RAISE EXCEPTION 'job tenant % differs from transaction tenant %',
            p_tenant, cur USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO jobs (tenant_id, kind, payload, run_at)
        VALUES (p_tenant, p_kind, coalesce(p_payload, '{}'),
                clock_timestamp() + make_interval(
                    secs => greatest(p_delay_ms, 0) / 1000.0))
        RETURNING id INTO new_id;
    IF coalesce(p_delay_ms, 0) <= 0 THEN
        PERFORM pg_notify('triage_jobs', p_kind);
    END IF;
    RETURN new_id;
END
$$;

-- Claim the oldest due job of the given kinds, skipping rows that other
-- workers hold locked, and lease it to p_worker.
CREATE FUNCTION triage_job_claim(p_worker text, p_lease_ms integer,
                                 p_kinds text[])
RETURNS TABLE (id bigint, tenant_id bigint, kind text, payload jsonb,
               attempts integer)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    UPDATE jobs j
       SET state = 'running', attempts = j.attempts + 1, worker = p_worker,
           lease_until = clock_timestamp() +
               make_interval(secs => p_lease_ms / 1000.0),
           updated_at = clock_timestamp()
     WHERE j.id = (SELECT c.id FROM jobs c
                    WHERE c.state = 'queued'
                      AND c.run_at <= clock_timestamp()
                      AND c.kind = ANY (p_kinds)
                    ORDER BY c.run_at, c.id
                    FOR UPDATE SKIP LOCKED
                    LIMIT 1)
    RETURNING j.id, j.tenant_id, j.kind, j.payload, j.attempts;
$$;

CREATE FUNCTION triage_job_complete(p_id bigint, p_worker text)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH u AS (
        UPDATE jobs
           SET state = 'done', lease_until = NULL, last_error = NULL,
               finished_at = clock_timestamp(),
               updated_at = clock_timestamp()
         WHERE id = p_id AND worker = p_worker AND state = 'running'
        RETURNING 1)
    SELECT count(*) = 1 FROM u;
$$;

-- Record a failed attempt: park the job once p_max_attempts are used,
-- otherwise queue it again after p_delay_ms.  Returns the new state, or
-- NULL when the lease was lost.
CREATE FUNCTION triage_job_fail(p_id bigint, p_worker text, p_error text,
                                p_delay_ms integer, p_max_attempts integer)
RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    UPDATE jobs
       SET state = CASE WHEN attempts >= p_max_attempts THEN 'parked'
                        ELSE 'queued' END,
           run_at = clock_timestamp() +
               make_interval(secs => greatest(p_delay_ms, 0) / 1000.0),
           last_error = left(p_error, 2000), lease_until = NULL,
           worker = NULL, updated_at = clock_timestamp()
     WHERE id = p_id AND worker = p_worker AND state = 'running'
    RETURNING state;
$$;

-- Give back a job that was claimed but not started (shutdown): the
-- attempt does not count.
CREATE FUNCTION triage_job_release(p_id bigint, p_worker text)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH u AS (
        UPDATE jobs
           SET state = 'queued', attempts = greatest(attempts - 1, 0),
               lease_until = NULL, worker = NULL,
               updated_at = clock_timestamp()
         WHERE id = p_id AND worker = p_worker AND state = 'running'
        RETURNING 1)
    SELECT count(*) = 1 FROM u;
$$;

-- Jobs whose lease ran out (their worker died or hangs) are queued again,
-- or parked when their attempts are used up.  Returns how many.
CREATE FUNCTION triage_job_reclaim(p_max_attempts integer)
RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH u AS (
        UPDATE jobs
           SET state = CASE WHEN attempts >= p_max_attempts THEN 'parked'
                            ELSE 'queued' END,
               last_error = 'lease expired on worker ' ||
                            coalesce(worker, '?'),
               lease_until = NULL, worker = NULL, run_at = clock_timestamp(),
               updated_at = clock_timestamp()
         WHERE id IN (SELECT id FROM jobs
                       WHERE state = 'running'
                         AND lease_until < clock_timestamp()
                       FOR UPDATE SKIP LOCKED)
        RETURNING 1)
    SELECT count(*)::integer FROM u;
$$;

-- Milliseconds until the next queued job of these kinds is due (0 when
-- one is due now), NULL when none is queued.
CREATE FUNCTION triage_job_next_due(p_kinds text[])
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT greatest(0, ceil(extract(epoch FROM min(run_at) -
                                    clock_timestamp()) * 1000))::bigint
      FROM jobs WHERE state = 'queued' AND kind = ANY (p_kinds);
$$;

-- Open jobs by kind and state, for metrics.
CREATE FUNCTION triage_job_stats()
RETURNS TABLE (kind text, state text, n bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT kind, state, count(*) FROM jobs
     WHERE state <> 'done' GROUP BY kind, state ORDER BY kind, state;
$$;

REVOKE EXECUTE ON FUNCTION
    triage_job_enqueue(bigint, text, jsonb, integer),
    triage_job_claim(text, integer, text[]),
    triage_job_complete(bigint, text),
    triage_job_fail(bigint, text, text, integer, integer),
    triage_job_release(bigint, text),
    triage_job_reclaim(integer),
    triage_job_next_due(text[]),
    triage_job_stats()
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    triage_job_enqueue(bigint, text, jsonb, integer),
    triage_job_claim(text, integer, text[]),
    triage_job_complete(bigint, text),
    triage_job_fail(bigint, text, text, integer, integer),
    triage_job_release(bigint, text),
    triage_job_reclaim(integer),
    triage_job_next_due(text[]),
    triage_job_stats()
    TO triage_app;
