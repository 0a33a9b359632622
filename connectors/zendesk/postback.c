/*
 * postback.c
 *      The "zendesk.postback" job: post an approved draft to its Zendesk
 *      ticket once, and record Zendesk's answer.
 *
 * Exactly once across crashes rests on one record per draft in
 * zendesk_postbacks.  Before the ticket update is sent, the record's
 * attempt_at is set and committed.  After Zendesk answers, the audit and
 * comment ids are stored and the draft marked sent, in one transaction.
 * A run that finds attempt_at set but no answer recorded does not know
 * whether the update reached Zendesk, so it lists the ticket's comments
 * first and takes a comment with the draft's text and visibility,
 * created since that attempt, as its own.  The update itself is sent
 * without transport-level retries (a retried PUT whose first try did
 * land would post twice); the job's own retry, which checks first, takes
 * their place.  429 answers are still waited out, since Zendesk applied
 * nothing then.
 *
 * The text posted is the draft with its placeholders of personal data
 * ([EMAIL_1], ...) given back their originals from draft_redactions: the
 * reply goes to the requester who wrote them.  The comparison with
 * Zendesk's comments uses that same restored text.
 *
 * Threads: any; each run makes its own client.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "redact.h"
#include "zendesk_int.h"

/* Clock skew allowed between us and Zendesk when matching comments. */
#define MATCH_SLACK_S 300
#define COMMENT_PAGES_MAX 200

/* The draft and its record, as read before posting. */
struct draft {
    char *body;
    char ticket[24];
    char status[16];
    char stamp[32];             /* the ticket's updated_at as we hold it */
    bool done;
    bool attempted;
    int64_t attempt_at;
};

/*
 * The draft's text with the originals of its placeholders, as read by
 * `c` (rows of draft_redactions); the result lives in `a`.
 */
static enum tr_err
body_restore(struct tr_db_conn *c, const char *const *p, const char *body,
             struct tr_arena *a, char **out, struct tr_error *err)
{
    struct tr_redact_map *map = NULL;
    struct tr_db_res *res = NULL;
    char *text = NULL;
    size_t len;
    enum tr_err rc;

    rc = tr_db_exec(c, "SELECT placeholder, kind, original FROM "
                       "draft_redactions WHERE tenant_id = $1 AND "
                       "draft_id = $2", 2, p, &res, err);
    if (rc != TR_OK)
        return rc;
    if (tr_db_res_n_rows(res) == 0) {
        tr_db_res_free(res);
        *out = tr_arena_strdup(a, body);
        return *out != NULL ? TR_OK : TR_ERROR(err, TR_E_NOMEM, "no memory");
    }
    map = tr_redact_map_new();
    if (map == NULL)
        rc = TR_ERROR(err, TR_E_NOMEM, "no memory");
    for (int i = 0; rc == TR_OK && i < tr_db_res_n_rows(res); i++)
        rc = tr_redact_map_put(map, tr_db_res_value(res, i, 0),
                               tr_db_res_value(res, i, 1),
                               tr_db_res_value(res, i, 2), err);
    if (rc == TR_OK)
        rc = tr_redact_restore(map, body, strlen(body), &text, &len, err);
    if (rc == TR_OK && (*out = tr_arena_strdup(a, text)) == NULL)
        rc = TR_ERROR(err, TR_E_NOMEM, "no memory");
    if (text != NULL) {
        explicit_bzero(text, len);
        free(text);
    }
    tr_redact_map_free(map);
    tr_db_res_free(res);
    return rc;
}

static enum tr_err
draft_load(struct tr_db *db, int64_t tenant_id, int64_t draft_id,
           struct tr_arena *a, struct draft *d, struct tr_error *err)
{
    char tid[24], did[24];
    const char *p[2] = {tid, did};
    struct tr_db_conn *c = NULL;
    struct tr_db_res *res = NULL;
    enum tr_err rc;

    snprintf(tid, sizeof(tid), "%lld", (long long) tenant_id);
    snprintf(did, sizeof(did), "%lld", (long long) draft_id);
    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc == TR_OK)
        rc = tr_db_exec(c,
            "SELECT d.body, t.external_id, d.status, "
            " coalesce(pb.state = 'done', false), pb.attempt_at IS NOT NULL, "
            " coalesce(extract(epoch FROM pb.attempt_at)::bigint, 0), "
            " to_char(t.updated_at AT TIME ZONE 'UTC', "
            " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
            "FROM drafts d JOIN tickets t ON t.tenant_id = d.tenant_id "
            " AND t.id = d.ticket_id "
            "LEFT JOIN zendesk_postbacks pb ON pb.tenant_id = d.tenant_id "
            " AND pb.draft_id = d.id "
            "WHERE d.tenant_id = $1 AND d.id = $2", 2, p, &res, err);
    if (rc == TR_OK && tr_db_res_n_rows(res) != 1)
        rc = TR_ERROR(err, TR_E_NOTFOUND, "no draft %s", did);
    if (rc == TR_OK)
        rc = body_restore(c, p, tr_db_res_value(res, 0, 0), a, &d->body,
                          err);
    tr_db_tx_rollback(c);
    if (rc != TR_OK) {
        tr_db_res_free(res);
        return rc;
    }
    snprintf(d->ticket, sizeof(d->ticket), "%s", tr_db_res_value(res, 0, 1));
    snprintf(d->status, sizeof(d->status), "%s", tr_db_res_value(res, 0, 2));
    d->done = strcmp(tr_db_res_value(res, 0, 3), "t") == 0;
    d->attempted = strcmp(tr_db_res_value(res, 0, 4), "t") == 0;
    d->attempt_at = strtoll(tr_db_res_value(res, 0, 5), NULL, 10);
    snprintf(d->stamp, sizeof(d->stamp), "%s", tr_db_res_value(res, 0, 6));
    tr_db_res_free(res);
    return d->body != NULL ? TR_OK : TR_ERROR(err, TR_E_NOMEM, "no memory");
}

/* Compare two texts ignoring runs of white space and their ends. */
static bool
same_text(const char *a, const char *b)
{
    for (;;) {
        while (isspace((unsigned char) *a) && isspace((unsigned char) a[1]))
            a++;
        while (isspace((unsigned char) *b) && isspace((unsigned char) b[1]))
            b++;
        if (*a == '\0' || *b == '\0')
            break;
        if (isspace((unsigned char) *a) && isspace((unsigned char) *b)) {
            a++;
            b++;
            continue;
        }
        if (*a != *b)
            return false;
        a++;
        b++;
    }
    while (isspace((unsigned char) *a))
        a++;
    while (isspace((unsigned char) *b))
        b++;
    return *a == '\0' && *b == '\0';
}

/*
 * Look among the ticket's comments for ours: same text and visibility,
 * created at or after `since`.  *found_id gets its id (0: none); the
 * newest match wins.
 */
static enum tr_err
comment_find(struct tr_zendesk *zd, struct tr_arena *a, int64_t ticket,
             const char *body, bool is_public, int64_t since,
             int64_t *found_id, struct tr_error *err)
{
    struct tr_zendesk_comment_page pg;
    const char *after = NULL;
    enum tr_err rc;

    *found_id = 0;
    for (int i = 0; i < COMMENT_PAGES_MAX; i++) {
        rc = tr_zendesk_comments_list(zd, a, ticket, after, 100, &pg, err);
        if (rc != TR_OK)
            return rc;
        for (size_t k = 0; k < pg.n_comments; k++) {
            const struct tr_zendesk_comment *cm = &pg.comments[k];
            const char *text = cm->body != NULL ? cm->body : cm->plain_body;
            int64_t at = 0;

            if (text == NULL || cm->is_public != is_public ||
                !same_text(text, body))
                continue;
            if (cm->created_at != NULL &&
                tr_zendesk_time_parse(cm->created_at, &at) &&
                at < since - MATCH_SLACK_S)
                continue;
            *found_id = cm->id;
        }
        if (!pg.has_more || pg.after_cursor == NULL)
            return TR_OK;
        after = pg.after_cursor;
    }
    return TR_OK;
}

/* Create or touch the record, committed before anything is sent. */
static enum tr_err
attempt_mark(struct tr_db *db, int64_t tenant_id, int64_t draft_id,
             const char *ticket, bool is_public, struct tr_error *err)
{
    char tid[24], did[24];
    const char *p[4] = {tid, did, ticket, is_public ? "true" : "false"};
    struct tr_db_conn *c = NULL;
    enum tr_err rc;

    snprintf(tid, sizeof(tid), "%lld", (long long) tenant_id);
    snprintf(did, sizeof(did), "%lld", (long long) draft_id);
    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "INSERT INTO zendesk_postbacks (tenant_id, "
                           "draft_id, ticket_external_id, public, attempts, "
                           "attempt_at) VALUES ($1, $2, $3, $4, 1, now()) "
                           "ON CONFLICT (tenant_id, draft_id) DO UPDATE SET "
                           "attempts = zendesk_postbacks.attempts + 1, "
                           "attempt_at = now()", 4, p, NULL, err);
    if (rc == TR_OK)
        return tr_db_tx_commit(c, err);
    tr_db_tx_rollback(c);
    return rc;
}

/* Record Zendesk's answer and mark the draft sent, in one transaction. */
static enum tr_err
answer_record(struct tr_db *db, int64_t tenant_id, int64_t draft_id,
              int64_t audit_id, int64_t comment_id, bool found,
              struct tr_error *err)
{
    char tid[24], did[24], aud[24], com[24];
    const char *p[5] = {tid, did, audit_id > 0 ? aud : NULL,
                        comment_id > 0 ? com : NULL,
                        found ? "true" : "false"};
    struct tr_db_conn *c = NULL;
    enum tr_err rc;

    snprintf(tid, sizeof(tid), "%lld", (long long) tenant_id);
    snprintf(did, sizeof(did), "%lld", (long long) draft_id);
    snprintf(aud, sizeof(aud), "%lld", (long long) audit_id);
    snprintf(com, sizeof(com), "%lld", (long long) comment_id);
    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "UPDATE zendesk_postbacks SET state = 'done', "
                           "audit_id = $3, comment_id = $4, "
                           "found_on_retry = $5, done_at = now() "
                           "WHERE tenant_id = $1 AND draft_id = $2",
                        5, p, NULL, err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "UPDATE drafts SET status = 'sent', "
                           "updated_at = now() WHERE tenant_id = $1 "
                           "AND id = $2", 2, p, NULL, err);
    if (rc == TR_OK)
        return tr_db_tx_commit(c, err);
    tr_db_tx_rollback(c);
    return rc;
}

/*
 * The update as a safe update against the version of the ticket we
 * hold (`stamp`): when Zendesk answers 409 the ticket changed since, so
 * fetch its current stamp and try again, up to `max` times.
 */
static enum tr_err
update_send(struct tr_zendesk *zd, struct tr_arena *a, int64_t ticket,
            const char *stamp, struct tr_zendesk_update *upd, int max,
            int64_t *audit_id, struct tr_error *err)
{
    struct tr_zendesk_ticket tk;
    enum tr_err rc = TR_OK;

    upd->updated_stamp = stamp[0] != '\0' ? stamp : NULL;
    for (int i = 0; i <= max; i++) {
        if (upd->updated_stamp == NULL) {
            rc = tr_zendesk_ticket_fetch(zd, a, ticket, &tk, err);
            if (rc != TR_OK)
                return rc;
            upd->updated_stamp = tk.updated_at;
        }
        rc = tr_zendesk_ticket_update(zd, a, ticket, upd, NULL, audit_id,
                                      err);
        if (rc != TR_E_CONFLICT)
            return rc;
        TR_LOG_INFO("zendesk", "postback_conflict",
                    TR_KVS(TR_KV_INT("ticket_id", ticket),
                           TR_KV_INT("try", i + 1)),
                    "ticket %lld changed meanwhile, trying again",
                    (long long) ticket);
        upd->updated_stamp = NULL;
    }
    return rc;
}

/* Everything after the draft is loaded; `zd` is the tenant's client. */
static enum tr_err
postback_send(struct tr_db *db, int64_t tenant_id, int64_t draft_id,
              const struct tr_zendesk__tenant *t, const struct draft *d,
              struct tr_zendesk_update *upd,
              const struct tr_zendesk_job_opts *o, struct tr_arena *a,
              struct tr_error *err)
{
    int64_t ticket = strtoll(d->ticket, NULL, 10), audit = 0, cid = 0;
    int max = o != NULL && o->max_conflicts > 0 ? o->max_conflicts : 3;
    enum tr_err rc;

    /* A previous run may have posted and died before recording. */
    if (d->attempted) {
        rc = comment_find(t->zd, a, ticket, d->body, t->reply_public,
                          d->attempt_at, &cid, err);
        if (rc != TR_OK)
            return rc;
        if (cid != 0)
            return answer_record(db, tenant_id, draft_id, 0, cid, true, err);
    }

    rc = attempt_mark(db, tenant_id, draft_id, d->ticket, t->reply_public,
                      err);
    if (rc == TR_OK)
        rc = update_send(t->zd, a, ticket, d->stamp, upd, max, &audit,
                         err);
    if (rc == TR_OK && o != NULL && o->on_posted != NULL)
        rc = o->on_posted(o->on_posted_arg, draft_id);
    if (rc != TR_OK)
        return rc;

    /* The comment id is not in the update's answer; look it up. */
    if (comment_find(t->zd, a, ticket, d->body, t->reply_public, 0, &cid,
                     NULL) != TR_OK)
        cid = 0;
    return answer_record(db, tenant_id, draft_id, audit, cid, false, err);
}

enum tr_err
tr_zendesk_postback_run(struct tr_db *db, int64_t tenant_id,
                        int64_t draft_id, const char *priority,
                        int64_t group_id, const char *const *tags,
                        size_t n_tags, const struct tr_zendesk_job_opts *o,
                        struct tr_error *err)
{
    struct tr_zendesk_update upd = {0};
    struct tr_zendesk__tenant t = {0};
    struct tr_httpc_policy pol;
    struct tr_arena *a = tr_arena_new(0);
    struct draft d = {0};
    enum tr_err rc;

    if (a == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    rc = draft_load(db, tenant_id, draft_id, a, &d, err);
    if (rc != TR_OK || d.done)
        goto out;
    if (strcmp(d.status, "approved") != 0 && strcmp(d.status, "sent") != 0) {
        rc = TR_ERROR(err, TR_E_CONFLICT, "draft %lld is %s, not approved",
                      (long long) draft_id, d.status);
        goto out;
    }

    /* No transport retries for the update: see the file comment. */
    if (o != NULL && o->policy != NULL)
        pol = *o->policy;
    else
        tr_httpc_policy_preset(&pol, TR_HTTPC_PRESET_ZENDESK);
    pol.max_retries = 0;
    rc = tr_zendesk__tenant_open(db, tenant_id, o, &pol, &t, err);
    if (rc != TR_OK)
        goto out;

    upd.comment = d.body;
    upd.comment_public = t.reply_public;
    upd.priority = priority;
    upd.group_id = group_id;
    upd.tags = tags;
    upd.n_tags = n_tags;
    upd.set_tags = tags != NULL;
    rc = postback_send(db, tenant_id, draft_id, &t, &d, &upd, o, a, err);
    if (rc == TR_OK)
        TR_LOG_INFO("zendesk", "postback_done",
                    TR_KVS(TR_KV_INT("tenant", tenant_id),
                           TR_KV_INT("draft_id", draft_id)),
                    "posted draft %lld", (long long) draft_id);

out:
    tr_zendesk_free(t.zd);
    tr_arena_free(a);
    return rc;
}
