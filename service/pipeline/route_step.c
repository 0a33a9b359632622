/*
 * route_step.c
 *      Routing a ticket with the model provider, when the tenant's
 *      configuration enables it: the question asked, the answer applied
 *      to the routing decision, and what the record keeps of both.
 *
 * The step runs after the policy has routed the ticket, so that a
 * ticket whose team a rule (or, by default, a confident classifier)
 * already chose costs no model call.  The model sees the redacted text
 * only, with the tenant's teams, descriptions, priorities and known
 * intents.  It is advisory: a provider that fails, times out or answers
 * something the configuration does not have never fails the ticket;
 * the decision stays as the policy made it and the reasons say why.
 *
 * Runs on the worker thread of the run; the provider is shared and
 * thread-safe.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pipeline_int.h"

void
tr_pipeline__reason(struct tr_pipeline__run *r, const char *reason)
{
    if (r->n_own_reasons < TR_PIPELINE_REASONS_MAX)
        r->own_reasons[r->n_own_reasons++] = reason;
}

/* Keep the request sent and its hash, whatever came of it. */
static enum tr_err
keep_request(struct tr_pipeline__run *r, const struct tr_llm_result *lr,
             struct tr_error *err)
{
    if (lr->request_len == 0)
        return TR_OK;
    r->route_input = strndup(lr->request, lr->request_len);
    if (r->route_input == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    memcpy(r->route_hash, lr->prompt_hash, sizeof(r->route_hash));
    return TR_OK;
}

/* The provider failed or its answer was refused: say so, go on. */
static void
route_failed(struct tr_pipeline__run *r, const struct tr_llm_result *lr,
             enum tr_err rc, const struct tr_error *merr)
{
    bool refused = rc == TR_E_MODEL && lr->status >= 200 &&
                   lr->status <= 299;

    r->route_status = refused ? "refused" : "failed";
    tr_pipeline__reason(r, refused ? "model_routing_refused"
                                   : "model_routing_failed");

    /* The message names the provider's failure, never the key. */
    snprintf(r->route_error, sizeof(r->route_error), "%s",
             tr_error_msg(merr));
    TR_LOG_WARN("pipeline", "model_routing_failed",
                TR_KVS(TR_KV_INT("tenant", r->tenant_id),
                       TR_KV_INT("ticket", r->ticket_id),
                       TR_KV_STR("err", tr_err_name(rc)),
                       TR_KV_STR("reason", merr->foreign)),
                "routing goes on without the model: %s",
                tr_error_msg(merr));
}

/* Ask the provider; the answer is applied by the caller. */
static enum tr_err
classify(struct tr_pipeline *p, struct tr_pipeline__run *r,
         struct tr_llm_result *lr, struct tr_error *merr)
{
    struct tr_llm_team teams[TR_LLM_CHOICES_MAX + 1];
    struct tr_llm_classify_input in = {0};
    size_t n = tr_policy_config_n_teams(r->cfg);

    /* Past the cap the input is refused below, with a clear message. */
    for (size_t i = 0; i < n && i <= TR_LLM_CHOICES_MAX; i++) {
        teams[i].name = tr_policy_config_team_name(r->cfg, i);
        teams[i].description = tr_policy_config_team_description(r->cfg,
                                                                 i);
    }
    in.ticket = r->text_red;
    in.teams = teams;
    in.n_teams = n;
    in.n_priorities = tr_policy_config_priorities(r->cfg, &in.priorities);
    in.n_intents = tr_policy_config_known_intents(r->cfg, &in.intents);
    return tr_llm_classify(p->llm, &in, lr, merr);
}

enum tr_err
tr_pipeline__route_model(struct tr_pipeline *p, struct tr_pipeline__run *r,
                         struct tr_error *err)
{
    struct tr_policy_model_answer ans;
    struct tr_llm_result lr;
    struct tr_error merr = {0};
    enum tr_err rc;

    if (!tr_policy_config_model_routing(r->cfg)->enabled)
        return TR_OK;
    if (p->llm == NULL) {
        r->route_status = "skipped";
        tr_pipeline__reason(r, "model_routing_skipped_no_provider");
        return TR_OK;
    }
    if (!tr_policy_model_wanted(r->cfg, &r->dec)) {
        r->route_status = "not_needed";
        return TR_OK;
    }

    tr_llm_result_init(&lr);
    rc = classify(p, r, &lr, &merr);
    if (keep_request(r, &lr, err) != TR_OK) {
        tr_llm_result_cleanup(&lr);
        return TR_E_NOMEM;
    }
    if (rc != TR_OK) {
        route_failed(r, &lr, rc, &merr);
        tr_llm_result_cleanup(&lr);
        return TR_OK;
    }

    ans = (struct tr_policy_model_answer) {
        lr.provider, lr.model, lr.prompt_hash, lr.label.team,
        lr.label.priority, lr.label.intent, lr.label.reason,
        lr.label.confidence
    };
    rc = tr_policy_model_apply(r->cfg, &ans, &r->dec, &merr);
    r->route_status = "answered";
    if (rc == TR_E_INVAL) {
        route_failed(r, &lr, TR_E_MODEL, &merr);
        rc = TR_OK;
    } else if (rc != TR_OK) {
        *err = merr;
    }
    tr_llm_result_cleanup(&lr);
    return rc;
}
