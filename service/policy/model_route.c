/*
 * model_route.c
 *      Routing with a model provider: the settings and names a caller
 *      offers the model, and the application of its answer to a routing
 *      decision.
 *
 * A model's answer comes after the tenant's own routing, because what
 * the tenant's staff wrote (rules) and what was measured on the
 * tenant's tickets (the calibrated classifier) deserve more trust than
 * a confidence the model states about itself.  The order is therefore:
 * rules, then the classifier when confident, then the model, then the
 * evidence of retrieved sections and the default team; with "when":
 * "always" the model comes before the classifier.  Whatever the model
 * answers, it cannot clear an escalation or an injection flag, since
 * those are decided on the ticket's text alone, and it cannot lower a
 * priority that a rule or an escalation raised.
 *
 * Pure functions on a shared, read-only configuration; any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "policy_int.h"

const struct tr_policy_model_routing *
tr_policy_config_model_routing(const struct tr_policy_config *cfg)
{
    return &cfg->model_routing;
}

const char *
tr_policy_config_team_name(const struct tr_policy_config *cfg, size_t i)
{
    return i < cfg->n_teams ? cfg->teams[i].name : NULL;
}

const char *
tr_policy_config_team_description(const struct tr_policy_config *cfg,
                                  size_t i)
{
    return i < cfg->n_teams ? cfg->teams[i].description : NULL;
}

size_t
tr_policy_config_priorities(const struct tr_policy_config *cfg,
                            const char *const **out)
{
    *out = (const char *const *) cfg->priorities;
    return cfg->n_priorities;
}

size_t
tr_policy_config_known_intents(const struct tr_policy_config *cfg,
                               const char *const **out)
{
    *out = cfg->n_known_intents > 0
               ? (const char *const *) cfg->known_intents
               : NULL;
    return cfg->n_known_intents;
}

bool
tr_policy_model_wanted(const struct tr_policy_config *cfg,
                       const struct tr_policy_decision *dec)
{
    const char *src = dec->team_source != NULL ? dec->team_source : "none";

    if (!cfg->model_routing.enabled || cfg->n_teams == 0 ||
        strcmp(src, "rule") == 0)
        return false;
    return cfg->model_routing.when == TR_POLICY_MODEL_ALWAYS ||
           strcmp(src, "classifier") != 0;
}

/* True when `s` is one of the configuration's known intents. */
static bool
intent_known(const struct tr_policy_config *cfg, const char *s)
{
    for (size_t i = 0; s != NULL && i < cfg->n_known_intents; i++)
        if (strcmp(cfg->known_intents[i], s) == 0)
            return true;
    return false;
}

/* A copy of the answer in the decision's arena; NULL: no memory. */
static struct tr_policy_model_note *
note_new(struct tr_policy_decision *dec,
         const struct tr_policy_model_answer *ans)
{
    struct tr_arena *a = dec->arena;
    struct tr_policy_model_note *n = tr_arena_alloc(a, sizeof(*n));

    if (n == NULL)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->provider = tr_arena_strdup(a, ans->provider ? ans->provider : "");
    n->model = tr_arena_strdup(a, ans->model ? ans->model : "");
    n->request_hash = tr_arena_strdup(a, ans->request_hash
                                             ? ans->request_hash : "");
    n->team = tr_arena_strdup(a, ans->team);
    n->priority = tr_arena_strdup(a, ans->priority);
    n->intent = ans->intent != NULL ? tr_arena_strdup(a, ans->intent)
                                    : NULL;
    n->reason = tr_arena_strdup(a, ans->reason ? ans->reason : "");
    n->confidence = ans->confidence;
    if (n->provider == NULL || n->model == NULL || n->request_hash == NULL
        || n->team == NULL || n->priority == NULL || n->reason == NULL ||
        (ans->intent != NULL && n->intent == NULL))
        return NULL;
    return n;
}

/*
 * Append the "model" feature.  The decision's array was sized for
 * routing alone, so it is copied one longer into the same arena.
 */
static enum tr_err
feature_add(struct tr_policy_decision *dec,
            const struct tr_policy_model_note *n, struct tr_error *err)
{
    struct tr_policy_feature *f;
    const char *detail;

    f = tr_arena_alloc(dec->arena, sizeof(*f) * (dec->n_features + 1));
    detail = tr_arena_sprintf(dec->arena, "%s/%s: %s, request %s",
                              n->provider, n->model, n->outcome,
                              n->request_hash);
    if (f == NULL || detail == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory routing a ticket");
    if (dec->n_features > 0)
        memcpy(f, dec->features, sizeof(*f) * dec->n_features);
    f[dec->n_features] = (struct tr_policy_feature) {
        "model", n->team, detail, n->confidence
    };
    dec->features = f;
    dec->n_features++;
    return TR_OK;
}

/*
 * The answer's priority: it replaces the default one, and only raises
 * any other.  An escalated ticket's priority only goes up, even when
 * the escalation left it at the default.
 */
static void
priority_apply(const struct tr_policy_config *cfg,
               struct tr_policy_decision *dec, const char *p)
{
    bool from_default = strcmp(dec->priority_source, "default") == 0 &&
                        dec->n_escalations == 0;

    if (from_default ||
        tr_policy__priority_rank(cfg, p) >
            tr_policy__priority_rank(cfg, dec->priority)) {
        dec->priority = p;
        dec->priority_source = "model";
    }
}

enum tr_err
tr_policy_model_apply(const struct tr_policy_config *cfg,
                      const struct tr_policy_model_answer *ans,
                      struct tr_policy_decision *dec, struct tr_error *err)
{
    const struct tr_policy_model_routing *mr = &cfg->model_routing;
    const struct tr_policy__team *team;
    struct tr_policy_model_note *n;
    int rank;

    team = ans->team != NULL ? tr_policy__team_find(cfg, ans->team) : NULL;
    rank = ans->priority != NULL
               ? tr_policy__priority_rank(cfg, ans->priority) : -1;
    if (team == NULL)
        return TR_ERROR(err, TR_E_INVAL, "the model answered team \"%.64s\","
                        " which the routing configuration does not have",
                        ans->team != NULL ? ans->team : "");
    if (rank < 0)
        return TR_ERROR(err, TR_E_INVAL, "the model answered priority "
                        "\"%.64s\", which the routing configuration does "
                        "not have", ans->priority != NULL ? ans->priority
                                                          : "");
    if (!isfinite(ans->confidence) || ans->confidence < 0 ||
        ans->confidence > 1)
        return TR_ERROR(err, TR_E_INVAL, "the model's confidence is not a "
                        "number from 0 to 1");
    if ((n = note_new(dec, ans)) == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory routing a ticket");

    /* Written as !(x >= bar), so that a NaN could never pass. */
    if (!(ans->confidence >= mr->min_confidence))
        n->outcome = "below_min_confidence";
    else if (strcmp(dec->team_source, "rule") == 0)
        n->outcome = "decided_by_rule";
    else if (strcmp(dec->team_source, "classifier") == 0 &&
             mr->when != TR_POLICY_MODEL_ALWAYS)
        n->outcome = "decided_by_classifier";
    else {
        n->outcome = "used";
        dec->team = team->name;
        dec->group_id = team->group_id;
        dec->team_source = "model";
    }

    /* Priority and intent follow any answer confident enough. */
    if (strcmp(n->outcome, "below_min_confidence") != 0) {
        priority_apply(cfg, dec, cfg->priorities[rank]);
        if (dec->intent == NULL && !dec->out_of_scope &&
            intent_known(cfg, n->intent))
            dec->intent = n->intent;
    }
    dec->model = n;
    return feature_add(dec, n, err);
}
