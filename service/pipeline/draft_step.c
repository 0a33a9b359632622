/*
 * draft_step.c
 *      Retrieval of passages for a ticket, and the draft written from
 *      them by a model or by the extractive drafter.
 *
 * Both steps see only the redacted text.  Each passage gets the citation
 * id "c<chunk id>", stable across runs on the same index version, so
 * that the ledger, the draft and the approver's view name the same
 * thing.
 *
 * Whatever drafted, the exact input it worked from is kept as the run's
 * model input and hashed: for a model, the request body sent; for the
 * extractive drafter, a JSON object of the ticket text, the language
 * and the passages.  `triage ledger replay` prints those bytes again.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "pipeline_int.h"

/* Cut `s` to at most `max` bytes at a UTF-8 character boundary. */
static void
utf8_cut(char *s, size_t max)
{
    size_t n = strlen(s);

    if (n <= max)
        return;
    while (max > 0 && ((unsigned char) s[max] & 0xC0) == 0x80)
        max--;
    s[max] = '\0';
}

enum tr_err
tr_pipeline__retrieve(struct tr_pipeline *p, struct tr_db *db,
                      struct tr_pipeline__run *r, struct tr_error *err)
{
    char query[TR_PIPELINE_QUERY_MAX + 1];
    enum tr_err rc;

    snprintf(query, sizeof(query), "%s", r->text_red);
    utf8_cut(query, TR_PIPELINE_QUERY_MAX);
    if (strspn(query, " \t\r\n") == strlen(query))
        return TR_OK;           /* nothing to search with */

    rc = tr_kb_searcher_get(db, r->tenant_id, &r->searcher, err);
    if (rc == TR_E_NOTFOUND) {
        tr_error_clear(err);
        return TR_OK;           /* no index yet: no passages */
    }
    if (rc != TR_OK)
        return rc;
    rc = tr_kb_search(r->searcher, query, (size_t) p->o.k, TR_KB_HYBRID,
                      r->hits, &r->n_hits, err);
    if (rc != TR_OK)
        return rc;

    for (size_t i = 0; i < r->n_hits; i++) {
        const struct tr_kb_hit *h = &r->hits[i];

        snprintf(r->pass_id[i], sizeof(r->pass_id[i]), "c%lld",
                 (long long) h->chunk_id);
        r->passages[i] = (struct tr_draft_passage) {
            r->pass_id[i], h->article_id, h->title, h->url, h->locale,
            h->heading_path, h->text
        };
    }

    /* The dense score is a cosine, comparable across tickets; the fused
     * score is not (each list is normalised to its own best). */
    if (r->n_hits > 0)
        r->best_score = r->hits[0].dense_score < 0 ? 0
                                                   : r->hits[0].dense_score;
    return TR_OK;
}

/* The extractive drafter's input, as one JSON text, and its hash. */
static enum tr_err
extractive_input(struct tr_pipeline__run *r, struct tr_error *err)
{
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();

    if (o == NULL || arr == NULL) {
        cJSON_Delete(arr);
        goto nomem;
    }
    cJSON_AddStringToObject(o, "drafter", "extractive");
    cJSON_AddStringToObject(o, "language", r->lang.code);
    cJSON_AddStringToObject(o, "ticket", r->text_red);
    cJSON_AddItemToObject(o, "passages", arr);
    for (size_t i = 0; i < r->n_hits; i++) {
        cJSON *pj = cJSON_CreateObject();

        if (pj == NULL)
            goto nomem;
        cJSON_AddItemToArray(arr, pj);
        cJSON_AddStringToObject(pj, "id", r->passages[i].id);
        cJSON_AddStringToObject(pj, "locale", r->passages[i].locale);
        cJSON_AddStringToObject(pj, "text", r->passages[i].text);
    }
    free(r->model_input);
    r->model_input = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (r->model_input == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    tr_llm_sha256_hex(r->model_input, strlen(r->model_input),
                      r->prompt_hash);
    return TR_OK;

nomem:
    cJSON_Delete(o);
    return TR_ERROR(err, TR_E_NOMEM, "out of memory");
}

static enum tr_err
draft_extractive(struct tr_pipeline__run *r, struct tr_error *err)
{
    enum tr_err rc;

    r->provider = "extractive";
    r->model_name = "";
    rc = extractive_input(r, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_draft_extractive(r->text_red, strlen(r->text_red), r->lang.code,
                             r->passages, r->n_hits, NULL, &r->draft, err);
    if (rc == TR_E_NOTFOUND || rc == TR_E_INVAL || rc == TR_E_TOOBIG) {
        tr_pipeline__reason(r, "no_usable_passage");
        tr_error_clear(err);
        return TR_OK;
    }
    return rc;
}

/* Turn the model's sentences into a draft. */
static enum tr_err
draft_from_llm(struct tr_pipeline__run *r, const struct tr_llm_result *lr,
               struct tr_error *err)
{
    enum tr_err rc = tr_draft_new(r->lang.code, &r->draft, err);

    for (size_t i = 0; rc == TR_OK && i < lr->n_sentences; i++) {
        const struct tr_llm_sentence *s = &lr->sentences[i];
        unsigned flags = s->kind == TR_LLM_SENT_GREETING
                             ? TR_DRAFT_SENT_GREETING
                             : s->kind == TR_LLM_SENT_CLOSING
                                   ? TR_DRAFT_SENT_CLOSING : 0;

        rc = tr_draft_sentence_add(r->draft, s->text, strlen(s->text), flags,
                                   s->citations, s->n_citations, err);
    }
    return rc;
}

/* Ask the model; on failure fall back or escalate as configured. */
static enum tr_err
draft_model(struct tr_pipeline *p, struct tr_pipeline__run *r,
            struct tr_error *err)
{
    struct tr_llm_passage lp[TR_PIPELINE_K_MAX];
    struct tr_llm_input in = {0};
    struct tr_llm_result lr;
    struct tr_error merr = {0};
    enum tr_err rc;

    for (size_t i = 0; i < r->n_hits; i++)
        lp[i] = (struct tr_llm_passage) {
            r->passages[i].id, r->passages[i].title, r->passages[i].url,
            r->passages[i].text
        };
    in.ticket = r->text_red;
    in.language = r->lang.code;
    in.passages = lp;
    in.n_passages = r->n_hits;

    tr_llm_result_init(&lr);
    rc = tr_llm_draft(p->llm, &in, &lr, &merr);
    r->provider = tr_llm_kind_name(p->llm_conf.kind);
    r->model_name = p->model;
    if (rc == TR_OK) {
        r->model_input = strndup(lr.request, lr.request_len);
        memcpy(r->prompt_hash, lr.prompt_hash, sizeof(r->prompt_hash));
        rc = r->model_input == NULL
                 ? TR_ERROR(err, TR_E_NOMEM, "out of memory")
                 : draft_from_llm(r, &lr, err);
        tr_llm_result_cleanup(&lr);
        return rc;
    }
    tr_llm_result_cleanup(&lr);

    /* The message names the provider's failure, never the key. */
    snprintf(r->provider_error, sizeof(r->provider_error), "%s",
             tr_error_msg(&merr));
    TR_LOG_WARN("pipeline", "model_failed",
                TR_KVS(TR_KV_INT("ticket", r->ticket_id),
                       TR_KV_STR("err", tr_error_msg(&merr))),
                "the model could not draft a reply");
    if (!p->o.fallback_extractive) {
        tr_pipeline__reason(r, "model_failed");
        return TR_OK;
    }
    r->fallback = true;
    return draft_extractive(r, err);
}

enum tr_err
tr_pipeline__draft(struct tr_pipeline *p, struct tr_pipeline__run *r,
                   struct tr_error *err)
{
    enum tr_err rc;

    if (r->n_hits == 0) {
        tr_pipeline__reason(r, "no_usable_passage");
        return TR_OK;
    }
    rc = p->llm != NULL ? draft_model(p, r, err) : draft_extractive(r, err);
    tr_pipeline__lap(r, TR_PIPELINE_STEP_DRAFT);
    if (rc != TR_OK || r->draft == NULL)
        return rc;
    rc = tr_draft_ground_check(r->draft, r->passages, r->n_hits, NULL, err);
    tr_pipeline__lap(r, TR_PIPELINE_STEP_GROUND);
    return rc;
}
