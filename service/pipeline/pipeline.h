/*
 * pipeline.h
 *      The triage of one ticket: language, redaction, retrieval,
 *      routing, decision, draft, grounding, and the record of it all.
 *
 * A "triage" job (enqueued by the Zendesk ingest for each new or
 * changed ticket) runs tr_pipeline_run(), which
 *
 *   1. reads the ticket and identifies its language;
 *   2. replaces personal data in subject and body with placeholders;
 *      nothing after this step sees the originals;
 *   3. searches the tenant's knowledge base with the redacted text;
 *   4. routes the ticket (team, priority, intent, tags, escalation and
 *      injection checks) with the tenant's routing configuration and
 *      classifier, the sections of the retrieved articles as evidence;
 *      when the configuration enables model routing and the drafter is
 *      a model provider, asks the provider for the team the routing
 *      left open (its failure only adds a reason);
 *   5. decides: escalate, draft for approval, or send automatically;
 *   6. unless escalated, drafts a reply citing the passages, with the
 *      configured provider (a model, or the offline extractive drafter,
 *      which is also the fallback when a model fails) and checks every
 *      sentence against the passages it cites, then decides again with
 *      what the draft showed;
 *   7. in one transaction, stores the run and the draft, appends the
 *      decision with everything it rested on to the tenant's ledger, and
 *      enqueues the post-back when the ticket is sent automatically.
 *
 * A job that runs again after its work committed finds its run and
 * writes nothing twice.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_PIPELINE_H
#define TR_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "err.h"

struct tr_conf;
struct tr_db;

/* The job kind the pipeline handles. */
#define TR_PIPELINE_JOB "triage"

/* Who writes drafts. */
enum tr_pipeline_drafter {
    TR_PIPELINE_EXTRACTIVE = 0,
    TR_PIPELINE_OPENAI,
    TR_PIPELINE_ANTHROPIC
};

struct tr_pipeline_opts {
    enum tr_pipeline_drafter drafter;
    const char *base_url;       /* model server; NULL or "": vendor's */
    const char *api_key;        /* never logged */
    const char *model;
    int timeout_s;              /* per model call */
    bool fallback_extractive;   /* on model failure: draft offline (true)
                                 * or escalate */
    int k;                      /* passages retrieved */
    const char *lang_dir;       /* language profiles; NULL: default */
};

/* The steps of a run, as timed in tr_pipeline_result.step_ns. */
enum tr_pipeline_step {
    TR_PIPELINE_STEP_LOAD = 0,  /* reading the ticket */
    TR_PIPELINE_STEP_LANG,
    TR_PIPELINE_STEP_REDACT,
    TR_PIPELINE_STEP_RETRIEVE,
    TR_PIPELINE_STEP_ROUTE,     /* policy and the model provider's part */
    TR_PIPELINE_STEP_DECIDE,    /* both decisions */
    TR_PIPELINE_STEP_DRAFT,
    TR_PIPELINE_STEP_GROUND,
    TR_PIPELINE_STEP_RECORD,    /* the transaction of step 7 */
    TR_PIPELINE_N_STEPS
};

/* What one run decided; strings are copies. */
struct tr_pipeline_result {
    int64_t run_id;
    int64_t draft_id;           /* 0 when escalated */
    int64_t ledger_seq;
    char action[16];            /* "escalate", "draft", "auto_send" */
    char team[64];
    char priority[32];
    char language[8];
    size_t n_redacted;          /* placeholders put in */
    size_t n_passages;          /* passages retrieved */
    bool fallback;              /* the model failed; extractive drafted */
    bool again;                 /* an earlier run of the job had
                                 * committed; nothing was written */
    int64_t step_ns[TR_PIPELINE_N_STEPS];   /* wall time of each step */
};

struct tr_pipeline;

/*
 * Fill `o` from the configuration keys draft_* and retrieval_k.
 * TR_E_CONF when a model provider is chosen without a model name.
 */
enum tr_err tr_pipeline_opts_from_conf(struct tr_pipeline_opts *o,
                                       const struct tr_conf *conf,
                                       struct tr_error *err);

/*
 * Make a pipeline: the language detector, the redactor and, for a model
 * drafter, its client.  Strings of `o` are copied.  The caller frees it
 * with tr_pipeline_free().  TR_E_CONF, TR_E_NOTFOUND (language
 * profiles), TR_E_NOMEM.  Main thread; then shared by every worker.
 */
enum tr_err tr_pipeline_new(const struct tr_pipeline_opts *o,
                            struct tr_pipeline **out, struct tr_error *err);

/* Free `p`.  NULL is a no-op.  No run may be in flight. */
void tr_pipeline_free(struct tr_pipeline *p);

/* Most tenants whose routing setup one pipeline keeps loaded. */
#define TR_PIPELINE_POLICY_CACHE_MAX 32

/*
 * How many tenants' routing configuration, classifier and redactor `p`
 * keeps loaded (at most TR_PIPELINE_POLICY_CACHE_MAX).  Any thread.
 */
size_t tr_pipeline_cached_tenants(struct tr_pipeline *p);

/*
 * Triage ticket `ticket_id` (tickets.id) of tenant `tenant_id` for job
 * `job_id` (0 when not run from a job: then no repeat check).  Fills
 * `res`.  Returns TR_E_NOTFOUND for an unknown ticket, TR_E_INTERNAL
 * when redaction could not run (nothing is sent anywhere then), the
 * database's errors (the job is retried), TR_E_MODEL and other provider
 * errors only when the fallback is "escalate" is not set and the model
 * failed.  Any thread, concurrently.
 */
enum tr_err tr_pipeline_run(struct tr_pipeline *p, struct tr_db *db,
                            int64_t tenant_id, int64_t ticket_id,
                            int64_t job_id, struct tr_pipeline_result *res,
                            struct tr_error *err);

/*
 * Register the handler of TR_PIPELINE_JOB jobs, which runs `p` (it must
 * outlive the worker pool).  Main thread, before the pool starts.
 */
enum tr_err tr_pipeline_jobs_register(struct tr_pipeline *p,
                                      struct tr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* TR_PIPELINE_H */
