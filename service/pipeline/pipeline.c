/*
 * pipeline.c
 *      The triage pipeline's lifetime, the order of its steps, and its
 *      job handler.
 *
 * This file owns what one run does in which order (see pipeline.h);
 * retrieval and drafting are in draft_step.c, routing by the model
 * provider in route_step.c, storage in record.c.  The
 * pipeline itself is built once and shared by all workers: the language
 * detector serialises on its own lock, the redactor and the model client
 * are thread-safe, and everything a run produces lives in its struct
 * tr_pipeline__run.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "conf.h"
#include "db.h"
#include "log.h"
#include "pipeline_int.h"
#include "queue.h"
#include "route.h"

enum tr_err
tr_pipeline_opts_from_conf(struct tr_pipeline_opts *o,
                           const struct tr_conf *conf, struct tr_error *err)
{
    memset(o, 0, sizeof(*o));
    if (strcmp(conf->draft_provider, "openai") == 0)
        o->drafter = TR_PIPELINE_OPENAI;
    else if (strcmp(conf->draft_provider, "anthropic") == 0)
        o->drafter = TR_PIPELINE_ANTHROPIC;
    else
        o->drafter = TR_PIPELINE_EXTRACTIVE;
    o->base_url = conf->draft_base_url;
    o->api_key = conf->draft_api_key;
    o->model = conf->draft_model;
    o->timeout_s = conf->draft_timeout;
    o->fallback_extractive = strcmp(conf->draft_fallback, "escalate") != 0;
    o->k = conf->retrieval_k;

    if (o->drafter != TR_PIPELINE_EXTRACTIVE && o->model[0] == '\0')
        return TR_ERROR(err, TR_E_CONF,
                        "draft_provider %s needs draft_model",
                        conf->draft_provider);
    return TR_OK;
}

/* Make the model client of `p` from its copied options. */
static enum tr_err
llm_open(struct tr_pipeline *p, struct tr_error *err)
{
    struct tr_llm_conf *c = &p->llm_conf;

    tr_llm_conf_default(c, p->o.drafter == TR_PIPELINE_ANTHROPIC
                               ? TR_LLM_ANTHROPIC : TR_LLM_OPENAI);
    if (p->base_url[0] != '\0')
        c->base_url = p->base_url;
    c->api_key = p->api_key;
    c->model = p->model;
    if (p->o.timeout_s > 0)
        c->timeout_ms = (long) p->o.timeout_s * 1000;
    p->llm = tr_llm_new(c, err);
    return p->llm != NULL ? TR_OK : err->code;
}

enum tr_err
tr_pipeline_new(const struct tr_pipeline_opts *o, struct tr_pipeline **out,
                struct tr_error *err)
{
    struct tr_lang_opts lo = {0};
    struct tr_pipeline *p;
    enum tr_err rc;

    *out = NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    p->o = *o;
    snprintf(p->base_url, sizeof(p->base_url), "%s",
             o->base_url != NULL ? o->base_url : "");
    snprintf(p->api_key, sizeof(p->api_key), "%s",
             o->api_key != NULL ? o->api_key : "");
    snprintf(p->model, sizeof(p->model), "%s",
             o->model != NULL ? o->model : "");
    p->o.base_url = p->base_url;
    p->o.api_key = p->api_key;
    p->o.model = p->model;
    if (p->o.k < 1)
        p->o.k = 5;
    if (p->o.k > TR_PIPELINE_K_MAX)
        p->o.k = TR_PIPELINE_K_MAX;

    pthread_mutex_init(&p->cache_mu, NULL);
    lo.data_dir = o->lang_dir;
    rc = tr_lang_new(&lo, &p->lang, err);
    if (rc == TR_OK)
        rc = tr_redact_new(NULL, 0, &p->redact, err);
    if (rc == TR_OK && p->o.drafter != TR_PIPELINE_EXTRACTIVE)
        rc = llm_open(p, err);
    if (rc != TR_OK) {
        tr_pipeline_free(p);
        return rc;
    }
    *out = p;
    return TR_OK;
}

void
tr_pipeline_free(struct tr_pipeline *p)
{
    if (p == NULL)
        return;
    tr_llm_free(p->llm);
    tr_redact_free(p->redact);
    tr_lang_free(p->lang);
    tr_pipeline__policy_cache_free(p);
    pthread_mutex_destroy(&p->cache_mu);
    free(p);
}

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
tr_pipeline__lap(struct tr_pipeline__run *r, enum tr_pipeline_step step)
{
    int64_t t = now_ns();

    r->step_ns[step] += t - r->lap_ns;
    r->lap_ns = t;
}

static void
run_cleanup(struct tr_pipeline *p, struct tr_pipeline__run *r)
{
    free(r->subject);
    free(r->body);
    free(r->subject_red);
    free(r->body_red);
    free(r->text_red);
    tr_redact_map_free(r->map);
    tr_kb_searcher_release(r->searcher);
    tr_policy_decision_cleanup(&r->dec);
    tr_pipeline__policy_release(p, r->pol);
    tr_draft_free(r->draft);
    free(r->model_input);
    free(r->route_input);
}

/*
 * Step 1: read subject and body of the ticket, and in the same
 * transaction the stamps of the tenant's routing configuration and
 * classifier, which say whether the cached ones still hold.
 */
static enum tr_err
ticket_load(struct tr_db *db, struct tr_pipeline__run *r,
            struct tr_error *err)
{
    char tid[24];
    const char *params[1] = {tid};
    struct tr_db_conn *c;
    struct tr_db_res *res = NULL;
    enum tr_err rc;

    snprintf(tid, sizeof(tid), "%lld", (long long) r->ticket_id);
    rc = tr_db_tx_begin(db, r->tenant_id, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_exec(c, "SELECT t.subject, t.description, "
                       "coalesce((SELECT md5(config) FROM routing_configs), "
                       "''), coalesce((SELECT version FROM route_models "
                       "WHERE active), 0) FROM tickets t WHERE t.id = $1",
                    1, params, &res, err);
    tr_db_tx_rollback(c);
    if (rc != TR_OK)
        return rc;
    if (tr_db_res_n_rows(res) != 1) {
        rc = TR_ERROR(err, TR_E_NOTFOUND, "no ticket %s for tenant %lld",
                      tid, (long long) r->tenant_id);
    } else {
        r->subject = strdup(tr_db_res_value(res, 0, 0));
        r->body = strdup(tr_db_res_value(res, 0, 1));
        snprintf(r->config_digest, sizeof(r->config_digest), "%s",
                 tr_db_res_value(res, 0, 2));
        r->model_version = atoi(tr_db_res_value(res, 0, 3));
        if (r->subject == NULL || r->body == NULL)
            rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }
    tr_db_res_free(res);
    return rc;
}

/*
 * The tenant's routing configuration (the default one when it has none),
 * classifier and redactor, from the pipeline's cache.  A configuration
 * whose patterns cannot be compiled any more stops the run: the text
 * must not go on with a tenant's kind left unredacted.
 */
static enum tr_err
ticket_config(struct tr_pipeline *p, struct tr_db *db,
              struct tr_pipeline__run *r, struct tr_error *err)
{
    enum tr_err rc;

    rc = tr_pipeline__policy_get(p, db, r->tenant_id, r->config_digest,
                                 r->model_version, &r->pol, err);
    if (rc != TR_OK)
        return rc;
    r->cfg = tr_pipeline__policy_config(r->pol);
    r->model = tr_pipeline__policy_model(r->pol);
    return TR_OK;
}

/*
 * Step 2: the language of the original text, then the redacted texts.
 * Subject and body share one map, so a value in both is one placeholder
 * and no placeholder stands for two values.  A redaction that cannot run
 * stops the run: the text must not reach a model or the search
 * unredacted.
 */
static enum tr_err
ticket_redact(struct tr_pipeline *p, struct tr_pipeline__run *r,
              struct tr_error *err)
{
    const struct tr_redact *own = tr_pipeline__policy_redactor(r->pol);
    const struct tr_redact *red = own != NULL ? own : p->redact;
    const char *in[2] = {r->subject, r->body};
    size_t in_len[2] = {strlen(r->subject), strlen(r->body)};
    char *out[2];
    size_t out_len[2], len;
    enum tr_err rc;

    len = in_len[0] + in_len[1] + 2;
    r->text_red = malloc(len);
    if (r->text_red == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    snprintf(r->text_red, len, "%s\n%s", r->subject, r->body);
    rc = tr_lang_detect(p->lang, r->text_red, len - 1, &r->lang, err);
    free(r->text_red);
    r->text_red = NULL;
    tr_pipeline__lap(r, TR_PIPELINE_STEP_LANG);
    if (rc != TR_OK)
        return rc;

    rc = tr_redact_fields(red, 2, in, in_len, out, out_len, &r->map, err);
    if (rc != TR_OK)
        return rc;
    r->subject_red = out[0];
    r->body_red = out[1];

    len = out_len[0] + out_len[1] + 3;
    r->text_red = malloc(len);
    if (r->text_red == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    snprintf(r->text_red, len, "%s\n\n%s", r->subject_red, r->body_red);
    tr_pipeline__lap(r, TR_PIPELINE_STEP_REDACT);
    return TR_OK;
}

/* Step 4: the routing, with the retrieved sections as evidence. */
static enum tr_err
ticket_route(struct tr_pipeline__run *r, struct tr_error *err)
{
    struct tr_policy_evidence ev[TR_PIPELINE_K_MAX];

    for (size_t i = 0; i < r->n_hits; i++) {
        ev[i].section = r->hits[i].section[0] != '\0' ? r->hits[i].section
                                                      : NULL;
        ev[i].score = r->hits[i].dense_score > 0 ? r->hits[i].dense_score
                                                 : 0;
        ev[i].text = r->hits[i].text;
    }
    return tr_policy_route(r->cfg, r->model, r->subject_red, r->body_red,
                           ev, r->n_hits, &r->dec, err);
}

/*
 * Steps 5 and 6: decide; unless escalated, draft and decide again with
 * what the draft showed.  The confidence of a draft is the best
 * retrieval score scaled by the share of its sentences that the
 * grounding check supports, halved for a draft that matched the ticket
 * only weakly.
 */
static enum tr_err
ticket_decide(struct tr_pipeline *p, struct tr_pipeline__run *r,
              struct tr_error *err)
{
    struct tr_policy_signals sig = {r->best_score, true, r->best_score};
    size_t n_body = 0, n_bad;
    enum tr_err rc;

    tr_policy_decide(r->cfg, &r->dec, &sig, &r->out);
    tr_pipeline__lap(r, TR_PIPELINE_STEP_DECIDE);
    if (r->out.action == TR_POLICY_ESCALATE)
        return TR_OK;

    rc = tr_pipeline__draft(p, r, err);
    if (rc != TR_OK)
        return rc;
    if (r->draft == NULL) {
        r->out.action = TR_POLICY_ESCALATE;
        return TR_OK;
    }

    for (size_t i = 0; i < r->draft->n_sentences; i++)
        if (r->draft->sentences[i].verdict != TR_DRAFT_EXEMPT)
            n_body++;
    n_bad = r->draft->n_unsupported;
    sig.grounded = tr_draft_grounded(r->draft);
    sig.confidence = n_body > 0 ? r->best_score * (double) (n_body - n_bad)
                                      / (double) n_body
                                : 0;
    if (r->draft->weak_match)
        sig.confidence /= 2;
    tr_policy_decide(r->cfg, &r->dec, &sig, &r->out);
    tr_pipeline__lap(r, TR_PIPELINE_STEP_DECIDE);

    /* The policy may still escalate; the draft is then kept for review
     * but nothing is sent. */
    if (r->out.action == TR_POLICY_ESCALATE) {
        tr_draft_free(r->draft);
        r->draft = NULL;
    }
    return TR_OK;
}

enum tr_err
tr_pipeline_run(struct tr_pipeline *p, struct tr_db *db, int64_t tenant_id,
                int64_t ticket_id, int64_t job_id,
                struct tr_pipeline_result *res, struct tr_error *err)
{
    struct tr_pipeline__run *r;
    enum tr_err rc;

    memset(res, 0, sizeof(*res));
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    r->tenant_id = tenant_id;
    r->ticket_id = ticket_id;
    r->job_id = job_id;
    r->best_score = -1;
    r->lap_ns = now_ns();

    /* Each step's time is charged as it ends (the laps inside the
     * steps split language from redaction and decision, draft and
     * grounding from one another). */
    rc = ticket_load(db, r, err);
    if (rc == TR_OK)
        rc = ticket_config(p, db, r, err);
    tr_pipeline__lap(r, TR_PIPELINE_STEP_LOAD);
    if (rc == TR_OK)
        rc = ticket_redact(p, r, err);
    if (rc == TR_OK) {
        rc = tr_pipeline__retrieve(p, db, r, err);
        tr_pipeline__lap(r, TR_PIPELINE_STEP_RETRIEVE);
    }
    if (rc == TR_OK) {
        rc = ticket_route(r, err);
        if (rc == TR_OK)
            rc = tr_pipeline__route_model(p, r, err);
        tr_pipeline__lap(r, TR_PIPELINE_STEP_ROUTE);
    }
    if (rc == TR_OK)
        rc = ticket_decide(p, r, err);
    if (rc == TR_OK) {
        rc = tr_pipeline__record(db, r, res, err);
        tr_pipeline__lap(r, TR_PIPELINE_STEP_RECORD);
    }
    memcpy(res->step_ns, r->step_ns, sizeof(res->step_ns));

    if (rc == TR_OK)
        TR_LOG_INFO("pipeline", "ticket_triaged",
                    TR_KVS(TR_KV_INT("tenant", tenant_id),
                           TR_KV_INT("ticket", ticket_id),
                           TR_KV_STR("action", res->action),
                           TR_KV_STR("team", res->team),
                           TR_KV_STR("lang", res->language),
                           TR_KV_INT("passages", (long long) res->n_passages),
                           TR_KV_INT("redacted", (long long) res->n_redacted),
                           TR_KV_INT("again", res->again)),
                    "ticket %lld: %s", (long long) ticket_id, res->action);
    run_cleanup(p, r);
    free(r);
    return rc;
}

/* The handler of "triage" jobs: {"ticket_id": N, ...}. */
static enum tr_err
triage_job(struct tr_queue_job *job, void *ud, struct tr_error *err)
{
    struct tr_pipeline *p = ud;
    struct tr_pipeline_result res;
    cJSON *root = cJSON_Parse(job->payload);
    const cJSON *tid = cJSON_GetObjectItemCaseSensitive(root, "ticket_id");
    int64_t ticket_id = cJSON_IsNumber(tid) ? (int64_t) tid->valuedouble : 0;
    enum tr_err rc;

    cJSON_Delete(root);
    if (ticket_id <= 0 || job->tenant_id <= 0)
        return TR_ERROR(err, TR_E_INVAL,
                        "triage job %lld names no ticket or tenant",
                        (long long) job->id);
    rc = tr_pipeline_run(p, job->db, job->tenant_id, ticket_id, job->id,
                         &res, err);
    return rc;
}

enum tr_err
tr_pipeline_jobs_register(struct tr_pipeline *p, struct tr_error *err)
{
    return tr_queue_handler_register(TR_PIPELINE_JOB, triage_job, p, 0, err);
}
