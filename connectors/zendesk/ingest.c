/*
 * ingest.c
 *      The "zendesk.ingest" job: fetch a ticket and its comments from the
 *      tenant's Zendesk and store them, then hand the ticket to triage.
 *
 * Owns the reading of a tenant's Zendesk settings (tenants.settings,
 * key "zendesk") and the ticket upsert shared with the pull.  Fetching
 * happens outside any transaction; the writes (ticket, comments, inbox
 * row marked processed, "triage" job) happen in one transaction, so a
 * job that dies half-way leaves nothing and simply runs again.  The
 * "triage" job is enqueued only when this run marked the inbox row, so
 * one webhook event yields one triage job even if the ingest reruns.
 *
 * Secrets from the settings go into the client and nowhere else.
 *
 * Threads: job handlers run on the queue's pool threads; each run makes
 * its own client.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "queue.h"
#include "zendesk_int.h"

#define COMMENT_PAGES_MAX 200

static const struct tr_zendesk_job_opts *g_job_opts;

/* Copy a string member of the settings object into `a` ("" when absent). */
static const char *
setting(struct tr_arena *a, const cJSON *obj, const char *key)
{
    const char *v = tr_zendesk__json_str(a, obj, key);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

enum tr_err
tr_zendesk__tenant_open(struct tr_db *db, int64_t tenant_id,
                        const struct tr_zendesk_job_opts *o,
                        const struct tr_httpc_policy *policy,
                        struct tr_zendesk__tenant *t, struct tr_error *err)
{
    struct tr_zendesk_cfg cfg = {0};
    struct tr_db_conn *c = NULL;
    struct tr_arena *a = tr_arena_new(4096);
    char tid[24], *json = NULL;
    const char *params[1] = {tid};
    cJSON *root = NULL;
    const char *mode;
    enum tr_err rc;

    memset(t, 0, sizeof(*t));
    if (a == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    json = tr_arena_alloc(a, 64 * 1024);
    snprintf(tid, sizeof(tid), "%lld", (long long) tenant_id);
    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc == TR_OK)
        rc = tr_db_query_value(c, "SELECT coalesce(settings -> 'zendesk', "
                                  "'{}')::text FROM tenants WHERE id = $1",
                               1, params, json, 64 * 1024, NULL, err);
    tr_db_tx_rollback(c);
    if (rc == TR_E_NOTFOUND)
        rc = TR_ERROR(err, TR_E_TENANT, "unknown tenant %s", tid);
    if (rc != TR_OK)
        goto out;

    root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        rc = TR_ERROR(err, TR_E_CONF, "tenant %s has no Zendesk settings",
                      tid);
        goto out;
    }
    cfg.base_url = setting(a, root, "base_url");
    cfg.subdomain = setting(a, root, "subdomain");
    cfg.email = setting(a, root, "email");
    cfg.api_token = setting(a, root, "api_token");
    cfg.oauth_token = setting(a, root, "oauth_token");
    cfg.http = o != NULL ? o->http : NULL;
    cfg.policy = policy != NULL ? policy : (o != NULL ? o->policy : NULL);
    mode = setting(a, root, "reply_mode");
    t->reply_public = mode == NULL || strcmp(mode, "internal") != 0;

    t->zd = tr_zendesk_new(&cfg, err);
    if (t->zd == NULL)
        rc = err != NULL && err->code != TR_OK ? err->code : TR_E_CONF;

out:
    /* The settings hold tokens: wipe the copies before freeing. */
    if (json != NULL)
        memset(json, 0, 64 * 1024);
    cJSON_Delete(root);
    tr_arena_free(a);
    return rc;
}

/* The ticket's extra fields, kept as tickets.raw. */
static void
ticket_raw(struct tr_buf *b, const struct tr_zendesk_ticket *tk)
{
    tr_buf_printf(b, "{\"id\":%lld,\"type\":", (long long) tk->id);
    tr_buf_json_str(b, tk->type);
    tr_buf_printf(b, ",\"requester_id\":%lld,\"assignee_id\":%lld,"
                  "\"group_id\":%lld,\"organization_id\":%lld,"
                  "\"generated_timestamp\":%lld,\"via_channel\":",
                  (long long) tk->requester_id, (long long) tk->assignee_id,
                  (long long) tk->group_id, (long long) tk->organization_id,
                  (long long) tk->generated_timestamp);
    tr_buf_json_str(b, tk->via_channel);
    tr_buf_puts(b, ",\"tags\":[");
    for (size_t i = 0; i < tk->n_tags; i++) {
        if (i > 0)
            tr_buf_puts(b, ",");
        tr_buf_json_str(b, tk->tags[i]);
    }
    tr_buf_puts(b, "]}");
}

enum tr_err
tr_zendesk__ticket_upsert(struct tr_db_conn *c, int64_t tenant_id,
                          const struct tr_zendesk_ticket *tk, int64_t *id,
                          struct tr_error *err)
{
    char tid[24], ext[24], req[24], buf[24];
    const char *p[10];
    struct tr_buf raw;
    enum tr_err rc;

    snprintf(tid, sizeof(tid), "%lld", (long long) tenant_id);
    snprintf(ext, sizeof(ext), "%lld", (long long) tk->id);
    snprintf(req, sizeof(req), "%lld", (long long) tk->requester_id);
    tr_buf_init(&raw, 1024 * 1024);
    ticket_raw(&raw, tk);
    p[0] = tid;
    p[1] = ext;
    p[2] = tk->subject != NULL ? tk->subject : "";
    p[3] = tk->description != NULL ? tk->description : "";
    p[4] = tk->requester_id != 0 ? req : NULL;
    p[5] = tk->status != NULL ? tk->status : "new";
    p[6] = tk->priority;
    p[7] = raw.data != NULL ? raw.data : "{}";
    p[8] = tk->created_at;
    p[9] = tk->updated_at;

    /* An older version (a late webhook fetch racing a pull) never
     * overwrites a newer one. */
    rc = tr_db_query_value(c,
        "WITH up AS (INSERT INTO tickets (tenant_id, external_id, subject, "
        " description, requester, status, priority, raw, created_at, "
        " updated_at) VALUES ($1, $2, $3, $4, $5, lower($6), lower($7), "
        " $8::jsonb, coalesce($9::timestamptz, now()), "
        " coalesce($10::timestamptz, now())) "
        " ON CONFLICT (tenant_id, external_id) DO UPDATE SET "
        " subject = EXCLUDED.subject, description = EXCLUDED.description, "
        " requester = EXCLUDED.requester, status = EXCLUDED.status, "
        " priority = EXCLUDED.priority, raw = EXCLUDED.raw, "
        " updated_at = EXCLUDED.updated_at "
        " WHERE tickets.updated_at <= EXCLUDED.updated_at RETURNING id) "
        "SELECT id FROM up UNION ALL SELECT id FROM tickets "
        " WHERE tenant_id = $1 AND external_id = $2 LIMIT 1",
        10, p, buf, sizeof(buf), NULL, err);
    tr_buf_cleanup(&raw);
    if (rc == TR_OK)
        *id = strtoll(buf, NULL, 10);
    return rc;
}

/* Upsert one comment of ticket `ticket_id` (internal id). */
static enum tr_err
comment_upsert(struct tr_db_conn *c, const char *tid, int64_t ticket_id,
               const struct tr_zendesk_comment *cm, struct tr_error *err)
{
    char ext[24], tk[24], author[24];
    const char *p[7];

    snprintf(ext, sizeof(ext), "%lld", (long long) cm->id);
    snprintf(tk, sizeof(tk), "%lld", (long long) ticket_id);
    snprintf(author, sizeof(author), "%lld", (long long) cm->author_id);
    p[0] = tid;
    p[1] = tk;
    p[2] = ext;
    p[3] = cm->author_id != 0 ? author : NULL;
    p[4] = cm->is_public ? "true" : "false";
    p[5] = cm->plain_body != NULL ? cm->plain_body
         : cm->body != NULL ? cm->body : "";
    p[6] = cm->created_at;
    return tr_db_exec(c,
        "INSERT INTO ticket_comments (tenant_id, ticket_id, external_id, "
        " author_id, public, body, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz) "
        "ON CONFLICT (tenant_id, external_id) DO UPDATE SET "
        " public = EXCLUDED.public, body = EXCLUDED.body",
        7, p, NULL, err);
}

/* Every comment of the ticket, all pages, into `all`/`n_all`. */
static enum tr_err
comments_fetch(struct tr_zendesk *zd, struct tr_arena *a, int64_t ticket,
               struct tr_zendesk_comment **all, size_t *n_all,
               struct tr_error *err)
{
    struct tr_zendesk_comment_page pg;
    const char *after = NULL;
    size_t cap = 0;
    enum tr_err rc;

    *all = NULL;
    *n_all = 0;
    for (int i = 0; i < COMMENT_PAGES_MAX; i++) {
        rc = tr_zendesk_comments_list(zd, a, ticket, after, 100, &pg, err);
        if (rc != TR_OK)
            return rc;
        if (*n_all + pg.n_comments > cap) {
            struct tr_zendesk_comment *n;

            cap = (*n_all + pg.n_comments) * 2;
            n = tr_arena_alloc(a, cap * sizeof(*n));
            if (n == NULL)
                return TR_ERROR(err, TR_E_NOMEM, "out of memory");
            if (*n_all > 0)
                memcpy(n, *all, *n_all * sizeof(*n));
            *all = n;
        }
        if (pg.n_comments > 0)
            memcpy(*all + *n_all, pg.comments,
                   pg.n_comments * sizeof(*pg.comments));
        *n_all += pg.n_comments;
        if (!pg.has_more || pg.after_cursor == NULL)
            return TR_OK;
        after = pg.after_cursor;
    }
    return TR_ERROR(err, TR_E_TOOBIG, "ticket %lld has too many comments",
                    (long long) ticket);
}

/* The writes of one ingest, in one transaction. */
static enum tr_err
ingest_store(struct tr_db *db, int64_t tenant_id, int64_t inbox_id,
             const struct tr_zendesk_ticket *tk,
             const struct tr_zendesk_comment *cms, size_t n_cms,
             struct tr_error *err)
{
    char tid[24], inbox[24], payload[96];
    const char *p[2] = {tid, inbox};
    struct tr_db_conn *c = NULL;
    struct tr_db_res *res = NULL;
    bool marked = true;
    int64_t id = 0;
    enum tr_err rc;

    snprintf(tid, sizeof(tid), "%lld", (long long) tenant_id);
    snprintf(inbox, sizeof(inbox), "%lld", (long long) inbox_id);
    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc == TR_OK)
        rc = tr_zendesk__ticket_upsert(c, tenant_id, tk, &id, err);
    for (size_t i = 0; rc == TR_OK && i < n_cms; i++)
        rc = comment_upsert(c, tid, id, &cms[i], err);

    if (rc == TR_OK && inbox_id > 0) {
        rc = tr_db_exec(c, "UPDATE inbox SET processed_at = now() "
                           "WHERE tenant_id = $1 AND id = $2 "
                           "AND processed_at IS NULL", 2, p, &res, err);
        marked = rc == TR_OK && tr_db_res_n_affected(res) == 1;
    }
    snprintf(payload, sizeof(payload),
             "{\"ticket_id\":%lld,\"external_id\":\"%lld\"}",
             (long long) id, (long long) tk->id);
    /* The triage pipeline registers its handler for this kind; until it
     * runs, the jobs wait in the queue. */
    if (rc == TR_OK && marked)
        rc = tr_queue_enqueue(db, c, tenant_id, TR_ZENDESK_JOB_TRIAGE,
                              payload, 0, NULL, err);
    if (rc == TR_OK)
        rc = tr_db_tx_commit(c, err);
    else
        tr_db_tx_rollback(c);
    tr_db_res_free(res);
    return rc;
}

enum tr_err
tr_zendesk_ingest_run(struct tr_db *db, int64_t tenant_id, int64_t inbox_id,
                      int64_t ticket_id, const struct tr_zendesk_job_opts *o,
                      struct tr_error *err)
{
    struct tr_zendesk__tenant t;
    struct tr_zendesk_ticket tk;
    struct tr_zendesk_comment *cms;
    struct tr_arena *a;
    size_t n_cms = 0;
    enum tr_err rc;

    rc = tr_zendesk__tenant_open(db, tenant_id, o, NULL, &t, err);
    if (rc != TR_OK)
        return rc;
    a = tr_arena_new(0);
    if (a == NULL) {
        tr_zendesk_free(t.zd);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }

    rc = tr_zendesk_ticket_fetch(t.zd, a, ticket_id, &tk, err);
    if (rc == TR_OK)
        rc = comments_fetch(t.zd, a, ticket_id, &cms, &n_cms, err);
    if (rc == TR_OK)
        rc = ingest_store(db, tenant_id, inbox_id, &tk, cms, n_cms, err);
    if (rc == TR_OK)
        TR_LOG_INFO("zendesk", "ticket_ingested",
                    TR_KVS(TR_KV_INT("tenant", tenant_id),
                           TR_KV_INT("ticket_id", ticket_id),
                           TR_KV_INT("comments", (long long) n_cms)),
                    "stored ticket %lld", (long long) ticket_id);
    tr_zendesk_free(t.zd);
    tr_arena_free(a);
    return rc;
}

/* Read an integer member of a job payload (0 when absent). */
static int64_t
payload_id(const cJSON *root, const char *key)
{
    int64_t v = 0;

    if (!tr_zendesk__json_id(cJSON_GetObjectItemCaseSensitive(root, key),
                             &v))
        return 0;
    return v;
}

static enum tr_err
ingest_job(struct tr_queue_job *job, void *ud, struct tr_error *err)
{
    cJSON *root = cJSON_Parse(job->payload);
    int64_t inbox, ticket;
    enum tr_err rc;

    (void) ud;
    inbox = payload_id(root, "inbox_id");
    ticket = payload_id(root, "ticket_id");
    cJSON_Delete(root);
    if (ticket <= 0 || job->tenant_id <= 0)
        return TR_ERROR(err, TR_E_INVAL, "ingest job %lld has no ticket id",
                        (long long) job->id);
    rc = tr_zendesk_ingest_run(job->db, job->tenant_id, inbox, ticket,
                               g_job_opts, err);
    /* A ticket deleted in Zendesk since the event will never be found:
     * the job is done, the inbox row stays unprocessed as a record. */
    if (rc == TR_E_NOTFOUND) {
        TR_LOG_WARN("zendesk", "ticket_gone",
                    TR_KVS(TR_KV_INT("tenant", job->tenant_id),
                           TR_KV_INT("ticket_id", ticket)),
                    "ticket %lld no longer exists in Zendesk",
                    (long long) ticket);
        return TR_OK;
    }
    return rc;
}

static enum tr_err
postback_job(struct tr_queue_job *job, void *ud, struct tr_error *err)
{
    cJSON *root = cJSON_Parse(job->payload), *tags;
    const char *tagv[64];
    const char *prio;
    size_t n_tags = 0;
    int64_t draft;
    enum tr_err rc;

    (void) ud;
    draft = payload_id(root, "draft_id");
    prio = tr_zendesk__json_str(job->arena, root, "priority");
    tags = cJSON_GetObjectItemCaseSensitive(root, "tags");
    for (cJSON *t = cJSON_IsArray(tags) ? tags->child : NULL;
         t != NULL && n_tags < 64; t = t->next)
        if (cJSON_IsString(t))
            tagv[n_tags++] = tr_arena_strdup(job->arena, t->valuestring);
    if (draft <= 0 || job->tenant_id <= 0) {
        cJSON_Delete(root);
        return TR_ERROR(err, TR_E_INVAL,
                        "post-back job %lld has no draft id",
                        (long long) job->id);
    }
    rc = tr_zendesk_postback_run(job->db, job->tenant_id, draft, prio,
                                 payload_id(root, "group_id"),
                                 cJSON_IsArray(tags) ? tagv : NULL, n_tags,
                                 g_job_opts, err);
    cJSON_Delete(root);
    return rc;
}

enum tr_err
tr_zendesk_jobs_register(const struct tr_zendesk_job_opts *o,
                         struct tr_error *err)
{
    enum tr_err rc;

    g_job_opts = o;
    rc = tr_queue_handler_register(TR_ZENDESK_JOB_INGEST, ingest_job, NULL,
                                   0, err);
    if (rc == TR_OK)
        rc = tr_queue_handler_register(TR_ZENDESK_JOB_POSTBACK,
                                       postback_job, NULL, 0, err);
    return rc;
}
