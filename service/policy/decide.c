/*
 * decide.c
 *      The triage decision (escalate, draft or send) and the JSON record
 *      of a routing decision for the ledger.
 *
 * The decision is deliberately conservative.  Any escalation reason
 * wins over everything else, because a legal threat or an injected
 * instruction must reach a human whatever the retrieval found.  Sending
 * without approval needs every bar cleared at once and the tenant's
 * explicit consent; a missing value counts as failing its bar, so a
 * ticket without an intent never passes an intent probability bar.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "policy_int.h"

/* Append a reason; the list has room for every reason there is. */
static void
reason(struct tr_policy_outcome *out, const char *why)
{
    if (out->n_reasons < TR_POLICY_MAX_REASONS)
        out->reasons[out->n_reasons++] = why;
}

/* Whether `s` passes an allow-list (where empty means no restriction). */
static bool
listed(const char **list, size_t n, const char *s)
{
    if (n == 0)
        return true;            /* an empty list allows everything */
    if (s == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* Why the ticket must go to a human; none leaves out->n_reasons 0. */
static void
escalation_reasons(const struct tr_policy_config *cfg,
                   const struct tr_policy_decision *dec,
                   const struct tr_policy_signals *sig,
                   struct tr_policy_outcome *out)
{
    if (dec->n_escalations > 0)
        reason(out, "escalation_rule");
    if (dec->injection)
        reason(out, "prompt_injection");
    if (dec->out_of_scope && cfg->escalate_out_of_scope)
        reason(out, "out_of_scope");
    if (sig->best_score < cfg->retrieval_min_score)
        reason(out, "no_article_above_threshold");
}

/*
 * Why the draft may not be sent without approval.  Comparisons are
 * written as !(x >= bar) so that a NaN from a broken scorer blocks
 * sending instead of passing every bar.
 */
static void
auto_send_blockers(const struct tr_policy_config *cfg,
                   const struct tr_policy_decision *dec,
                   const struct tr_policy_signals *sig,
                   struct tr_policy_outcome *out)
{
    const struct tr_policy__auto_send *a = &cfg->auto_send;

    if (!a->enabled)
        reason(out, "auto_send_off");
    if (!(sig->confidence >= a->min_confidence))
        reason(out, "low_confidence");
    if (!(dec->intent_prob >= a->min_intent_prob))
        reason(out, "low_intent_probability");
    if (!(sig->best_score >= a->min_score))
        reason(out, "low_retrieval_score");
    if (a->require_grounding && !sig->grounded)
        reason(out, "not_grounded");
    if (dec->passage_injection)
        reason(out, "passage_injection");
    if (strcmp(dec->team_source, "none") == 0)
        reason(out, "unassigned");
    if (!listed(a->teams, a->n_teams, dec->team))
        reason(out, "team_not_allowed");
    if (!listed(a->intents, a->n_intents, dec->intent))
        reason(out, "intent_not_allowed");
}

/* Escalation first: its reasons alone are reported when it applies. */
void
tr_policy_decide(const struct tr_policy_config *cfg,
                 const struct tr_policy_decision *dec,
                 const struct tr_policy_signals *sig,
                 struct tr_policy_outcome *out)
{
    memset(out, 0, sizeof(*out));

    escalation_reasons(cfg, dec, sig, out);
    if (out->n_reasons > 0) {
        out->action = TR_POLICY_ESCALATE;
        return;
    }

    auto_send_blockers(cfg, dec, sig, out);
    out->action = out->n_reasons > 0 ? TR_POLICY_DRAFT : TR_POLICY_AUTO_SEND;
    if (out->action == TR_POLICY_AUTO_SEND)
        reason(out, "auto_send_allowed");
}

const char *
tr_policy_action_name(enum tr_policy_action action)
{
    switch (action) {
    case TR_POLICY_ESCALATE: return "escalate";
    case TR_POLICY_DRAFT: return "draft";
    case TR_POLICY_AUTO_SEND: return "auto_send";
    }

    return "unknown";
}

/* Add `n` strings as an array member; false when out of memory.  The
 * ledger keeps empty arrays too, so every record has the same keys. */
static bool
add_strings(cJSON *obj, const char *key, const char *const *s, size_t n)
{
    cJSON *arr = cJSON_AddArrayToObject(obj, key);

    if (arr == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        cJSON *v = cJSON_CreateString(s[i]);

        if (v == NULL || !cJSON_AddItemToArray(arr, v)) {
            cJSON_Delete(v);
            return false;
        }
    }

    return true;
}

/* The features as an array of {kind, name, detail, value} objects. */
static bool
add_features(cJSON *obj, const struct tr_policy_decision *dec)
{
    cJSON *arr = cJSON_AddArrayToObject(obj, "features");

    if (arr == NULL)
        return false;
    for (size_t i = 0; i < dec->n_features; i++) {
        const struct tr_policy_feature *f = &dec->features[i];
        cJSON *o = cJSON_CreateObject();

        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            return false;
        }

        if (!cJSON_AddStringToObject(o, "kind", f->kind) ||
            !cJSON_AddStringToObject(o, "name", f->name) ||
            !cJSON_AddStringToObject(o, "detail", f->detail) ||
            !cJSON_AddNumberToObject(o, "value", f->value))
            return false;
    }

    return true;
}

/* The model's answer, or null when no model routed the ticket. */
static bool
add_model(cJSON *o, const struct tr_policy_model_note *n)
{
    cJSON *m;
    bool ok;

    if (n == NULL)
        return cJSON_AddNullToObject(o, "model") != NULL;
    m = cJSON_AddObjectToObject(o, "model");
    ok = m != NULL && cJSON_AddStringToObject(m, "provider", n->provider);
    ok = ok && cJSON_AddStringToObject(m, "model", n->model);
    ok = ok && cJSON_AddStringToObject(m, "request_hash", n->request_hash);
    ok = ok && cJSON_AddStringToObject(m, "team", n->team);
    ok = ok && cJSON_AddStringToObject(m, "priority", n->priority);
    ok = ok && (n->intent != NULL
                ? cJSON_AddStringToObject(m, "intent", n->intent)
                : cJSON_AddNullToObject(m, "intent")) != NULL;
    ok = ok && cJSON_AddNumberToObject(m, "confidence", n->confidence);
    ok = ok && cJSON_AddStringToObject(m, "reason", n->reason);
    return ok && cJSON_AddStringToObject(m, "outcome", n->outcome);
}

/* The routing fields of the record. */
static bool
add_decision(cJSON *o, const struct tr_policy_decision *dec)
{
    bool ok = cJSON_AddStringToObject(o, "team", dec->team) != NULL;

    ok = ok && (dec->group_id > 0
                ? cJSON_AddNumberToObject(o, "group_id",
                                          (double)dec->group_id)
                : cJSON_AddNullToObject(o, "group_id")) != NULL;
    ok = ok && cJSON_AddStringToObject(o, "team_source",
                                       dec->team_source) != NULL;
    ok = ok && cJSON_AddStringToObject(o, "priority", dec->priority);
    ok = ok && cJSON_AddStringToObject(o, "priority_source",
                                       dec->priority_source != NULL
                                           ? dec->priority_source
                                           : "default");
    ok = ok && (dec->intent != NULL
                ? cJSON_AddStringToObject(o, "intent", dec->intent)
                : cJSON_AddNullToObject(o, "intent")) != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "intent_prob", dec->intent_prob);
    ok = ok && cJSON_AddBoolToObject(o, "out_of_scope", dec->out_of_scope);
    ok = ok && cJSON_AddBoolToObject(o, "injection", dec->injection);
    ok = ok && cJSON_AddBoolToObject(o, "passage_injection",
                                     dec->passage_injection);
    ok = ok && add_strings(o, "tags", dec->tags, dec->n_tags);
    ok = ok && add_strings(o, "rules", dec->rules, dec->n_rules);
    ok = ok && add_strings(o, "escalations", dec->escalations,
                           dec->n_escalations);
    return ok && add_features(o, dec) && add_model(o, dec->model);
}

/* cJSON allocates with malloc by default, so the caller's free() fits. */
char *
tr_policy_decision_json(const struct tr_policy_decision *dec,
                        const struct tr_policy_outcome *out)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    bool ok;

    ok = o != NULL && add_decision(o, dec);
    if (ok && out != NULL) {
        ok = cJSON_AddStringToObject(o, "action",
                                     tr_policy_action_name(out->action));
        ok = ok && add_strings(o, "reasons", out->reasons, out->n_reasons);
    }

    if (ok)
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}
