/*
 * queue.c
 *      Single queue operations: enqueue, claim, complete, fail, release,
 *      reclaim, backoff and the metrics text.
 *
 * Each operation is one call of a SECURITY DEFINER function of migration
 * 002_jobs.sql, made on a pooled connection (role triage_app): the
 * functions, owned by the schema owner, are the only way to change jobs,
 * and they see the jobs of every tenant, which workers need.  Any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue_int.h"

#define MS_PER_S 1000

void
tr_queue_opts_from_conf(struct tr_queue_opts *o, const struct tr_conf *conf)
{
    o->lease_ms = conf->queue_lease * MS_PER_S;
    o->max_attempts = conf->queue_max_attempts;
    o->backoff_base_ms = conf->queue_backoff_base * MS_PER_S;
    o->backoff_max_ms = conf->queue_backoff_max * MS_PER_S;
    o->idle_ms = 5 * MS_PER_S;
    o->n_workers = conf->workers;
    o->grace_ms = conf->shutdown_grace * MS_PER_S;
}

int
tr_queue_backoff_ms(const struct tr_queue_opts *o, int attempt,
                    unsigned *seed)
{
    long long d = o->backoff_base_ms;

    /* Double per earlier failure; stop doubling once past the cap. */
    for (int i = 1; i < attempt && d < o->backoff_max_ms; i++)
        d *= 2;
    if (d > o->backoff_max_ms)
        d = o->backoff_max_ms;

    /* Up to +25 %: spreads retries of jobs that failed together, yet the
     * next step (at least 2 d) always stays longer than this one. */
    if (d >= 4)
        d += rand_r(seed) % (d / 4);
    return d > INT32_MAX ? INT32_MAX : (int) d;
}

enum tr_err
tr_queue_enqueue(struct tr_db *db, struct tr_db_conn *tx, int64_t tenant_id,
                 const char *kind, const char *payload, int delay_ms,
                 int64_t *id, struct tr_error *err)
{
    char tenant[24], delay[16], buf[24];
    const char *params[4] = {tenant_id > 0 ? tenant : NULL, kind, payload,
                             delay};
    struct tr_db_conn *c = tx;
    enum tr_err rc;

    if (!tr_queue__kind_valid(kind))
        return TR_ERROR(err, TR_E_INVAL, "invalid job kind \"%s\"",
                        kind != NULL ? kind : "");
    snprintf(tenant, sizeof(tenant), "%" PRId64, tenant_id);
    snprintf(delay, sizeof(delay), "%d", delay_ms);

    if (c == NULL) {
        rc = tr_db_conn_acquire(db, &c, err);
        if (rc != TR_OK)
            return rc;
    }
    rc = tr_db_query_value(c, "SELECT triage_job_enqueue($1, $2, $3, $4)",
                           4, params, buf, sizeof(buf), NULL, err);

    /* Wake idle workers after the commit, never from inside it. */
    if (rc == TR_OK && delay_ms <= 0) {
        if (tx != NULL)
            tr_db_conn_notify_on_commit(tx, TR_QUEUE_CHANNEL, kind);
        else
            tr_db_notify(db, TR_QUEUE_CHANNEL, kind);
    }
    if (tx == NULL)
        tr_db_conn_release(c);
    if (rc == TR_OK && id != NULL)
        *id = strtoll(buf, NULL, 10);
    return rc;
}

/* Build the text[] literal of `kinds` (validated names need no quotes). */
static enum tr_err
kinds_literal(const char *const *kinds, size_t n_kinds, char *buf,
              size_t buf_len, struct tr_error *err)
{
    size_t len = 1;

    if (n_kinds == 0)
        return TR_ERROR(err, TR_E_INVAL, "no job kinds to claim");
    strcpy(buf, "{");
    for (size_t i = 0; i < n_kinds; i++) {
        if (!tr_queue__kind_valid(kinds[i]))
            return TR_ERROR(err, TR_E_INVAL, "invalid job kind \"%s\"",
                            kinds[i]);
        if (len + strlen(kinds[i]) + 3 > buf_len)
            return TR_ERROR(err, TR_E_TOOBIG, "too many job kinds");
        len += (size_t) snprintf(buf + len, buf_len - len, "%s%s",
                                 i > 0 ? "," : "", kinds[i]);
    }
    strcpy(buf + len, "}");
    return TR_OK;
}

/*
 * Fill `job` from row `row` of `res`, whose columns from `col` on are id,
 * tenant_id, kind, payload, attempts; strings are copied into `arena`.
 */
static enum tr_err
job_from_row(const struct tr_db_res *res, int row, int col, struct tr_db *db,
             const char *worker, struct tr_arena *arena,
             struct tr_queue_job *job, struct tr_error *err)
{
    const char *tenant = tr_db_res_value(res, row, col + 1);

    memset(job, 0, sizeof(*job));
    job->id = strtoll(tr_db_res_value(res, row, col), NULL, 10);
    job->tenant_id = tenant != NULL ? strtoll(tenant, NULL, 10) : 0;
    job->kind = tr_arena_strdup(arena, tr_db_res_value(res, row, col + 2));
    job->payload = tr_arena_strdup(arena,
                                   tr_db_res_value(res, row, col + 3));
    job->attempt = atoi(tr_db_res_value(res, row, col + 4));
    job->worker = tr_arena_strdup(arena, worker);
    job->arena = arena;
    job->db = db;
    if (job->kind == NULL || job->payload == NULL || job->worker == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    return TR_OK;
}

enum tr_err
tr_queue_claim(struct tr_db *db, const struct tr_queue_opts *o,
               const char *worker, const char *const *kinds, size_t n_kinds,
               struct tr_arena *arena, struct tr_queue_job *job,
               struct tr_error *err)
{
    char lease[16], klist[TR_QUEUE_MAX_HANDLERS * (TR_QUEUE_KIND_MAX + 1) + 3];
    const char *params[3] = {worker, lease, klist};
    struct tr_db_conn *c;
    struct tr_db_res *res = NULL;
    enum tr_err rc;

    rc = kinds_literal(kinds, n_kinds, klist, sizeof(klist), err);
    if (rc != TR_OK)
        return rc;
    snprintf(lease, sizeof(lease), "%d", o->lease_ms);

    rc = tr_db_conn_acquire(db, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_exec(c, "SELECT id, tenant_id, kind, payload, attempts "
                       "FROM triage_job_claim($1, $2, $3)",
                    3, params, &res, err);
    tr_db_conn_release(c);
    if (rc != TR_OK)
        return rc;
    if (tr_db_res_n_rows(res) == 0) {
        rc = TR_E_QUEUE_EMPTY;
        goto out;
    }

    rc = job_from_row(res, 0, 0, db, worker, arena, job, err);

out:
    tr_db_res_free(res);
    return rc;
}

/*
 * Call a queue function that answers one value about job `job`: `sql`
 * takes the job id as $1 and the worker as $2, then `extra` parameters.
 * An SQL NULL or "f" answer means the lease was lost.
 */
static enum tr_err
job_call(struct tr_db *db, const struct tr_queue_job *job, const char *sql,
         int n_extra, const char *const *extra, char *buf, size_t buf_len,
         struct tr_error *err)
{
    char id[24];
    const char *params[6] = {id, job->worker};
    struct tr_db_conn *c;
    bool is_null = false;
    enum tr_err rc;

    snprintf(id, sizeof(id), "%" PRId64, job->id);
    for (int i = 0; i < n_extra && i < 4; i++)
        params[2 + i] = extra[i];

    rc = tr_db_conn_acquire(db, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_query_value(c, sql, 2 + n_extra, params, buf, buf_len,
                           &is_null, err);
    tr_db_conn_release(c);
    if (rc == TR_OK && (is_null || strcmp(buf, "f") == 0))
        rc = TR_ERROR(err, TR_E_QUEUE_LEASE,
                      "job %" PRId64 " is no longer leased to \"%s\"",
                      job->id, job->worker);
    return rc;
}

enum tr_err
tr_queue_complete(struct tr_db *db, const struct tr_queue_job *job,
                  struct tr_error *err)
{
    char buf[8];

    return job_call(db, job, "SELECT triage_job_complete($1, $2)", 0, NULL,
                    buf, sizeof(buf), err);
}

enum tr_err
tr_queue_complete_claim(struct tr_db *db, const struct tr_queue_opts *o,
                        const struct tr_queue_job *done,
                        const char *const *kinds, size_t n_kinds,
                        struct tr_arena *arena, struct tr_queue_job *next,
                        bool *completed, struct tr_error *err)
{
    char id[24], lease[16];
    char klist[TR_QUEUE_MAX_HANDLERS * (TR_QUEUE_KIND_MAX + 1) + 3];
    const char *params[4] = {id, done->worker, lease, klist};
    const char *flag;
    struct tr_db_conn *c;
    struct tr_db_res *res = NULL;
    enum tr_err rc;

    *completed = false;
    rc = kinds_literal(kinds, n_kinds, klist, sizeof(klist), err);
    if (rc != TR_OK)
        return rc;
    snprintf(id, sizeof(id), "%" PRId64, done->id);
    snprintf(lease, sizeof(lease), "%d", o->lease_ms);

    rc = tr_db_conn_acquire(db, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_exec(c, "SELECT completed, id, tenant_id, kind, payload, "
                       "attempts FROM triage_job_complete_claim($1, $2, "
                       "$3, $4)",
                    4, params, &res, err);
    tr_db_conn_release(c);
    if (rc != TR_OK)
        return rc;

    /* One row always comes back; its id is NULL when nothing was due. */
    if (tr_db_res_n_rows(res) != 1) {
        rc = TR_ERROR(err, TR_E_INTERNAL, "unexpected answer to a claim");
        goto out;
    }
    flag = tr_db_res_value(res, 0, 0);
    *completed = flag != NULL && strcmp(flag, "t") == 0;
    if (tr_db_res_value(res, 0, 1) == NULL)
        rc = TR_E_QUEUE_EMPTY;
    else
        rc = job_from_row(res, 0, 1, db, done->worker, arena, next, err);

out:
    tr_db_res_free(res);
    return rc;
}

enum tr_err
tr_queue_release(struct tr_db *db, const struct tr_queue_job *job,
                 struct tr_error *err)
{
    char buf[8];

    return job_call(db, job, "SELECT triage_job_release($1, $2)", 0, NULL,
                    buf, sizeof(buf), err);
}

enum tr_err
tr_queue_fail(struct tr_db *db, const struct tr_queue_opts *o,
              const struct tr_queue_job *job, const char *error,
              unsigned *seed, bool *parked, struct tr_error *err)
{
    char delay[16], max[16], state[16];
    const char *extra[3] = {error != NULL ? error : "failed", delay, max};
    enum tr_err rc;

    snprintf(delay, sizeof(delay), "%d",
             tr_queue_backoff_ms(o, job->attempt, seed));
    snprintf(max, sizeof(max), "%d", o->max_attempts);
    rc = job_call(db, job, "SELECT triage_job_fail($1, $2, $3, $4, $5)", 3,
                  extra, state, sizeof(state), err);
    if (rc == TR_OK && parked != NULL)
        *parked = strcmp(state, "parked") == 0;
    return rc;
}

enum tr_err
tr_queue_reclaim(struct tr_db *db, const struct tr_queue_opts *o, int *n,
                 struct tr_error *err)
{
    char max[16], buf[16];
    const char *params[1] = {max};
    struct tr_db_conn *c;
    enum tr_err rc;

    snprintf(max, sizeof(max), "%d", o->max_attempts);
    rc = tr_db_conn_acquire(db, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_query_value(c, "SELECT triage_job_reclaim($1)", 1, params,
                           buf, sizeof(buf), NULL, err);
    tr_db_conn_release(c);
    if (rc == TR_OK && n != NULL)
        *n = atoi(buf);
    return rc;
}

enum tr_err
tr_queue_stats_prometheus(struct tr_db *db, struct tr_buf *out,
                          struct tr_error *err)
{
    struct tr_db_conn *c;
    struct tr_db_res *res = NULL;
    long long parked = 0;
    enum tr_err rc;

    rc = tr_db_conn_acquire(db, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_exec(c, "SELECT kind, state, n FROM triage_job_stats()", 0,
                    NULL, &res, err);
    tr_db_conn_release(c);
    if (rc != TR_OK)
        return rc;

    /* Kinds are [a-z0-9_.:-]: nothing to escape in label values. */
    rc = tr_buf_puts(out, "# HELP triage_queue_jobs Open jobs by kind and "
                          "state.\n# TYPE triage_queue_jobs gauge\n");
    for (int i = 0; rc == TR_OK && i < tr_db_res_n_rows(res); i++) {
        const char *state = tr_db_res_value(res, i, 1);

        if (strcmp(state, "parked") == 0)
            parked += atoll(tr_db_res_value(res, i, 2));
        rc = tr_buf_printf(out,
                           "triage_queue_jobs{kind=\"%s\",state=\"%s\"} %s\n",
                           tr_db_res_value(res, i, 0), state,
                           tr_db_res_value(res, i, 2));
    }
    if (rc == TR_OK)
        rc = tr_buf_printf(out, "# HELP triage_queue_parked Jobs parked "
                                "after their last attempt.\n"
                                "# TYPE triage_queue_parked gauge\n"
                                "triage_queue_parked %lld\n", parked);
    tr_db_res_free(res);
    if (rc != TR_OK)
        return TR_ERROR(err, rc, "metrics buffer is full");
    return TR_OK;
}
