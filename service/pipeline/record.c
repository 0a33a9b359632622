/*
 * record.c
 *      Store one triage run: the draft, the run, its ledger entry and the
 *      post-back job, all in one transaction.
 *
 * The transaction first looks for a run of the same job: a job whose
 * work committed but whose completion did not (the worker died between
 * the two) runs again, finds its run, and writes nothing twice.  The
 * ledger entry is appended near the end because it holds the tenant's
 * chain lock until the commit.
 *
 * The ledger payload carries what the decision rested on and nothing
 * personal: the redacted text only inside the model input, counts of
 * placeholders by kind, never the originals.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "db.h"
#include "ledger.h"
#include "pipeline_int.h"
#include "queue.h"

#define ZENDESK_JOB_POSTBACK "zendesk.postback"

static void
copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src != NULL ? src : "");
}

/* An earlier run of this job, if one committed. */
static enum tr_err
run_find(struct tr_db_conn *c, const struct tr_pipeline__run *r,
         struct tr_pipeline_result *res, bool *found, struct tr_error *err)
{
    char job[24];
    const char *params[1] = {job};
    struct tr_db_res *q = NULL;
    enum tr_err rc;

    *found = false;
    if (r->job_id <= 0)
        return TR_OK;
    snprintf(job, sizeof(job), "%lld", (long long) r->job_id);
    rc = tr_db_exec(c, "SELECT id, action, coalesce(draft_id, 0), "
                       "coalesce(ledger_seq, 0), team, priority, language "
                       "FROM triage_runs WHERE job_id = $1",
                    1, params, &q, err);
    if (rc == TR_OK && tr_db_res_n_rows(q) == 1) {
        *found = true;
        res->again = true;
        res->run_id = strtoll(tr_db_res_value(q, 0, 0), NULL, 10);
        copy(res->action, sizeof(res->action), tr_db_res_value(q, 0, 1));
        res->draft_id = strtoll(tr_db_res_value(q, 0, 2), NULL, 10);
        res->ledger_seq = strtoll(tr_db_res_value(q, 0, 3), NULL, 10);
        copy(res->team, sizeof(res->team), tr_db_res_value(q, 0, 4));
        copy(res->priority, sizeof(res->priority), tr_db_res_value(q, 0, 5));
        copy(res->language, sizeof(res->language), tr_db_res_value(q, 0, 6));
    }
    tr_db_res_free(q);
    return rc;
}

/* The draft's sources as a JSON array text, for drafts.citations. */
static char *
sources_json(const struct tr_draft *d)
{
    cJSON *arr = cJSON_CreateArray();
    char *out;

    for (size_t i = 0; arr != NULL && i < d->n_sources; i++) {
        cJSON *o = cJSON_CreateObject();

        if (o == NULL)
            break;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "id", d->sources[i].id);
        cJSON_AddNumberToObject(o, "article_id",
                                (double) d->sources[i].article_id);
        cJSON_AddStringToObject(o, "title", d->sources[i].title);
        cJSON_AddStringToObject(o, "url", d->sources[i].url);
    }
    out = arr != NULL ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return out;
}

/*
 * The originals of the placeholders that occur in the draft's `body`,
 * so that post-back and staff allowed to see them can restore the text.
 * Placeholders of the ticket that the draft does not use are not kept.
 */
static enum tr_err
redactions_insert(struct tr_db_conn *c, const struct tr_pipeline__run *r,
                  int64_t draft_id, const char *body, struct tr_error *err)
{
    const char *params[4];
    char did[24];
    enum tr_err rc = TR_OK;

    snprintf(did, sizeof(did), "%lld", (long long) draft_id);
    params[0] = did;
    for (size_t i = 0; rc == TR_OK && i < tr_redact_map_count(r->map); i++) {
        params[1] = tr_redact_map_placeholder(r->map, i);
        if (strstr(body, params[1]) == NULL)
            continue;
        params[2] = tr_redact_map_kind(r->map, i);
        params[3] = tr_redact_map_original(r->map, i);
        rc = tr_db_exec(c, "INSERT INTO draft_redactions (tenant_id, "
                           "draft_id, placeholder, kind, original) VALUES "
                           "(current_setting('triage.tenant_id')::bigint, "
                           "$1, $2, $3, $4)", 4, params, NULL, err);
    }
    return rc;
}

static enum tr_err
draft_insert(struct tr_db_conn *c, const struct tr_pipeline__run *r,
             int64_t *draft_id, struct tr_error *err)
{
    char tid[24], *body = NULL, *cites = NULL, *sents = NULL;
    const char *params[9];
    struct tr_db_res *q = NULL;
    size_t body_len;
    enum tr_err rc;

    rc = tr_draft_render_text(r->draft, &body, &body_len, err);
    if (rc == TR_OK)
        rc = tr_draft_render_json(r->draft, &sents, err);
    if (rc == TR_OK && (cites = sources_json(r->draft)) == NULL)
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
    if (rc != TR_OK)
        goto out;

    snprintf(tid, sizeof(tid), "%lld", (long long) r->ticket_id);
    params[0] = tid;
    params[1] = body;
    params[2] = cites;
    params[3] = r->out.action == TR_POLICY_AUTO_SEND ? "approved"
                                                     : "pending";
    params[4] = r->draft->lang;
    params[5] = r->provider;
    params[6] = r->model_name;
    params[7] = tr_draft_grounded(r->draft) ? "true" : "false";
    params[8] = sents;
    rc = tr_db_exec(c, "INSERT INTO drafts (tenant_id, ticket_id, body, "
                       "citations, status, language, provider, model, "
                       "grounded, sentences) VALUES (current_setting("
                       "'triage.tenant_id')::bigint, $1, $2, $3, $4, $5, "
                       "$6, $7, $8, $9) RETURNING id",
                    9, params, &q, err);
    if (rc == TR_OK) {
        *draft_id = strtoll(tr_db_res_value(q, 0, 0), NULL, 10);
        rc = redactions_insert(c, r, *draft_id, body, err);
    }

out:
    tr_db_res_free(q);
    free(body);
    free(cites);
    free(sents);
    return rc;
}

/* Placeholders by kind ({"EMAIL": 2, ...}) and their total. */
static cJSON *
redaction_json(const struct tr_pipeline__run *r)
{
    cJSON *o = cJSON_CreateObject(), *kinds = cJSON_CreateObject();
    size_t total = 0;

    if (o == NULL || kinds == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(kinds);
        return NULL;
    }
    for (size_t i = 0; i < tr_redact_map_count(r->map); i++) {
        const char *kind = tr_redact_map_kind(r->map, i);
        cJSON *n = cJSON_GetObjectItemCaseSensitive(kinds, kind);

        if (n != NULL)
            cJSON_SetNumberValue(n, n->valuedouble + 1);
        else
            cJSON_AddNumberToObject(kinds, kind, 1);
        total++;
    }
    cJSON_AddNumberToObject(o, "count", (double) total);
    cJSON_AddItemToObject(o, "kinds", kinds);
    return o;
}

static cJSON *
passages_json(const struct tr_pipeline__run *r)
{
    cJSON *arr = cJSON_CreateArray();

    for (size_t i = 0; arr != NULL && i < r->n_hits; i++) {
        const struct tr_kb_hit *h = &r->hits[i];
        cJSON *o = cJSON_CreateObject();

        if (o == NULL)
            break;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "id", r->pass_id[i]);
        cJSON_AddNumberToObject(o, "article_id", (double) h->article_id);
        cJSON_AddStringToObject(o, "title", h->title);
        cJSON_AddStringToObject(o, "section", h->section);
        cJSON_AddNumberToObject(o, "score", h->score);
        cJSON_AddNumberToObject(o, "dense", h->dense_score);
        cJSON_AddNumberToObject(o, "bm25", h->bm25_score);
    }
    return arr;
}

static cJSON *
reasons_json(const struct tr_pipeline__run *r)
{
    cJSON *arr = cJSON_CreateArray();

    for (size_t i = 0; arr != NULL && i < r->out.n_reasons; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(r->out.reasons[i]));
    for (size_t i = 0; arr != NULL && i < r->n_own_reasons; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(r->own_reasons[i]));
    return arr;
}

static cJSON *
grounding_json(const struct tr_draft *d)
{
    cJSON *o = cJSON_CreateObject(), *bad = cJSON_CreateArray();

    if (o == NULL || bad == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(bad);
        return NULL;
    }
    cJSON_AddBoolToObject(o, "grounded", tr_draft_grounded(d));
    cJSON_AddBoolToObject(o, "weak_match", d->weak_match);
    for (size_t i = 0; i < d->n_unsupported; i++)
        cJSON_AddItemToArray(bad,
                             cJSON_CreateNumber((double) d->unsupported[i]));
    cJSON_AddItemToObject(o, "unsupported", bad);
    return o;
}

/* What the record keeps of routing by the model provider. */
static cJSON *
route_model_json(const struct tr_pipeline__run *r)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "status", r->route_status);
    if (r->route_input != NULL) {
        cJSON_AddStringToObject(o, "request", r->route_input);
        cJSON_AddStringToObject(o, "request_hash", r->route_hash);
    }
    cJSON_AddStringToObject(o, "error", r->route_error);
    return o;
}

/* The ledger payload of run `r`; NULL when out of memory. */
static cJSON *
payload_build(const struct tr_pipeline__run *r)
{
    cJSON *o = cJSON_CreateObject(), *lang, *drafter;
    char *routing = tr_policy_decision_json(&r->dec, &r->out);

    if (o == NULL || routing == NULL) {
        cJSON_Delete(o);
        free(routing);
        return NULL;
    }
    cJSON_AddNumberToObject(o, "ticket_id", (double) r->ticket_id);
    cJSON_AddNumberToObject(o, "job_id", (double) r->job_id);
    lang = cJSON_AddObjectToObject(o, "language");
    cJSON_AddStringToObject(lang, "code", r->lang.code);
    cJSON_AddStringToObject(lang, "status",
                            tr_lang_status_name(r->lang.status));
    cJSON_AddItemToObject(o, "redaction", redaction_json(r));
    if (r->searcher != NULL)
        cJSON_AddNumberToObject(o, "index_version",
                                (double) tr_kb_searcher_version(r->searcher));
    else
        cJSON_AddNullToObject(o, "index_version");
    cJSON_AddItemToObject(o, "passages", passages_json(r));
    cJSON_AddNumberToObject(o, "best_score", r->best_score);
    cJSON_AddItemToObject(o, "routing", cJSON_Parse(routing));
    free(routing);
    if (r->route_status != NULL)
        cJSON_AddItemToObject(o, "model_routing", route_model_json(r));
    cJSON_AddStringToObject(o, "action", tr_policy_action_name(r->out.action));
    cJSON_AddItemToObject(o, "reasons", reasons_json(r));

    drafter = cJSON_AddObjectToObject(o, "drafter");
    cJSON_AddStringToObject(drafter, "provider",
                            r->provider != NULL ? r->provider : "none");
    cJSON_AddStringToObject(drafter, "model",
                            r->model_name != NULL ? r->model_name : "");
    cJSON_AddBoolToObject(drafter, "fallback", r->fallback);
    cJSON_AddStringToObject(drafter, "error", r->provider_error);
    if (r->model_input != NULL) {
        cJSON_AddStringToObject(o, "model_input", r->model_input);
        cJSON_AddStringToObject(o, "prompt_hash", r->prompt_hash);
    }
    if (r->draft != NULL)
        cJSON_AddItemToObject(o, "grounding", grounding_json(r->draft));
    return o;
}

/* The post-back of an automatically sent draft, with the routing. */
static enum tr_err
postback_enqueue(struct tr_db *db, struct tr_db_conn *c,
                 const struct tr_pipeline__run *r, int64_t draft_id,
                 struct tr_error *err)
{
    cJSON *o = cJSON_CreateObject(), *tags;
    char *payload;
    enum tr_err rc;

    if (o == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    cJSON_AddNumberToObject(o, "draft_id", (double) draft_id);
    cJSON_AddStringToObject(o, "priority", r->dec.priority);
    if (r->dec.group_id > 0)
        cJSON_AddNumberToObject(o, "group_id", (double) r->dec.group_id);
    tags = cJSON_AddArrayToObject(o, "tags");
    for (size_t i = 0; tags != NULL && i < r->dec.n_tags; i++)
        cJSON_AddItemToArray(tags, cJSON_CreateString(r->dec.tags[i]));
    payload = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (payload == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    rc = tr_queue_enqueue(db, c, r->tenant_id, ZENDESK_JOB_POSTBACK, payload,
                          0, NULL, err);
    free(payload);
    return rc;
}

static enum tr_err
run_insert(struct tr_db_conn *c, const struct tr_pipeline__run *r,
           int64_t draft_id, int64_t seq, struct tr_pipeline_result *res,
           struct tr_error *err)
{
    char tid[24], job[24], gid[24], prob[32], did[24], sq[24];
    const char *params[12];
    struct tr_db_res *q = NULL;
    cJSON *rj = reasons_json(r);
    char *reasons = rj != NULL ? cJSON_PrintUnformatted(rj) : NULL;
    enum tr_err rc;

    cJSON_Delete(rj);
    if (reasons == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    snprintf(tid, sizeof(tid), "%lld", (long long) r->ticket_id);
    snprintf(job, sizeof(job), "%lld", (long long) r->job_id);
    snprintf(gid, sizeof(gid), "%lld", (long long) r->dec.group_id);
    snprintf(prob, sizeof(prob), "%.6f", r->dec.intent_prob);
    snprintf(did, sizeof(did), "%lld", (long long) draft_id);
    snprintf(sq, sizeof(sq), "%lld", (long long) seq);
    params[0] = tid;
    params[1] = r->job_id > 0 ? job : NULL;
    params[2] = tr_policy_action_name(r->out.action);
    params[3] = reasons;
    params[4] = r->dec.team;
    params[5] = r->dec.group_id > 0 ? gid : NULL;
    params[6] = r->dec.priority;
    params[7] = r->dec.intent;
    params[8] = r->dec.intent != NULL ? prob : NULL;
    params[9] = r->lang.code;
    params[10] = draft_id > 0 ? did : NULL;
    params[11] = sq;
    rc = tr_db_exec(c, "INSERT INTO triage_runs (tenant_id, ticket_id, "
                       "job_id, action, reasons, team, group_id, priority, "
                       "intent, intent_prob, language, draft_id, ledger_seq) "
                       "VALUES (current_setting('triage.tenant_id')::bigint, "
                       "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
                       "RETURNING id", 12, params, &q, err);
    if (rc == TR_OK)
        res->run_id = strtoll(tr_db_res_value(q, 0, 0), NULL, 10);
    tr_db_res_free(q);
    free(reasons);
    return rc;
}

/* Fill what the caller learns of the run. */
static void
result_fill(const struct tr_pipeline__run *r, int64_t draft_id, int64_t seq,
            struct tr_pipeline_result *res)
{
    size_t n = tr_redact_map_count(r->map);

    res->draft_id = draft_id;
    res->ledger_seq = seq;
    copy(res->action, sizeof(res->action),
         tr_policy_action_name(r->out.action));
    copy(res->team, sizeof(res->team), r->dec.team);
    copy(res->priority, sizeof(res->priority), r->dec.priority);
    copy(res->language, sizeof(res->language), r->lang.code);
    res->n_redacted = n;
    res->n_passages = r->n_hits;
    res->fallback = r->fallback;
}

enum tr_err
tr_pipeline__record(struct tr_db *db, struct tr_pipeline__run *r,
                    struct tr_pipeline_result *res, struct tr_error *err)
{
    struct tr_ledger_entry entry = {0};
    struct tr_db_conn *c;
    int64_t draft_id = 0;
    const char *params[2];
    char tid[24];
    cJSON *payload = NULL;
    bool found = false;
    enum tr_err rc;

    rc = tr_db_tx_begin(db, r->tenant_id, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = run_find(c, r, res, &found, err);
    if (rc != TR_OK || found)
        goto out;

    if (r->draft != NULL)
        rc = draft_insert(c, r, &draft_id, err);
    snprintf(tid, sizeof(tid), "%lld", (long long) r->ticket_id);
    params[0] = r->lang.code;
    params[1] = tid;
    if (rc == TR_OK)
        rc = tr_db_exec(c, "UPDATE tickets SET language = $1 WHERE id = $2",
                        2, params, NULL, err);
    if (rc == TR_OK && r->out.action == TR_POLICY_AUTO_SEND)
        rc = postback_enqueue(db, c, r, draft_id, err);

    /* The ledger last: it holds the tenant's chain until the commit. */
    if (rc == TR_OK && (payload = payload_build(r)) == NULL)
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
    if (rc == TR_OK)
        rc = tr_ledger_append_json(c, r->tenant_id, TR_LEDGER_DECISION,
                                   draft_id, r->ticket_id, payload, &entry,
                                   err);
    if (rc == TR_OK)
        rc = run_insert(c, r, draft_id, entry.seq, res, err);
    if (rc == TR_OK) {
        rc = tr_db_tx_commit(c, err);
        c = NULL;
    }
    if (rc == TR_OK)
        result_fill(r, draft_id, entry.seq, res);

out:
    if (c != NULL)
        tr_db_tx_rollback(c);
    cJSON_Delete(payload);
    tr_ledger_entry_cleanup(&entry);
    return rc;
}
