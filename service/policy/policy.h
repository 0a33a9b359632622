/*
 * policy.h
 *      Routing and the triage decision: the tenant's routing
 *      configuration, rules, escalation and prompt-injection detectors,
 *      the learned router's part, retrieval evidence, and the choice
 *      between escalating, drafting and sending.
 *
 * A routing configuration is one JSON document per tenant (the format
 * is described field by field in docs/routing.md).  Loading validates
 * every field and compiles every pattern once, with PCRE2 and its JIT;
 * an error names the field ("rules[2].pattern") and, for a pattern, the
 * pattern and the offset where it fails.  A loaded configuration is
 * read-only, so any number of threads may route with it at once.
 *
 * Routing a ticket (tr_policy_route) picks team, priority, intent and
 * tags from, in this order of precedence: the tenant's rules, the
 * classifier when a model is given and it is confident, the sections of
 * the best retrieved articles, and the configured default team.  It also
 * runs the escalation detectors (built-in ones for legal threats,
 * security reports, chargebacks, outages and requests for a human, in
 * English, German, Spanish and French, plus the tenant's own) and the
 * prompt-injection detector, on the ticket and on passage texts given as
 * evidence.  Everything that contributed is listed as features so that
 * the ledger can say why.
 *
 * A tenant may also let a model provider route (the "model_routing"
 * section): its answer is applied to a routing decision afterwards by
 * tr_policy_model_apply(), below the tenant's rules and, unless
 * configured otherwise, below a confident classifier.  It never removes
 * an escalation and never lowers a priority that a rule or an
 * escalation raised.
 *
 * Deciding (tr_policy_decide) turns a routing decision plus what the
 * drafting step measured into one action: escalate, draft for approval,
 * or send automatically, with the reasons.  Automatic sending is off
 * unless the tenant's configuration turns it on.
 *
 * Configurations and trained models are stored per tenant in PostgreSQL
 * (tables routing_configs and route_models, migration 006).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_POLICY_H
#define TR_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct tr_db;
struct tr_route_model;
struct tr_policy_config;

/* Largest configuration document accepted, in bytes. */
#define TR_POLICY_CONFIG_MAX (1024 * 1024)

/* Longest team, rule, intent, tag or priority name, in bytes. */
#define TR_POLICY_NAME_MAX 64

/* The team reported when nothing routes a ticket and no default is set. */
#define TR_POLICY_UNASSIGNED "unassigned"

/* ---- configuration ---------------------------------------------------- */

/*
 * Parse and validate a configuration from `json` (`len` bytes; need not
 * be NUL-terminated).  On success *out is a compiled configuration that
 * the caller owns and frees with tr_policy_config_free().  Returns
 * TR_E_TOOBIG past TR_POLICY_CONFIG_MAX, TR_E_PARSE for text that is not
 * JSON, TR_E_CONF for a field that is missing, of the wrong type, out of
 * range, unknown, or names an unknown team or priority, or for a pattern
 * that does not compile; the message names the field, and for a pattern
 * quotes it.  TR_E_NOMEM.
 */
enum tr_err tr_policy_config_parse(const char *json, size_t len,
                                   struct tr_policy_config **out,
                                   struct tr_error *err);

/*
 * Like tr_policy_config_parse() on the contents of the file `path`.
 * Returns TR_E_IO naming the file when it cannot be read, and the
 * errors of tr_policy_config_parse() prefixed with the file name.
 */
enum tr_err tr_policy_config_load(const char *path,
                                  struct tr_policy_config **out,
                                  struct tr_error *err);

/*
 * The configuration that applies to a tenant without one: no teams, no
 * rules, the built-in escalation and injection detectors on, automatic
 * sending off, the default thresholds.  Caller owns *out.  TR_E_NOMEM.
 */
enum tr_err tr_policy_config_default(struct tr_policy_config **out,
                                     struct tr_error *err);

/*
 * The JSON text the configuration was parsed from (borrowed; "{}" for
 * the default one).
 */
const char *tr_policy_config_text(const struct tr_policy_config *cfg);

/*
 * Number of teams, rules and tenant escalation rules, for summaries.
 */
size_t tr_policy_config_n_teams(const struct tr_policy_config *cfg);
size_t tr_policy_config_n_rules(const struct tr_policy_config *cfg);
size_t tr_policy_config_n_escalations(const struct tr_policy_config *cfg);

/*
 * The tenant's own kinds of personal data ("redaction.patterns"), for
 * tr_redact_new(): *out receives the array (borrowed from `cfg`, NULL
 * when there is none) and the count is returned.
 */
struct tr_redact_pattern;
size_t tr_policy_config_redact_patterns(const struct tr_policy_config *cfg,
                                        const struct tr_redact_pattern **out);

/* When a model provider's team may decide. */
enum tr_policy_model_when {
    TR_POLICY_MODEL_UNDECIDED = 0,  /* no rule and no confident
                                     * classifier chose a team */
    TR_POLICY_MODEL_ALWAYS          /* no rule chose a team */
};

/* The "model_routing" section. */
struct tr_policy_model_routing {
    bool enabled;               /* false */
    double min_confidence;      /* 0.6 */
    enum tr_policy_model_when when;
};

/* The model-routing settings of `cfg` (borrowed from it). */
const struct tr_policy_model_routing *
tr_policy_config_model_routing(const struct tr_policy_config *cfg);

/*
 * Team `i` (below tr_policy_config_n_teams()): its name, and its
 * description or NULL.  Borrowed from `cfg`.
 */
const char *tr_policy_config_team_name(const struct tr_policy_config *cfg,
                                       size_t i);
const char *
tr_policy_config_team_description(const struct tr_policy_config *cfg,
                                  size_t i);

/*
 * The priorities, lowest first, into *out (borrowed); returns their
 * number, at least 1.
 */
size_t tr_policy_config_priorities(const struct tr_policy_config *cfg,
                                   const char *const **out);

/*
 * The intents the configuration knows (keys of "intents", intents of
 * rules and of "auto_send.intents", each once) into *out (borrowed, NULL
 * when none); returns their number.
 */
size_t tr_policy_config_known_intents(const struct tr_policy_config *cfg,
                                      const char *const **out);

/*
 * Free `cfg`.  NULL is a no-op.
 */
void tr_policy_config_free(struct tr_policy_config *cfg);

/* ---- routing ---------------------------------------------------------- */

/*
 * One piece of retrieval evidence: the help-center section of a
 * retrieved article and its retrieval score, with the passage text when
 * the caller wants it checked for injected instructions.  Borrowed.
 */
struct tr_policy_evidence {
    const char *section;        /* may be NULL: the article has none */
    double score;               /* the caller's relevance, 0..1 */
    const char *text;           /* may be NULL: not checked */
};

/*
 * One thing that contributed to a decision, for the ledger.  `kind` is
 * "rule", "classifier", "evidence", "escalation", "injection",
 * "default", "passage_injection" or "model"; `name` the rule, label,
 * section, detector or the team a model answered; `detail` what matched
 * (truncated, may be empty); `value` a probability or score (0 when
 * none).
 */
struct tr_policy_feature {
    const char *kind;
    const char *name;
    const char *detail;
    double value;
};

/* A model provider's answer as applied to a decision; see
 * tr_policy_model_apply().  Strings are owned by the decision. */
struct tr_policy_model_note {
    const char *provider;       /* "openai", "anthropic" */
    const char *model;
    const char *request_hash;   /* SHA-256 hex of the request body */
    const char *team;           /* as answered */
    const char *priority;
    const char *intent;         /* NULL when none */
    const char *reason;
    double confidence;
    const char *outcome;        /* "used", "below_min_confidence",
                                 * "decided_by_rule",
                                 * "decided_by_classifier" */
};

/*
 * The routing decision for one ticket.  Arrays and texts taken from the
 * ticket or the model are owned by the decision and freed by
 * tr_policy_decision_cleanup(); names of teams, rules and priorities
 * point into the configuration, so the decision is valid while both the
 * decision and its configuration live.
 */
struct tr_policy_decision {
    const char *team;           /* never NULL: TR_POLICY_UNASSIGNED */
    int64_t group_id;           /* the team's Zendesk group, 0 for none */
    const char *team_source;    /* "rule", "classifier", "evidence",
                                 * "default" or "none" */
    const char *priority;       /* never NULL */
    const char *priority_source;    /* "default", "rule", "escalation"
                                     * or "model" */
    const char *intent;         /* NULL when no rule or model gave one */
    double intent_prob;         /* calibrated, 0 without a model */
    bool out_of_scope;          /* the model abstained */
    bool injection;             /* injected instructions in the ticket */
    bool passage_injection;     /* ... in a passage given as evidence */
    const char **tags;
    size_t n_tags;
    const char **rules;         /* names of the rules that matched */
    size_t n_rules;
    const char **escalations;   /* "legal_threat", tenant rule names .. */
    size_t n_escalations;
    struct tr_policy_feature *features;
    size_t n_features;
    struct tr_policy_model_note *model;     /* NULL: no model answered */
    struct tr_arena *arena;     /* owns all of the above */
};

/*
 * Route one ticket.  `model` (may be NULL) is the tenant's classifier;
 * `subject` and `body` are UTF-8 (either may be NULL); `ev` holds
 * `n_ev` pieces of evidence, best first (may be NULL with 0).  Fills
 * `dec`, which the caller releases with tr_policy_decision_cleanup()
 * (also after a failure).  Thread-safe on a shared configuration and
 * model.  Returns TR_E_NOMEM, or TR_E_INTERNAL when a pattern exceeds
 * its matching limit on this text (nothing is decided then).
 */
enum tr_err tr_policy_route(const struct tr_policy_config *cfg,
                            const struct tr_route_model *model,
                            const char *subject, const char *body,
                            const struct tr_policy_evidence *ev,
                            size_t n_ev, struct tr_policy_decision *dec,
                            struct tr_error *err);

/*
 * Release what `dec` owns and zero it.  Safe on a zeroed decision.
 */
void tr_policy_decision_cleanup(struct tr_policy_decision *dec);

/*
 * Whether routing `dec` should ask a model provider: model routing is
 * enabled and no rule (nor, for "undecided", a confident classifier)
 * chose the team.  Pure.
 */
bool tr_policy_model_wanted(const struct tr_policy_config *cfg,
                            const struct tr_policy_decision *dec);

/* What a model provider answered; borrowed for the call. */
struct tr_policy_model_answer {
    const char *provider;
    const char *model;
    const char *request_hash;
    const char *team;
    const char *priority;
    const char *intent;         /* may be NULL */
    const char *reason;         /* may be NULL */
    double confidence;          /* 0..1 */
};

/*
 * Apply a model provider's answer to `dec`, a decision of
 * tr_policy_route() with `cfg`.  Below model_routing.min_confidence the
 * answer is only recorded.  Otherwise its team is taken unless a rule
 * chose one (or, when "when" is "undecided", the classifier did); its
 * priority replaces the default priority of a ticket that was not
 * escalated, and otherwise can only raise the priority; its intent, when
 * it is a known one, fills a decision that has none and is not out of
 * scope.
 * Escalations, injection flags and tags are never touched.  The answer
 * is kept in dec->model and as a feature of kind "model".
 *
 * Returns TR_E_INVAL, leaving `dec` unchanged, for a team or priority
 * the configuration does not have or a confidence outside 0..1;
 * TR_E_NOMEM.  Thread-safe on a shared configuration.
 */
enum tr_err tr_policy_model_apply(const struct tr_policy_config *cfg,
                                  const struct tr_policy_model_answer *ans,
                                  struct tr_policy_decision *dec,
                                  struct tr_error *err);

/*
 * Run only the prompt-injection detector on `text` (`len` bytes).
 * Returns true when it fires; *which (may be NULL) then names the
 * detector ("ignore_instructions", "reveal_prompt", "role_play",
 * "fake_turn"), a static string.  For callers that check passages or
 * model output outside tr_policy_route().
 */
bool tr_policy_injection_check(const char *text, size_t len,
                               const char **which);

/* ---- the decision ----------------------------------------------------- */

enum tr_policy_action {
    TR_POLICY_ESCALATE = 0,     /* hand to a human, no draft sent */
    TR_POLICY_DRAFT,            /* draft for a human to approve */
    TR_POLICY_AUTO_SEND         /* send without approval */
};

/* What the drafting step measured, handed to tr_policy_decide(). */
struct tr_policy_signals {
    double best_score;          /* best retrieval score, 0..1; negative
                                 * when nothing was retrieved */
    bool grounded;              /* every sentence of the draft is backed
                                 * by a cited passage */
    double confidence;          /* calibrated confidence of the draft */
};

/* Longest list of reasons tr_policy_decide() gives. */
#define TR_POLICY_MAX_REASONS 16

struct tr_policy_outcome {
    enum tr_policy_action action;
    const char *reasons[TR_POLICY_MAX_REASONS];   /* static strings */
    size_t n_reasons;
};

/*
 * Decide what to do with a routed ticket.  Escalate when the routing
 * decision carries escalation reasons, when injected instructions were
 * found in the ticket, when the model abstained and the configuration
 * escalates out-of-scope tickets, or when no article clears the
 * configured retrieval threshold.  Otherwise draft, and send
 * automatically only when the configuration allows it for this team and
 * intent and the confidence, intent probability, retrieval score and
 * grounding clear its bars.  Every condition that blocked a more
 * automatic action is listed in `out->reasons`.  Pure; thread-safe.
 */
void tr_policy_decide(const struct tr_policy_config *cfg,
                      const struct tr_policy_decision *dec,
                      const struct tr_policy_signals *sig,
                      struct tr_policy_outcome *out);

/*
 * "escalate", "draft" or "auto_send".
 */
const char *tr_policy_action_name(enum tr_policy_action action);

/*
 * Write `dec` and, when not NULL, `out` as one JSON object for the
 * ledger into a new NUL-terminated string that the caller frees with
 * free().  Returns NULL when out of memory.
 */
char *tr_policy_decision_json(const struct tr_policy_decision *dec,
                              const struct tr_policy_outcome *out);

/* ---- storage ---------------------------------------------------------- */

/*
 * Store `cfg`'s text as the routing configuration of tenant `tenant_id`,
 * replacing any earlier one, in one tenant-scoped transaction.  Returns
 * TR_E_DB_* on database failure.
 */
enum tr_err tr_policy_config_store(struct tr_db *db, int64_t tenant_id,
                                   const struct tr_policy_config *cfg,
                                   struct tr_error *err);

/*
 * Load and compile the stored configuration of `tenant_id`.  Returns
 * TR_E_NOTFOUND when the tenant has none (callers then use
 * tr_policy_config_default()), the errors of tr_policy_config_parse()
 * for a stored text that no longer validates, TR_E_DB_*.
 */
enum tr_err tr_policy_config_fetch(struct tr_db *db, int64_t tenant_id,
                                   struct tr_policy_config **out,
                                   struct tr_error *err);

/*
 * Store a trained model of `tenant_id` as its next version and make it
 * the active one, in one transaction.  `metrics_json` is a JSON object
 * (may be NULL for {}).  The labels are taken from the model.  On
 * success *version (may be NULL) gets the new version number.  Returns
 * TR_E_NOMEM, TR_E_DB_*.
 */
enum tr_err tr_policy_model_store(struct tr_db *db, int64_t tenant_id,
                                  const struct tr_route_model *model,
                                  const char *metrics_json, int *version,
                                  struct tr_error *err);

/*
 * Load the active model of `tenant_id`.  On success the caller owns
 * *out (tr_route_model_free()) and *version (may be NULL) holds its
 * version.  Returns TR_E_NOTFOUND when the tenant has no active model,
 * TR_E_PARSE when the stored bytes are not a model, TR_E_DB_*.
 */
enum tr_err tr_policy_model_fetch(struct tr_db *db, int64_t tenant_id,
                                  struct tr_route_model **out,
                                  int *version, struct tr_error *err);

/*
 * The id of the tenant called `name`.  TR_E_TENANT when there is none,
 * TR_E_DB_* on database failure.
 */
enum tr_err tr_policy_tenant_find(struct tr_db *db, const char *name,
                                  int64_t *tenant_id, struct tr_error *err);

/* ---- command ---------------------------------------------------------- */

struct tr_cli;

/*
 * `triage route train|config set|config show|test`, for the binary's
 * command table.  Gets argv starting at "route" and returns an exit code
 * (TR_EXIT_USAGE for unknown options or missing arguments).
 */
int tr_cli_cmd_route(struct tr_cli *cli, int argc, char **argv);

#endif /* TR_POLICY_H */
