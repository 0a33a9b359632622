/*
 * policy_int.h
 *      Layouts shared by the files of the policy module: the compiled
 *      configuration, the built-in detectors and a few lookups.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_POLICY_INT_H
#define TR_POLICY_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>

#include "mem.h"
#include "policy.h"
#include "redact.h"

/* Which parts of a ticket a pattern looks at. */
#define TR_POLICY__SUBJECT 0x1
#define TR_POLICY__BODY 0x2

/* Built-in escalation categories, in the order of the detector table. */
enum tr_policy__category {
    TR_POLICY__LEGAL_THREAT,
    TR_POLICY__SECURITY_REPORT,
    TR_POLICY__CHARGEBACK,
    TR_POLICY__OUTAGE,
    TR_POLICY__HUMAN_REQUEST,
    TR_POLICY__N_CATEGORIES
};

/* A team of the configuration. */
struct tr_policy__team {
    const char *name;
    const char *description;
    int64_t group_id;           /* 0: none */
};

/* A routing rule, or (with team, intent and tags NULL) a tenant
 * escalation rule. */
struct tr_policy__rule {
    const char *name;
    const char *pattern;
    pcre2_code *code;
    unsigned fields;            /* TR_POLICY__SUBJECT | ..BODY */
    const char *team;           /* NULL: leaves the team alone */
    const char *priority;       /* NULL: leaves the priority alone */
    const char *intent;
    const char **tags;
    size_t n_tags;
};

/* One entry of the section or intent map: key to team. */
struct tr_policy__map {
    const char *key;
    const char *team;
};

struct tr_policy__auto_send {
    bool enabled;
    double min_confidence;
    double min_intent_prob;
    double min_score;
    bool require_grounding;
    const char **teams;         /* empty: every team */
    size_t n_teams;
    const char **intents;       /* empty: every intent */
    size_t n_intents;
};

struct tr_policy_config {
    struct tr_arena *arena;     /* owns everything but the codes */
    const char *text;

    const char *default_team;   /* NULL: TR_POLICY_UNASSIGNED */
    const char *default_priority;
    struct tr_policy__team *teams;
    size_t n_teams;
    const char **priorities;    /* lowest first */
    size_t n_priorities;

    struct tr_policy__rule *rules;
    size_t n_rules;
    struct tr_policy__map *sections;
    size_t n_sections;
    struct tr_policy__map *intents;
    size_t n_intents;

    bool builtin[TR_POLICY__N_CATEGORIES];
    struct tr_policy__rule *escalations;
    size_t n_escalations;
    const char *escalation_priority;    /* NULL: unchanged */

    struct tr_redact_pattern *redact;   /* tenant personal-data kinds */
    size_t n_redact;

    bool injection;             /* detector on */
    bool injection_passages;    /* also on evidence texts */

    struct tr_policy_model_routing model_routing;
    const char **known_intents; /* intent map keys, rule and auto_send
                                 * intents, each once */
    size_t n_known_intents;

    double classifier_min_prob;
    double evidence_min_score;
    double retrieval_min_score;
    bool escalate_out_of_scope;
    struct tr_policy__auto_send auto_send;
};

/* A built-in detector: an escalation category or an injection kind. */
struct tr_policy__detector {
    const char *name;           /* category or injection kind */
    const char *lang;           /* "en", "de", ... or "any" */
    int category;               /* enum tr_policy__category, or -1 for
                                 * an injection detector */
    pcre2_code *code;
};

/*
 * The built-in detectors, compiled on first use (once per process).
 * Returns NULL with `err` set when one does not compile, which is a bug
 * caught by the tests.
 */
const struct tr_policy__detector *
tr_policy__detectors(size_t *n, struct tr_error *err);

/*
 * Compile `pattern` as the policy does every pattern: UTF, Unicode
 * properties, caseless unless `caseless` is false, invalid UTF-8
 * tolerated, with JIT where available.  On failure returns NULL and
 * writes PCRE2's message and the offset into `msg`.
 */
pcre2_code *tr_policy__compile(const char *pattern, bool caseless,
                               char *msg, size_t msg_len);

/*
 * Find the first match of `code` in `text` (`len` bytes).  Returns 1
 * with [*start, *end) set, 0 when none, or a negative PCRE2 error
 * (such as the match limit) for a text it could not finish.
 */
int tr_policy__match(const pcre2_code *code, const char *text, size_t len,
                     size_t *start, size_t *end);

/*
 * Rank of priority `p` in `cfg`, lowest 0; -1 when unknown.
 */
int tr_policy__priority_rank(const struct tr_policy_config *cfg,
                             const char *p);

/*
 * The team entry called `name`, or NULL.
 */
const struct tr_policy__team *
tr_policy__team_find(const struct tr_policy_config *cfg, const char *name);

#endif /* TR_POLICY_INT_H */
