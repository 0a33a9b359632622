-- 007_queue_wakeups.sql
--     Enqueue without NOTIFY, and complete a job and claim the next one
--     in one transaction.
--
-- A NOTIFY inside the enqueuing transaction makes PostgreSQL hold a
-- database-wide lock from just before that transaction's commit record
-- until its flush, so durable enqueuers waited on each other's disk
-- flushes.  Wake-ups are now sent by the application after commit, from
-- a connection of their own with asynchronous commit (see
-- service/db/notify.c).
--
-- A worker that finishes a job and asks for the next one used two
-- transactions, hence two flushes; triage_job_complete_claim does both in
-- one.
--
-- SPDX-License-Identifier: Apache-2.0

CREATE OR REPLACE FUNCTION triage_job_enqueue(p_tenant bigint, p_kind text,
                                              p_payload jsonb,
                                              p_delay_ms integer)
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
    RETURN new_id;
END
$$;

-- Complete job p_id (when still leased to p_worker) and claim the oldest
-- due job of p_kinds.  The first row's `completed` tells whether the
-- completion took; a job row follows when one was claimed (id NULL when
-- none was due).
CREATE FUNCTION triage_job_complete_claim(p_id bigint, p_worker text,
                                          p_lease_ms integer,
                                          p_kinds text[])
RETURNS TABLE (completed boolean, id bigint, tenant_id bigint, kind text,
               payload jsonb, attempts integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    done boolean;
BEGIN
    done := triage_job_complete(p_id, p_worker);
    RETURN QUERY
        SELECT done, c.id, c.tenant_id, c.kind, c.payload, c.attempts
          FROM triage_job_claim(p_worker, p_lease_ms, p_kinds) c
        UNION ALL
        SELECT done, NULL, NULL, NULL, NULL, NULL
         LIMIT 1;
END
$$;

REVOKE EXECUTE ON FUNCTION
    triage_job_complete_claim(bigint, text, integer, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    triage_job_complete_claim(bigint, text, integer, text[]) TO triage_app;
