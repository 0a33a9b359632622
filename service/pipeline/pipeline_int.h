/*
 * pipeline_int.h
 *      Layouts shared by the files of the triage pipeline: the pipeline
 *      itself and the state of one run as it moves through the steps.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_PIPELINE_INT_H
#define TR_PIPELINE_INT_H

#include <pthread.h>
#include <stddef.h>

#include "draft.h"
#include "kb.h"
#include "lang.h"
#include "llm.h"
#include "pipeline.h"
#include "policy.h"
#include "redact.h"

/* Most passages one run retrieves and cites. */
#define TR_PIPELINE_K_MAX 16

/* Longest query sent to the search, in bytes. */
#define TR_PIPELINE_QUERY_MAX 4000

/* Most reasons of the run's own (beside the policy's) in the record. */
#define TR_PIPELINE_REASONS_MAX 6

struct tr_pipeline__policy;

struct tr_pipeline {
    struct tr_pipeline_opts o;
    char base_url[1024];
    char api_key[512];
    char model[256];
    struct tr_lang *lang;
    struct tr_redact *redact;
    struct tr_llm_conf llm_conf;
    struct tr_llm *llm;         /* NULL for the extractive drafter */
    pthread_mutex_t cache_mu;   /* guards cache and every entry's refs */
    struct tr_pipeline__policy *cache;  /* one entry per tenant */
};

/* One run: everything the steps produce, released by run_cleanup(). */
struct tr_pipeline__run {
    int64_t tenant_id;
    int64_t ticket_id;
    int64_t job_id;

    /* the ticket, as stored and as redacted */
    char *subject;
    char *body;
    char *subject_red;
    char *body_red;
    char *text_red;             /* subject and body, for search and draft */
    struct tr_redact_map *map;  /* one for subject and body */
    char config_digest[40];     /* of the stored configuration, or "" */
    int model_version;          /* of the active classifier, or 0 */
    struct tr_lang_result lang;

    /* retrieval; hits borrow from the searcher, held until cleanup */
    struct tr_kb_searcher *searcher;
    struct tr_kb_hit hits[TR_PIPELINE_K_MAX];
    size_t n_hits;
    char pass_id[TR_PIPELINE_K_MAX][32];
    struct tr_draft_passage passages[TR_PIPELINE_K_MAX];
    double best_score;

    /* routing and decision */
    struct tr_pipeline__policy *pol;    /* held until cleanup */
    const struct tr_policy_config *cfg;     /* borrowed from pol */
    const struct tr_route_model *model;     /* from pol, may be NULL */
    struct tr_policy_decision dec;
    struct tr_policy_outcome out;
    const char *own_reasons[TR_PIPELINE_REASONS_MAX];
    size_t n_own_reasons;

    /* routing by the model provider, when the tenant enables it */
    const char *route_status;   /* NULL: not enabled; "answered",
                                 * "refused", "failed", "not_needed",
                                 * "skipped" */
    char *route_input;          /* exact request body, or NULL */
    char route_hash[65];
    char route_error[256];

    /* the draft and how it was written */
    struct tr_draft *draft;
    const char *provider;
    const char *model_name;
    bool fallback;
    char provider_error[256];
    char *model_input;          /* exact input of the drafter */
    char prompt_hash[65];

    /* wall time per step, and when the last timed step ended */
    int64_t step_ns[TR_PIPELINE_N_STEPS];
    int64_t lap_ns;
};

/*
 * Charge the time since the previous lap (or the start of the run) to
 * `step` of run `r`.
 */
void tr_pipeline__lap(struct tr_pipeline__run *r, enum tr_pipeline_step step);

/* Add `reason` to the run's own reasons (silently capped). */
void tr_pipeline__reason(struct tr_pipeline__run *r, const char *reason);

/*
 * Ask the model provider to route run `r` when the tenant's
 * configuration enables it and its routing left the team open (part of
 * step 4), and apply the answer to r->dec.  A provider that fails or an
 * answer that is refused leaves the decision as it was and adds a
 * reason; without a provider the step is skipped, with a reason too.
 * Returns only TR_E_NOMEM and internal failures.
 */
enum tr_err tr_pipeline__route_model(struct tr_pipeline *p,
                                     struct tr_pipeline__run *r,
                                     struct tr_error *err);

/*
 * Retrieve passages for the redacted text (step 3).  A tenant without
 * an index gets none.  Database and index errors are returned.
 */
enum tr_err tr_pipeline__retrieve(struct tr_pipeline *p, struct tr_db *db,
                                  struct tr_pipeline__run *r,
                                  struct tr_error *err);

/*
 * Write the draft of run `r` (step 6) with the configured drafter,
 * falling back as configured, and check its grounding.  Sets r->draft,
 * or leaves it NULL and adds a reason when the ticket must go to a human
 * instead.  Returns only TR_E_NOMEM and internal failures.
 */
enum tr_err tr_pipeline__draft(struct tr_pipeline *p,
                               struct tr_pipeline__run *r,
                               struct tr_error *err);

/*
 * Store run `r` (step 7) in one transaction: the draft, the run, the
 * ledger entry, the post-back job.  Fills `res`.
 */
enum tr_err tr_pipeline__record(struct tr_db *db, struct tr_pipeline__run *r,
                                struct tr_pipeline_result *res,
                                struct tr_error *err);

/*
 * The tenant's routing configuration, classifier and redactor for the
 * stored configuration digest `digest` ("" for none) and active model
 * version `model_version` (0 for none), from the cache or loaded into
 * it.  Release with tr_pipeline__policy_release().  The errors of
 * tr_policy_config_fetch(), tr_policy_model_fetch() and
 * tr_redact_new().  Any thread.
 */
enum tr_err tr_pipeline__policy_get(struct tr_pipeline *p, struct tr_db *db,
                                    int64_t tenant_id, const char *digest,
                                    int model_version,
                                    struct tr_pipeline__policy **out,
                                    struct tr_error *err);
void tr_pipeline__policy_release(struct tr_pipeline *p,
                                 struct tr_pipeline__policy *pol);

/* Drop every cached entry (when the pipeline is freed). */
void tr_pipeline__policy_cache_free(struct tr_pipeline *p);

/* What an entry holds; the redactor is NULL for the built-in kinds. */
const struct tr_policy_config *
tr_pipeline__policy_config(const struct tr_pipeline__policy *pol);
const struct tr_route_model *
tr_pipeline__policy_model(const struct tr_pipeline__policy *pol);
const struct tr_redact *
tr_pipeline__policy_redactor(const struct tr_pipeline__policy *pol);

#endif /* TR_PIPELINE_INT_H */
