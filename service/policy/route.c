/*
 * route.c
 *      Routing one ticket: detectors, rules, the classifier and
 *      retrieval evidence combined into a struct tr_policy_decision.
 *
 * Precedence is fixed and documented in docs/routing.md: the first
 * matching rule that names a team wins; otherwise the intent (from a
 * rule, or from the classifier when it is confident and does not
 * abstain) is looked up in the intent map; otherwise the sections of the
 * retrieved articles vote, each team taking the best score of its
 * sections; otherwise the default team.  Rules are written by the
 * tenant's staff and so outrank a statistical guess; evidence comes last
 * because an article's section says what the answer is about, not
 * always who owns the question.  A model provider's answer, when the
 * tenant enables it, is applied afterwards (model_route.c).
 *
 * Detectors run on subject and body separately, so that a pattern
 * anchored at the start of a line behaves the same in both.  The text
 * reaching here has had personal data replaced by placeholders, so the
 * matched snippets kept as features are safe to store in the ledger.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "policy_int.h"
#include "route.h"

/* Longest matched snippet kept as a feature's detail, in bytes. */
#define DETAIL_MAX 60

/* Building state: the decision, its capacities, the two texts. */
struct build {
    const struct tr_policy_config *cfg;
    struct tr_policy_decision *dec;
    const char *subject;
    const char *body;
    size_t cap_tags;
    size_t cap_features;
    bool intent_from_rule;
    struct tr_error *err;
};

/* The one out-of-memory message of routing. */
static enum tr_err
nomem(struct build *b)
{
    return TR_ERROR(b->err, TR_E_NOMEM, "out of memory routing a ticket");
}

/* Copy at most DETAIL_MAX bytes of a match, ending on a UTF-8 boundary. */
static const char *
snippet(struct build *b, const char *text, size_t start, size_t end)
{
    size_t n = end - start;

    if (n > DETAIL_MAX) {
        n = DETAIL_MAX;
        while (n > 0 && ((unsigned char)text[start + n] & 0xc0) == 0x80)
            n--;
    }

    return tr_arena_strndup(b->dec->arena, text + start, n);
}

/*
 * Record one contribution for the ledger.  Names and details are copied
 * into the decision, so they outlive the ticket's text.
 */
static enum tr_err
add_feature(struct build *b, const char *kind, const char *name,
            const char *detail, double value)
{
    struct tr_policy_decision *d = b->dec;
    struct tr_policy_feature *f;

    /* The capacity is computed from the configuration, so running out
     * would be a bug in counting; refuse rather than overflow. */
    if (d->n_features == b->cap_features)
        return TR_ERROR(b->err, TR_E_INTERNAL, "too many routing features");
    f = &d->features[d->n_features++];
    f->kind = kind;
    f->name = tr_arena_strdup(d->arena, name);
    f->detail = tr_arena_strdup(d->arena, detail ? detail : "");
    f->value = value;
    return f->name == NULL || f->detail == NULL ? nomem(b) : TR_OK;
}

/*
 * Match `code` against the fields of the ticket that `fields` selects.
 * Returns 1 with *detail set to the matched snippet, 0 when nothing
 * matched, or a negative PCRE2 error.
 */
static int
match_ticket(struct build *b, const pcre2_code *code, unsigned fields,
             const char **detail)
{
    const char *texts[2] = {b->subject, b->body};
    unsigned bits[2] = {TR_POLICY__SUBJECT, TR_POLICY__BODY};
    size_t s, e;
    int m;

    for (int i = 0; i < 2; i++) {
        if (!(fields & bits[i]) || texts[i][0] == '\0')
            continue;
        m = tr_policy__match(code, texts[i], strlen(texts[i]), &s, &e);
        if (m < 0)
            return m;
        if (m > 0) {
            *detail = snippet(b, texts[i], s, e);
            return *detail == NULL ? PCRE2_ERROR_NOMEMORY : 1;
        }
    }

    return 0;
}

/*
 * A pattern that could not finish (match or heap limit) fails the whole
 * routing: half a set of detectors is worse than none, since a missed
 * escalation would look like a clean ticket.
 */
static enum tr_err
match_failed(struct build *b, const char *what, int m)
{
    if (m == PCRE2_ERROR_NOMEMORY)
        return nomem(b);
    return TR_ERROR(b->err, TR_E_INTERNAL, "pattern of %s could not finish "
                    "on this ticket (pcre2 error %d); not routed", what, m);
}

/* Linear search: lists here hold a handful of names. */
static bool
in_list(const char **list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

int
tr_policy__priority_rank(const struct tr_policy_config *cfg, const char *p)
{
    for (size_t i = 0; i < cfg->n_priorities; i++)
        if (strcmp(cfg->priorities[i], p) == 0)
            return (int)i;
    return -1;
}

/* Raise the decision's priority to `p` if that is higher; `source`
 * says who did, so that a model never lowers it again. */
static void
raise_priority(struct build *b, const char *p, const char *source)
{
    if (p != NULL && tr_policy__priority_rank(b->cfg, p) >
                     tr_policy__priority_rank(b->cfg, b->dec->priority)) {
        b->dec->priority = p;
        b->dec->priority_source = source;
    }
}

/*
 * Record an escalation reason once (a category may fire in two
 * languages) and raise the priority as the configuration asks.
 */
static enum tr_err
add_escalation(struct build *b, const char *reason)
{
    struct tr_policy_decision *d = b->dec;

    if (in_list(d->escalations, d->n_escalations, reason))
        return TR_OK;
    d->escalations[d->n_escalations++] = reason;
    raise_priority(b, b->cfg->escalation_priority, "escalation");
    return TR_OK;
}

/*
 * The built-in detectors: injection kinds and escalation categories,
 * each skipped when the configuration turns it off.  Every hit is kept,
 * with the language of the phrase, so that a reviewer sees which
 * phrase fired.
 */
static enum tr_err
run_builtins(struct build *b)
{
    const struct tr_policy__detector *det;
    const char *detail, *lang;
    size_t n;
    int m;
    enum tr_err rc;

    det = tr_policy__detectors(&n, b->err);
    if (det == NULL)
        return TR_E_INTERNAL;
    for (size_t i = 0; i < n; i++) {
        bool inj = det[i].category < 0;

        if ((inj && !b->cfg->injection) ||
            (!inj && !b->cfg->builtin[det[i].category]))
            continue;
        m = match_ticket(b, det[i].code, TR_POLICY__SUBJECT |
                         TR_POLICY__BODY, &detail);
        if (m < 0)
            return match_failed(b, det[i].name, m);
        if (m == 0)
            continue;

        lang = tr_arena_sprintf(b->dec->arena, "%s: %s", det[i].lang,
                                detail);
        if (lang == NULL)
            return nomem(b);
        if (inj) {
            b->dec->injection = true;
            rc = add_feature(b, "injection", det[i].name, lang, 0);
        } else {
            rc = add_escalation(b, det[i].name);
            if (rc == TR_OK)
                rc = add_feature(b, "escalation", det[i].name, lang, 0);
        }

        if (rc != TR_OK)
            return rc;
    }

    return TR_OK;
}

/* The tenant's escalation rules; each may raise the priority too. */
static enum tr_err
run_escalations(struct build *b)
{
    const struct tr_policy__rule *r;
    const char *detail;
    int m;
    enum tr_err rc;

    for (size_t i = 0; i < b->cfg->n_escalations; i++) {
        r = &b->cfg->escalations[i];
        m = match_ticket(b, r->code, r->fields, &detail);
        if (m < 0)
            return match_failed(b, r->name, m);
        if (m == 0)
            continue;
        raise_priority(b, r->priority, "escalation");
        if ((rc = add_escalation(b, r->name)) != TR_OK ||
            (rc = add_feature(b, "escalation", r->name, detail, 0)) != TR_OK)
            return rc;
    }

    return TR_OK;
}

/*
 * Apply what one matching routing rule sets.  The first rule that names
 * a team or an intent wins it, so the file's order is the tenant's order
 * of preference; priority only goes up, whichever rule raises it.
 */
static void
apply_rule(struct build *b, const struct tr_policy__rule *r)
{
    struct tr_policy_decision *d = b->dec;

    d->rules[d->n_rules++] = r->name;
    if (r->team != NULL && d->team == NULL) {
        d->team = r->team;
        d->team_source = "rule";
    }

    if (r->intent != NULL && d->intent == NULL) {
        d->intent = r->intent;
        d->intent_prob = 1.0;
        b->intent_from_rule = true;
    }

    raise_priority(b, r->priority, "rule");
    for (size_t t = 0; t < r->n_tags; t++)
        if (!in_list(d->tags, d->n_tags, r->tags[t]) &&
            d->n_tags < b->cap_tags)
            d->tags[d->n_tags++] = r->tags[t];
}

/* Every routing rule, in the order of the file. */
static enum tr_err
run_rules(struct build *b)
{
    const struct tr_policy__rule *r;
    const char *detail;
    int m;
    enum tr_err rc;

    for (size_t i = 0; i < b->cfg->n_rules; i++) {
        r = &b->cfg->rules[i];
        m = match_ticket(b, r->code, r->fields, &detail);
        if (m < 0)
            return match_failed(b, r->name, m);
        if (m == 0)
            continue;
        apply_rule(b, r);
        if ((rc = add_feature(b, "rule", r->name, detail, 0)) != TR_OK)
            return rc;
    }

    return TR_OK;
}

/* The team that `key` maps to, or NULL. */
static const char *
map_find(const struct tr_policy__map *map, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(map[i].key, key) == 0)
            return map[i].team;
    return NULL;
}

/*
 * The classifier: intent and probability, out-of-scope, and the team of
 * the intent when no rule chose one.
 */
static enum tr_err
run_classifier(struct build *b, const struct tr_route_model *model)
{
    struct tr_policy_decision *d = b->dec;
    struct tr_route_result res;
    const char *text;
    enum tr_err rc;

    if (model != NULL) {
        text = tr_arena_sprintf(d->arena, "%s\n\n%s", b->subject, b->body);
        if (text == NULL)
            return nomem(b);
        rc = tr_route_predict(model, text, strlen(text), &res, NULL, b->err);
        if (rc != TR_OK)
            return rc;
        rc = add_feature(b, "classifier", res.best_label,
                         res.abstain ? "abstain" : "", res.prob);
        if (rc != TR_OK)
            return rc;

        /* A rule's intent stands; the model's abstention then does not
         * make the ticket out of scope. */
        if (!b->intent_from_rule) {
            d->out_of_scope = res.abstain;
            d->intent_prob = res.prob;
            if (!res.abstain &&
                (d->intent = tr_arena_strdup(d->arena, res.label)) == NULL)
                return nomem(b);
        }
    }

    /* An intent from a rule is certain; one from the model must clear
     * the configured bar before it decides the team. */
    if (d->team == NULL && d->intent != NULL &&
        (b->intent_from_rule ||
         d->intent_prob >= b->cfg->classifier_min_prob)) {
        d->team = map_find(b->cfg->intents, b->cfg->n_intents, d->intent);
        if (d->team != NULL)
            d->team_source = b->intent_from_rule ? "rule" : "classifier";
    }

    return TR_OK;
}

/*
 * Retrieval evidence: passages with injected instructions are flagged
 * and left out; the others vote for the team of their section.
 */
static enum tr_err
run_evidence(struct build *b, const struct tr_policy_evidence *ev,
             size_t n_ev)
{
    const char *best_team = NULL, *team, *which;
    double best = -1;
    enum tr_err rc;

    for (size_t i = 0; i < n_ev; i++) {
        if (b->cfg->injection && b->cfg->injection_passages &&
            ev[i].text != NULL &&
            tr_policy_injection_check(ev[i].text, strlen(ev[i].text),
                                      &which)) {
            b->dec->passage_injection = true;
            rc = add_feature(b, "passage_injection", which,
                             ev[i].section ? ev[i].section : "", ev[i].score);
            if (rc != TR_OK)
                return rc;
            continue;
        }

        if (ev[i].section == NULL)
            continue;
        team = map_find(b->cfg->sections, b->cfg->n_sections, ev[i].section);
        if (team == NULL)
            continue;
        if ((rc = add_feature(b, "evidence", ev[i].section, team,
                              ev[i].score)) != TR_OK)
            return rc;
        if (ev[i].score > best) {
            best = ev[i].score;
            best_team = team;
        }
    }

    if (b->dec->team == NULL && best_team != NULL &&
        best >= b->cfg->evidence_min_score) {
        b->dec->team = best_team;
        b->dec->team_source = "evidence";
    }

    return TR_OK;
}

/*
 * Size the decision's arrays from the configuration and evidence, so
 * that routing never reallocates: every rule, detector and piece of
 * evidence adds at most one entry to each list.
 */
static enum tr_err
prepare(struct build *b, size_t n_ev)
{
    const struct tr_policy_config *cfg = b->cfg;
    struct tr_policy_decision *d = b->dec;
    size_t n_det = 0;

    for (size_t i = 0; i < cfg->n_rules; i++)
        b->cap_tags += cfg->rules[i].n_tags;
    if (tr_policy__detectors(&n_det, b->err) == NULL)
        return TR_E_INTERNAL;
    b->cap_features = cfg->n_rules + cfg->n_escalations + n_det + n_ev + 2;

    d->arena = tr_arena_new(0);
    if (d->arena == NULL)
        return nomem(b);
    d->tags = tr_arena_alloc(d->arena, sizeof(char *) * (b->cap_tags + 1));
    d->rules = tr_arena_alloc(d->arena, sizeof(char *) * (cfg->n_rules + 1));
    d->escalations = tr_arena_alloc(d->arena, sizeof(char *) *
                                    (cfg->n_escalations + n_det + 1));
    d->features = tr_arena_alloc(d->arena, sizeof(*d->features) *
                                 b->cap_features);
    if (d->tags == NULL || d->rules == NULL || d->escalations == NULL ||
        d->features == NULL)
        return nomem(b);
    d->priority = cfg->default_priority;
    d->priority_source = "default";
    return TR_OK;
}

enum tr_err
tr_policy_route(const struct tr_policy_config *cfg,
                const struct tr_route_model *model, const char *subject,
                const char *body, const struct tr_policy_evidence *ev,
                size_t n_ev, struct tr_policy_decision *dec,
                struct tr_error *err)
{
    struct build b = {
        .cfg = cfg, .dec = dec, .err = err,
        .subject = subject ? subject : "", .body = body ? body : ""
    };

    const struct tr_policy__team *team;
    enum tr_err rc;

    memset(dec, 0, sizeof(*dec));
    if ((rc = prepare(&b, ev != NULL ? n_ev : 0)) != TR_OK ||
        (rc = run_builtins(&b)) != TR_OK ||
        (rc = run_escalations(&b)) != TR_OK ||
        (rc = run_rules(&b)) != TR_OK ||
        (rc = run_classifier(&b, model)) != TR_OK ||
        (rc = run_evidence(&b, ev, ev != NULL ? n_ev : 0)) != TR_OK)
        return rc;

    if (dec->team == NULL) {
        dec->team = cfg->default_team ? cfg->default_team
                                      : TR_POLICY_UNASSIGNED;
        dec->team_source = cfg->default_team ? "default" : "none";
        rc = add_feature(&b, "default", dec->team, "", 0);
        if (rc != TR_OK)
            return rc;
    }

    team = tr_policy__team_find(cfg, dec->team);
    dec->group_id = team != NULL ? team->group_id : 0;
    return TR_OK;
}

void
tr_policy_decision_cleanup(struct tr_policy_decision *dec)
{
    if (dec == NULL)
        return;
    tr_arena_free(dec->arena);
    memset(dec, 0, sizeof(*dec));
}
