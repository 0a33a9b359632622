/*
 * pull.c
 *      The cursor pull: the incremental ticket export of a tenant, fed
 *      into the same inbox as the webhooks, and its metrics.
 *
 * The pull is the safety net for webhooks that never arrived.  Each
 * export page is stored in one transaction: the tickets are upserted,
 * every ticket version that no webhook announced goes into the inbox
 * (source "pull", dedup key "zen:pull:<id>:<generated_timestamp>") with
 * an ingest job that fetches its comments, and the page's after_cursor
 * is saved in zendesk_cursors together with the count of such
 * "recovered" versions.  A crash therefore loses at most the page in
 * flight, which the next pull asks for again.
 *
 * A version counts as announced when a webhook inbox row of the same
 * ticket has an occurred_at at or after the version's updated_at.
 *
 * Threads: any; each call makes its own Zendesk client.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "zendesk_int.h"

#define CURSOR_MAX 4096

/* The stored cursor of the tenant ("" when none). */
static enum tr_err
cursor_load(struct tr_db *db, int64_t tenant_id, char *cur, size_t cur_len,
            struct tr_error *err)
{
    struct tr_db_conn *c = NULL;
    char tid[24];
    const char *p[1] = {tid};
    enum tr_err rc;

    snprintf(tid, sizeof(tid), "%lld", (long long) tenant_id);
    cur[0] = '\0';
    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc == TR_OK)
        rc = tr_db_query_value(c, "SELECT coalesce(cursor, '') FROM "
                                  "zendesk_cursors WHERE tenant_id = $1",
                               1, p, cur, cur_len, NULL, err);
    tr_db_tx_rollback(c);
    if (rc == TR_E_NOTFOUND) {
        cur[0] = '\0';
        rc = TR_OK;
    }
    return rc;
}

/*
 * Store one exported ticket inside the page's transaction; *recovered
 * is set when no webhook had announced this version.
 */
static enum tr_err
ticket_store(struct tr_db_conn *c, struct tr_db *db, int64_t tenant_id,
             const struct tr_zendesk_ticket *tk, bool *recovered,
             struct tr_error *err)
{
    char tid[24], ext[24], upd[24], key[96], payload[160], buf[24];
    const char *p[3] = {tid, ext, upd};
    const char *q[4];
    int64_t id, at = 0;
    enum tr_err rc;

    *recovered = false;
    snprintf(tid, sizeof(tid), "%lld", (long long) tenant_id);
    snprintf(ext, sizeof(ext), "%lld", (long long) tk->id);
    if (tk->updated_at == NULL || !tr_zendesk_time_parse(tk->updated_at, &at))
        at = tk->generated_timestamp;
    snprintf(upd, sizeof(upd), "%lld", (long long) at);

    rc = tr_db_query_value(c, "SELECT EXISTS (SELECT 1 FROM inbox "
                              "WHERE tenant_id = $1 AND source = 'webhook' "
                              "AND payload ->> 'ticket_id' = $2 "
                              "AND (payload ->> 'occurred_at')::bigint "
                              ">= $3::bigint)",
                           3, p, buf, sizeof(buf), NULL, err);
    if (rc == TR_OK)
        rc = tr_zendesk__ticket_upsert(c, tenant_id, tk, &id, err);
    if (rc != TR_OK || strcmp(buf, "t") == 0)
        return rc;

    /* New to us: into the inbox, with the job that fetches comments. */
    snprintf(key, sizeof(key), "zen:pull:%lld:%lld", (long long) tk->id,
             (long long) tk->generated_timestamp);
    snprintf(payload, sizeof(payload),
             "{\"ticket_id\":%lld,\"type\":\"ticket.pulled\","
             "\"occurred_at\":%lld,\"subscription\":false}",
             (long long) tk->id, (long long) at);
    q[0] = tid;
    q[1] = key;
    q[2] = payload;
    rc = tr_db_query_value(c, "INSERT INTO inbox (tenant_id, dedup_key, "
                              "source, payload) VALUES ($1, $2, 'pull', "
                              "$3::jsonb) ON CONFLICT (tenant_id, dedup_key) "
                              "DO NOTHING RETURNING id",
                           3, q, buf, sizeof(buf), NULL, err);
    if (rc == TR_E_NOTFOUND)
        return TR_OK;           /* an earlier pull already took it */
    if (rc != TR_OK)
        return rc;

    snprintf(payload, sizeof(payload), "{\"inbox_id\":%s,\"ticket_id\":%lld}",
             buf, (long long) tk->id);
    rc = tr_queue_enqueue(db, c, tenant_id, TR_ZENDESK_JOB_INGEST, payload,
                          0, NULL, err);
    *recovered = rc == TR_OK;
    return rc;
}

/* Store a page and its cursor in one transaction. */
static enum tr_err
page_store(struct tr_db *db, int64_t tenant_id,
           const struct tr_zendesk_export_page *pg, int *n_recovered,
           struct tr_error *err)
{
    struct tr_db_conn *c = NULL;
    char tid[24], nrec[24];
    const char *p[3] = {tid, NULL, nrec};
    enum tr_err rc;
    int n = 0;

    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    for (size_t i = 0; rc == TR_OK && i < pg->n_tickets; i++) {
        bool rec = false;

        rc = ticket_store(c, db, tenant_id, &pg->tickets[i], &rec, err);
        n += rec ? 1 : 0;
    }
    snprintf(tid, sizeof(tid), "%lld", (long long) tenant_id);
    snprintf(nrec, sizeof(nrec), "%d", n);
    p[1] = pg->after_cursor;
    if (rc == TR_OK)
        rc = tr_db_exec(c, "INSERT INTO zendesk_cursors (tenant_id, cursor, "
                           "recovered, pages) VALUES ($1, $2, $3, 1) "
                           "ON CONFLICT (tenant_id) DO UPDATE SET "
                           "cursor = coalesce(EXCLUDED.cursor, "
                           "zendesk_cursors.cursor), recovered = "
                           "zendesk_cursors.recovered + EXCLUDED.recovered, "
                           "pages = zendesk_cursors.pages + 1, "
                           "updated_at = now()", 3, p, NULL, err);
    if (rc == TR_OK)
        rc = tr_db_tx_commit(c, err);
    else
        tr_db_tx_rollback(c);
    if (rc == TR_OK)
        *n_recovered = n;
    return rc;
}

enum tr_err
tr_zendesk_pull_run(struct tr_db *db, int64_t tenant_id, int64_t since,
                    const struct tr_zendesk_job_opts *o,
                    struct tr_zendesk_pull_result *res,
                    struct tr_error *err)
{
    struct tr_zendesk_pull_result r = {0};
    struct tr_zendesk_export_page pg;
    struct tr_zendesk__tenant t;
    struct tr_arena *a = NULL;
    char *cur = malloc(CURSOR_MAX);
    enum tr_err rc;

    if (cur == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    rc = cursor_load(db, tenant_id, cur, CURSOR_MAX, err);
    if (rc == TR_OK)
        rc = tr_zendesk__tenant_open(db, tenant_id, o, NULL, &t, err);
    if (rc != TR_OK) {
        free(cur);
        return rc;
    }
    /* An explicit start time wins over the stored cursor. */
    if (since >= 0)
        cur[0] = '\0';
    else if (cur[0] == '\0')
        since = 0;

    while (o == NULL || o->max_pages <= 0 || r.n_pages < o->max_pages) {
        int n_rec = 0;

        tr_arena_free(a);
        a = tr_arena_new(0);
        rc = tr_zendesk_export_next(t.zd, a, since,
                                    cur[0] != '\0' ? cur : NULL, &pg, err);
        if (rc == TR_OK)
            rc = page_store(db, tenant_id, &pg, &n_rec, err);
        if (rc != TR_OK)
            break;
        r.n_pages++;
        r.n_tickets += (int) pg.n_tickets;
        r.n_recovered += n_rec;
        if (pg.after_cursor != NULL)
            snprintf(cur, CURSOR_MAX, "%s", pg.after_cursor);
        if (o != NULL && o->on_page != NULL &&
            (rc = o->on_page(o->on_page_arg, r.n_pages)) != TR_OK)
            break;
        /* An end without a cursor would restart from the beginning. */
        if (pg.end_of_stream || pg.after_cursor == NULL) {
            r.end_of_stream = true;
            break;
        }
    }
    TR_LOG_INFO("zendesk", "pull_done",
                TR_KVS(TR_KV_INT("tenant", tenant_id),
                       TR_KV_INT("pages", r.n_pages),
                       TR_KV_INT("tickets", r.n_tickets),
                       TR_KV_INT("recovered", r.n_recovered),
                       TR_KV_STR("err", tr_err_slug(rc))),
                "pulled %d pages", r.n_pages);
    if (res != NULL)
        *res = r;
    tr_arena_free(a);
    tr_zendesk_free(t.zd);
    free(cur);
    return rc;
}

enum tr_err
tr_zendesk_pull_all(struct tr_db *db, const struct tr_zendesk_job_opts *o,
                    struct tr_error *err)
{
    struct tr_db_conn *c = NULL;
    struct tr_db_res *res = NULL;
    enum tr_err rc, first = TR_OK;

    /* Only the owner sees every tenant. */
    rc = tr_db_conn_owner(db, &c, err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "SELECT id FROM tenants WHERE settings ? "
                           "'zendesk' ORDER BY id", 0, NULL, &res, err);
    tr_db_conn_release(c);
    if (rc != TR_OK)
        return rc;

    for (int i = 0; i < tr_db_res_n_rows(res); i++) {
        int64_t id = strtoll(tr_db_res_value(res, i, 0), NULL, 10);
        struct tr_error e = {0};

        rc = tr_zendesk_pull_run(db, id, -1, o, NULL, &e);
        if (rc != TR_OK) {
            TR_LOG_WARN("zendesk", "pull_failed",
                        TR_KVS(TR_KV_INT("tenant", id),
                               TR_KV_STR("err", tr_err_slug(rc))),
                        "could not pull tenant %lld: %s", (long long) id,
                        tr_error_msg(&e));
            if (first == TR_OK) {
                first = rc;
                if (err != NULL)
                    *err = e;
            }
        }
    }
    tr_db_res_free(res);
    return first;
}

enum tr_err
tr_zendesk_metrics_collect(struct tr_buf *out, void *user)
{
    static const char *const names[] = {"tenant"};
    struct tr_db *db = user;
    struct tr_db_conn *c = NULL;
    struct tr_db_res *res = NULL;
    struct tr_error err = {0};
    enum tr_err rc;

    rc = tr_db_conn_acquire(db, &c, &err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "SELECT tenant, n FROM "
                           "triage_zendesk_recovered_stats()", 0, NULL,
                        &res, &err);
    tr_db_conn_release(c);
    if (rc != TR_OK)
        return rc;

    rc = tr_metrics_write_header(out, "triage_zendesk_recovered_by_pull_total",
                                 "Ticket versions the Zendesk pull found "
                                 "before any webhook announced them",
                                 TR_METRIC_COUNTER);
    for (int i = 0; rc == TR_OK && i < tr_db_res_n_rows(res); i++) {
        const char *v[1] = {tr_db_res_value(res, i, 0)};

        rc = tr_metrics_write_sample(out,
                                     "triage_zendesk_recovered_by_pull_total",
                                     1, names, v,
                                     strtod(tr_db_res_value(res, i, 1),
                                            NULL));
    }
    tr_db_res_free(res);
    return rc;
}
