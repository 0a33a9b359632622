/*
 * config.c
 *      Parsing and validating a tenant's routing configuration into the
 *      compiled form that routing reads.
 *
 * The document is strict: an unknown field is an error, not ignored,
 * because a misspelt "auto_send" or "escalation" would otherwise
 * silently leave a safety setting at its default.  Every error names the
 * field by its path ("rules[2].team") so that an operator can find it in
 * the file, and a pattern that does not compile is quoted with PCRE2's
 * reason and offset.  References are checked after the teams and
 * priorities are known: a rule, map or default that names an unknown
 * team or priority is refused.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

static const char *const default_priorities[] = {
    "low", "normal", "high", "urgent"
};

static const char *const category_names[TR_POLICY__N_CATEGORIES] = {
    "legal_threat", "security_report", "chargeback", "outage",
    "human_request"
};

/* Parsing state: the configuration being built and where errors go. */
struct ctx {
    struct tr_policy_config *cfg;
    struct tr_arena *arena;
    struct tr_error *err;
};

static enum tr_err
bad(struct ctx *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record a TR_E_CONF error naming `field`. */
static enum tr_err
bad(struct ctx *c, const char *field, const char *fmt, ...)
{
    char why[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return TR_ERROR(c->err, TR_E_CONF,
                    "invalid routing configuration: field \"%s\": %s",
                    field, why);
}

/* Allocation failures need no field: the document is not at fault. */
static enum tr_err
nomem(struct ctx *c)
{
    return TR_ERROR(c->err, TR_E_NOMEM,
                    "out of memory for the routing configuration");
}

/*
 * Refuse any member of `obj` whose name is not in `allowed`, and any
 * that appears twice: the parser would silently keep the first.
 */
static enum tr_err
check_keys(struct ctx *c, const cJSON *obj, const char *path,
           const char *const *allowed)
{
    const cJSON *it, *prev;
    char field[256];

    cJSON_ArrayForEach(it, obj) {
        size_t i;

        snprintf(field, sizeof(field), "%s%s%s", path, path[0] ? "." : "",
                 it->string);
        for (i = 0; allowed[i] != NULL; i++)
            if (strcmp(it->string, allowed[i]) == 0)
                break;
        if (allowed[i] == NULL)
            return bad(c, field, "unknown field");

        for (prev = obj->child; prev != it; prev = prev->next)
            if (strcmp(prev->string, it->string) == 0)
                return bad(c, field, "appears twice");
    }

    return TR_OK;
}

/* A name: 1 to TR_POLICY_NAME_MAX bytes without control characters. */
static bool
name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > TR_POLICY_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/*
 * Copy the string `v` (at `field`) into the arena.  With `name`, it must
 * also pass name_ok().
 */
static enum tr_err
take_string(struct ctx *c, const cJSON *v, const char *field, bool name,
            const char **out)
{
    if (!cJSON_IsString(v))
        return bad(c, field, "must be a string");
    if (name && !name_ok(v->valuestring))
        return bad(c, field, "must have 1 to %d characters and no control "
                   "characters", TR_POLICY_NAME_MAX);
    *out = tr_arena_strdup(c->arena, v->valuestring);
    return *out == NULL ? nomem(c) : TR_OK;
}

/* Member `key` of `obj` as a string; absent leaves *out alone unless
 * `required`. */
static enum tr_err
get_string(struct ctx *c, const cJSON *obj, const char *key,
           const char *path, bool required, bool name, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char field[256];

    snprintf(field, sizeof(field), "%s%s%s", path, path[0] ? "." : "", key);
    if (v == NULL)
        return required ? bad(c, field, "is required") : TR_OK;
    return take_string(c, v, field, name, out);
}

/*
 * Member `key` of `obj` as a boolean; absent leaves *out at its default.
 * Strings such as "yes" are refused rather than guessed at.
 */
static enum tr_err
get_bool(struct ctx *c, const cJSON *obj, const char *key,
         const char *path, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char field[256];

    if (v == NULL)
        return TR_OK;
    snprintf(field, sizeof(field), "%s.%s", path, key);
    if (!cJSON_IsBool(v))
        return bad(c, field, "must be true or false");
    *out = cJSON_IsTrue(v);
    return TR_OK;
}

/*
 * A probability or score: a number from 0 to 1.  Every threshold of the
 * configuration is on that scale, so one check serves them all; NaN and
 * infinities fail it too.
 */
static enum tr_err
get_unit(struct ctx *c, const cJSON *obj, const char *key,
         const char *path, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char field[256];

    if (v == NULL)
        return TR_OK;
    snprintf(field, sizeof(field), "%s.%s", path, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
        v->valuedouble < 0 || v->valuedouble > 1)
        return bad(c, field, "must be a number from 0 to 1");
    *out = v->valuedouble;
    return TR_OK;
}

/* Member `key` as an array of names (absent: empty). */
static enum tr_err
get_names(struct ctx *c, const cJSON *obj, const char *key,
          const char *path, const char ***out, size_t *n_out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char field[256], item[280];
    const cJSON *it;
    size_t n = 0;
    enum tr_err rc;

    *out = NULL;
    *n_out = 0;
    if (v == NULL)
        return TR_OK;
    snprintf(field, sizeof(field), "%s%s%s", path, path[0] ? "." : "", key);
    if (!cJSON_IsArray(v))
        return bad(c, field, "must be an array of strings");

    *out = tr_arena_alloc(c->arena, sizeof(char *) *
                          ((size_t)cJSON_GetArraySize(v) + 1));
    if (*out == NULL)
        return nomem(c);
    cJSON_ArrayForEach(it, v) {
        snprintf(item, sizeof(item), "%s[%zu]", field, n);
        rc = take_string(c, it, item, true, &(*out)[n]);
        if (rc != TR_OK)
            return rc;
        n++;
    }

    *n_out = n;
    return TR_OK;
}

const struct tr_policy__team *
tr_policy__team_find(const struct tr_policy_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_teams; i++)
        if (strcmp(cfg->teams[i].name, name) == 0)
            return &cfg->teams[i];
    return NULL;
}

/* True when `p` is one of the configured priorities. */
static bool
priority_known(const struct tr_policy_config *cfg, const char *p)
{
    for (size_t i = 0; i < cfg->n_priorities; i++)
        if (strcmp(cfg->priorities[i], p) == 0)
            return true;
    return false;
}

/* `name` at `field` must be a configured team. */
static enum tr_err
check_team(struct ctx *c, const char *name, const char *field)
{
    if (name != NULL && tr_policy__team_find(c->cfg, name) == NULL)
        return bad(c, field, "unknown team \"%s\"", name);
    return TR_OK;
}

/* `p` at `field`, when set, must be a configured priority. */
static enum tr_err
check_priority(struct ctx *c, const char *p, const char *field)
{
    if (p != NULL && !priority_known(c->cfg, p))
        return bad(c, field, "unknown priority \"%s\"", p);
    return TR_OK;
}

/*
 * One team object at teams[i].  The Zendesk group id must be a whole
 * number that a double holds exactly (cJSON keeps numbers as doubles),
 * which covers every id Zendesk issues.
 */
static enum tr_err
parse_team(struct ctx *c, const cJSON *t, size_t i)
{
    static const char *const keys[] = {
        "name", "description", "zendesk_group_id", NULL
    };

    struct tr_policy__team *team = &c->cfg->teams[i];
    const cJSON *g;
    char path[64], field[96];
    enum tr_err rc;

    snprintf(path, sizeof(path), "teams[%zu]", i);
    if (!cJSON_IsObject(t))
        return bad(c, path, "must be an object");
    if ((rc = check_keys(c, t, path, keys)) != TR_OK ||
        (rc = get_string(c, t, "name", path, true, true, &team->name))
            != TR_OK ||
        (rc = get_string(c, t, "description", path, false, false,
                         &team->description)) != TR_OK)
        return rc;

    g = cJSON_GetObjectItemCaseSensitive(t, "zendesk_group_id");
    if (g != NULL) {
        snprintf(field, sizeof(field), "%s.zendesk_group_id", path);
        if (!cJSON_IsNumber(g) || g->valuedouble < 1 ||
            g->valuedouble > 9007199254740991.0 ||
            g->valuedouble != floor(g->valuedouble))
            return bad(c, field, "must be a positive integer");
        team->group_id = (int64_t)g->valuedouble;
    }

    for (size_t j = 0; j < i; j++)
        if (strcmp(c->cfg->teams[j].name, team->name) == 0) {
            snprintf(field, sizeof(field), "%s.name", path);
            return bad(c, field, "team \"%s\" is defined twice",
                       team->name);
        }
    return TR_OK;
}

/* The "teams" array; names must be unique. */
static enum tr_err
parse_teams(struct ctx *c, const cJSON *root)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "teams");
    const cJSON *t;
    size_t i = 0;
    enum tr_err rc;

    if (v == NULL)
        return TR_OK;
    if (!cJSON_IsArray(v))
        return bad(c, "teams", "must be an array of objects");
    c->cfg->teams = tr_arena_alloc(c->arena, sizeof(*c->cfg->teams) *
                                   ((size_t)cJSON_GetArraySize(v) + 1));
    if (c->cfg->teams == NULL)
        return nomem(c);
    cJSON_ArrayForEach(t, v) {
        if ((rc = parse_team(c, t, i)) != TR_OK)
            return rc;
        c->cfg->n_teams = ++i;
    }

    return TR_OK;
}

/*
 * Priorities (lowest first) and the default one.  Without "priorities"
 * the four-step scale applies; an empty list would leave no default, so
 * it is refused.
 */
static enum tr_err
parse_priorities(struct ctx *c, const cJSON *root)
{
    struct tr_policy_config *cfg = c->cfg;
    enum tr_err rc;

    rc = get_names(c, root, "priorities", "", &cfg->priorities,
                   &cfg->n_priorities);
    if (rc != TR_OK)
        return rc;
    if (cJSON_GetObjectItemCaseSensitive(root, "priorities") == NULL) {
        cfg->priorities = (const char **)default_priorities;
        cfg->n_priorities = 4;
    } else if (cfg->n_priorities == 0) {
        return bad(c, "priorities", "must list at least one priority");
    }

    /* "normal" when it exists, else the lowest. */
    cfg->default_priority = priority_known(cfg, "normal") ? "normal"
                                                          : cfg->priorities[0];
    rc = get_string(c, root, "default_priority", "", false, true,
                    &cfg->default_priority);
    if (rc == TR_OK)
        rc = check_priority(c, cfg->default_priority, "default_priority");
    return rc;
}

/*
 * The "fields" member of a rule: which of subject and body it reads.
 */
static enum tr_err
parse_fields(struct ctx *c, const cJSON *r, const char *path,
             unsigned *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "fields");
    const cJSON *it;
    char field[128];

    *out = TR_POLICY__SUBJECT | TR_POLICY__BODY;
    if (v == NULL)
        return TR_OK;
    snprintf(field, sizeof(field), "%s.fields", path);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        return bad(c, field, "must be a non-empty array of \"subject\" "
                   "and \"body\"");
    *out = 0;
    cJSON_ArrayForEach(it, v) {
        if (cJSON_IsString(it) && strcmp(it->valuestring, "subject") == 0)
            *out |= TR_POLICY__SUBJECT;
        else if (cJSON_IsString(it) && strcmp(it->valuestring, "body") == 0)
            *out |= TR_POLICY__BODY;
        else
            return bad(c, field, "must hold only \"subject\" and \"body\"");
    }

    return TR_OK;
}

/*
 * Compile the rule's pattern, quoting it in the error so that the
 * operator sees which of several similar patterns is wrong.
 */
static enum tr_err
compile_rule(struct ctx *c, const cJSON *r, const char *path,
             struct tr_policy__rule *rule)
{
    bool case_sensitive = false;
    char msg[300], field[128];
    enum tr_err rc;

    rc = get_bool(c, r, "case_sensitive", path, &case_sensitive);
    if (rc != TR_OK)
        return rc;
    rule->code = tr_policy__compile(rule->pattern, !case_sensitive, msg,
                                    sizeof(msg));
    if (rule->code == NULL) {
        snprintf(field, sizeof(field), "%s.pattern", path);
        return bad(c, field, "pattern \"%s\" does not compile: %s",
                   rule->pattern, msg);
    }

    return TR_OK;
}

/*
 * The routing part of a rule: team, intent and tags (the priority is
 * read by parse_rule()).  A rule with no effect at all is most likely a
 * mistake, so it is refused.
 */
static enum tr_err
parse_rule_effects(struct ctx *c, const cJSON *r, const char *path,
                   struct tr_policy__rule *rule)
{
    char field[128];
    enum tr_err rc;

    if ((rc = get_string(c, r, "team", path, false, true, &rule->team))
            != TR_OK ||
        (rc = get_string(c, r, "intent", path, false, true,
                         &rule->intent)) != TR_OK ||
        (rc = get_names(c, r, "tags", path, &rule->tags, &rule->n_tags))
            != TR_OK)
        return rc;
    snprintf(field, sizeof(field), "%s.team", path);
    if ((rc = check_team(c, rule->team, field)) != TR_OK)
        return rc;
    if (rule->team == NULL && rule->priority == NULL &&
        rule->intent == NULL && rule->n_tags == 0)
        return bad(c, path, "rule \"%s\" sets none of team, priority, "
                   "intent and tags", rule->name);
    return TR_OK;
}

/*
 * One rule at `path`.  Routing rules (`routing`) may set team, intent
 * and tags; escalation rules may not.  Both may set a priority.
 */
static enum tr_err
parse_rule(struct ctx *c, const cJSON *r, const char *path, bool routing,
           struct tr_policy__rule *rule)
{
    static const char *const rkeys[] = {
        "name", "pattern", "fields", "case_sensitive", "team", "priority",
        "intent", "tags", NULL
    };

    static const char *const ekeys[] = {
        "name", "pattern", "fields", "case_sensitive", "priority", NULL
    };

    char field[128];
    enum tr_err rc;

    if (!cJSON_IsObject(r))
        return bad(c, path, "must be an object");
    if ((rc = check_keys(c, r, path, routing ? rkeys : ekeys)) != TR_OK ||
        (rc = get_string(c, r, "name", path, true, true, &rule->name))
            != TR_OK ||
        (rc = get_string(c, r, "pattern", path, true, false,
                         &rule->pattern)) != TR_OK ||
        (rc = parse_fields(c, r, path, &rule->fields)) != TR_OK ||
        (rc = get_string(c, r, "priority", path, false, true,
                         &rule->priority)) != TR_OK)
        return rc;
    snprintf(field, sizeof(field), "%s.priority", path);
    if ((rc = check_priority(c, rule->priority, field)) != TR_OK)
        return rc;
    if (rule->pattern[0] == '\0') {
        snprintf(field, sizeof(field), "%s.pattern", path);
        return bad(c, field, "must not be empty");
    }

    if (routing && (rc = parse_rule_effects(c, r, path, rule)) != TR_OK)
        return rc;
    return compile_rule(c, r, path, rule);
}

/*
 * The array of rules `v` found at `path`; names must be unique, since
 * the ledger lists matched rules by name.
 */
static enum tr_err
parse_rules(struct ctx *c, const cJSON *v, const char *path, bool routing,
            struct tr_policy__rule **out, size_t *n_out)
{
    char item[96];
    const cJSON *r;
    size_t n = 0;
    enum tr_err rc;

    if (v == NULL)
        return TR_OK;
    if (!cJSON_IsArray(v))
        return bad(c, path, "must be an array of objects");
    *out = tr_arena_alloc(c->arena, sizeof(**out) *
                          ((size_t)cJSON_GetArraySize(v) + 1));
    if (*out == NULL)
        return nomem(c);
    cJSON_ArrayForEach(r, v) {
        snprintf(item, sizeof(item), "%s[%zu]", path, n);

        /* Count it first, so that a rule whose later field fails still
         * has its compiled pattern freed. */
        *n_out = n + 1;
        if ((rc = parse_rule(c, r, item, routing, &(*out)[n])) != TR_OK)
            return rc;
        for (size_t j = 0; j < n; j++)
            if (strcmp((*out)[j].name, (*out)[n].name) == 0) {
                snprintf(item, sizeof(item), "%s[%zu].name", path, n);
                return bad(c, item, "rule \"%s\" is defined twice",
                           (*out)[n].name);
            }
        n++;
    }

    return TR_OK;
}

/*
 * An object mapping names to teams ("sections", "intents").  Keys are
 * taken as written: a section or intent name is matched exactly.
 */
static enum tr_err
parse_map(struct ctx *c, const cJSON *root, const char *key,
          struct tr_policy__map **out, size_t *n_out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    const cJSON *it;
    char field[256];
    size_t n = 0;
    enum tr_err rc;

    if (v == NULL)
        return TR_OK;
    if (!cJSON_IsObject(v))
        return bad(c, key, "must be an object of name to team");
    *out = tr_arena_alloc(c->arena, sizeof(**out) *
                          ((size_t)cJSON_GetArraySize(v) + 1));
    if (*out == NULL)
        return nomem(c);
    cJSON_ArrayForEach(it, v) {
        snprintf(field, sizeof(field), "%s.%s", key, it->string);
        for (size_t j = 0; j < n; j++)
            if (strcmp((*out)[j].key, it->string) == 0)
                return bad(c, field, "appears twice");

        (*out)[n].key = tr_arena_strdup(c->arena, it->string);
        if ((*out)[n].key == NULL)
            return nomem(c);
        if ((rc = take_string(c, it, field, true, &(*out)[n].team))
                != TR_OK ||
            (rc = check_team(c, (*out)[n].team, field)) != TR_OK)
            return rc;
        n++;
    }

    *n_out = n;
    return TR_OK;
}

/*
 * "builtin": true, false, or the list of categories to keep on.  A list
 * turns off every category it does not name.
 */
static enum tr_err
parse_builtin(struct ctx *c, const cJSON *esc)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(esc, "builtin");
    const cJSON *it;
    size_t i;

    if (v == NULL)
        return TR_OK;
    if (cJSON_IsBool(v)) {
        for (i = 0; i < TR_POLICY__N_CATEGORIES; i++)
            c->cfg->builtin[i] = cJSON_IsTrue(v);
        return TR_OK;
    }

    if (!cJSON_IsArray(v))
        return bad(c, "escalation.builtin", "must be true, false or an "
                   "array of category names");
    for (i = 0; i < TR_POLICY__N_CATEGORIES; i++)
        c->cfg->builtin[i] = false;
    cJSON_ArrayForEach(it, v) {
        for (i = 0; i < TR_POLICY__N_CATEGORIES; i++)
            if (cJSON_IsString(it) &&
                strcmp(it->valuestring, category_names[i]) == 0)
                break;
        if (i == TR_POLICY__N_CATEGORIES)
            return bad(c, "escalation.builtin", "unknown category \"%s\" "
                       "(known: legal_threat, security_report, chargeback,"
                       " outage, human_request)",
                       cJSON_IsString(it) ? it->valuestring : "?");
        c->cfg->builtin[i] = true;
    }

    return TR_OK;
}

/* The "escalation" object: built-ins, tenant rules, priority. */
static enum tr_err
parse_escalation(struct ctx *c, const cJSON *root)
{
    static const char *const keys[] = {
        "builtin", "rules", "priority", "out_of_scope", NULL
    };

    const cJSON *esc = cJSON_GetObjectItemCaseSensitive(root, "escalation");
    struct tr_policy_config *cfg = c->cfg;
    enum tr_err rc;

    if (esc == NULL)
        return TR_OK;
    if (!cJSON_IsObject(esc))
        return bad(c, "escalation", "must be an object");
    if ((rc = check_keys(c, esc, "escalation", keys)) != TR_OK ||
        (rc = parse_builtin(c, esc)) != TR_OK ||
        (rc = parse_rules(c, cJSON_GetObjectItemCaseSensitive(esc, "rules"),
                          "escalation.rules", false, &cfg->escalations,
                          &cfg->n_escalations)) != TR_OK ||
        (rc = get_string(c, esc, "priority", "escalation", false, true,
                         &cfg->escalation_priority)) != TR_OK ||
        (rc = get_bool(c, esc, "out_of_scope", "escalation",
                       &cfg->escalate_out_of_scope)) != TR_OK)
        return rc;
    return check_priority(c, cfg->escalation_priority,
                          "escalation.priority");
}

/*
 * The "redaction" object: the tenant's own kinds of personal data, each
 * a name (the placeholder's kind) and a PCRE2 pattern.  They are
 * compiled here once with the built-in detectors, so that a bad pattern
 * is refused when the configuration is set, not when a ticket arrives.
 */
static enum tr_err
parse_redaction(struct ctx *c, const cJSON *root)
{
    static const char *const keys[] = {"patterns", NULL};
    static const char *const pkeys[] = {"name", "pattern", NULL};
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "redaction");
    const cJSON *arr, *it;
    struct tr_redact *r = NULL;
    struct tr_error why = {0};
    char path[64];
    size_t n, i = 0;
    enum tr_err rc;

    if (v == NULL)
        return TR_OK;
    if (!cJSON_IsObject(v))
        return bad(c, "redaction", "must be an object");
    if ((rc = check_keys(c, v, "redaction", keys)) != TR_OK)
        return rc;
    arr = cJSON_GetObjectItemCaseSensitive(v, "patterns");
    if (arr == NULL)
        return TR_OK;
    if (!cJSON_IsArray(arr))
        return bad(c, "redaction.patterns", "must be an array");
    n = (size_t)cJSON_GetArraySize(arr);
    if (n > TR_REDACT_PATTERNS_MAX)
        return bad(c, "redaction.patterns", "has %zu patterns, more than %d",
                   n, TR_REDACT_PATTERNS_MAX);
    c->cfg->redact = tr_arena_alloc(c->arena,
                                    (n + 1) * sizeof(*c->cfg->redact));
    if (c->cfg->redact == NULL)
        return nomem(c);

    cJSON_ArrayForEach(it, arr) {
        struct tr_redact_pattern *p = &c->cfg->redact[i];

        snprintf(path, sizeof(path), "redaction.patterns[%zu]", i);
        if (!cJSON_IsObject(it))
            return bad(c, path, "must be an object");
        if ((rc = check_keys(c, it, path, pkeys)) != TR_OK ||
            (rc = get_string(c, it, "name", path, true, true, &p->name))
                != TR_OK ||
            (rc = get_string(c, it, "pattern", path, true, false,
                             &p->regex)) != TR_OK)
            return rc;
        i++;
    }
    c->cfg->n_redact = n;

    rc = tr_redact_new(c->cfg->redact, n, &r, &why);
    tr_redact_free(r);
    if (rc == TR_E_NOMEM)
        return nomem(c);
    if (rc != TR_OK)
        return bad(c, "redaction.patterns", "%s", tr_error_msg(&why));
    return TR_OK;
}

/* The "injection" object: the detector on tickets and on passages. */
static enum tr_err
parse_injection(struct ctx *c, const cJSON *root)
{
    static const char *const keys[] = {"enabled", "check_passages", NULL};
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "injection");
    enum tr_err rc;

    if (v == NULL)
        return TR_OK;
    if (!cJSON_IsObject(v))
        return bad(c, "injection", "must be an object");
    if ((rc = check_keys(c, v, "injection", keys)) != TR_OK ||
        (rc = get_bool(c, v, "enabled", "injection", &c->cfg->injection))
            != TR_OK)
        return rc;
    return get_bool(c, v, "check_passages", "injection",
                    &c->cfg->injection_passages);
}

/* The "thresholds" object: the bars of routing and escalation. */
static enum tr_err
parse_thresholds(struct ctx *c, const cJSON *root)
{
    static const char *const keys[] = {
        "classifier_min_prob", "evidence_min_score", "retrieval_min_score",
        NULL
    };

    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "thresholds");
    struct tr_policy_config *cfg = c->cfg;
    enum tr_err rc;

    if (v == NULL)
        return TR_OK;
    if (!cJSON_IsObject(v))
        return bad(c, "thresholds", "must be an object");
    if ((rc = check_keys(c, v, "thresholds", keys)) != TR_OK ||
        (rc = get_unit(c, v, "classifier_min_prob", "thresholds",
                       &cfg->classifier_min_prob)) != TR_OK ||
        (rc = get_unit(c, v, "evidence_min_score", "thresholds",
                       &cfg->evidence_min_score)) != TR_OK)
        return rc;
    return get_unit(c, v, "retrieval_min_score", "thresholds",
                    &cfg->retrieval_min_score);
}

/*
 * The "auto_send" object.  Its team list is checked against the teams;
 * its intent list is not, since intents come from a model trained
 * later and may not be known yet.
 */
static enum tr_err
parse_auto_send(struct ctx *c, const cJSON *root)
{
    static const char *const keys[] = {
        "enabled", "min_confidence", "min_intent_prob", "min_score",
        "require_grounding", "teams", "intents", NULL
    };

    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "auto_send");
    struct tr_policy__auto_send *a = &c->cfg->auto_send;
    char field[64];
    enum tr_err rc;

    if (v == NULL)
        return TR_OK;
    if (!cJSON_IsObject(v))
        return bad(c, "auto_send", "must be an object");
    if ((rc = check_keys(c, v, "auto_send", keys)) != TR_OK ||
        (rc = get_bool(c, v, "enabled", "auto_send", &a->enabled))
            != TR_OK ||
        (rc = get_unit(c, v, "min_confidence", "auto_send",
                       &a->min_confidence)) != TR_OK ||
        (rc = get_unit(c, v, "min_intent_prob", "auto_send",
                       &a->min_intent_prob)) != TR_OK ||
        (rc = get_unit(c, v, "min_score", "auto_send", &a->min_score))
            != TR_OK ||
        (rc = get_bool(c, v, "require_grounding", "auto_send",
                       &a->require_grounding)) != TR_OK ||
        (rc = get_names(c, v, "teams", "auto_send", &a->teams,
                        &a->n_teams)) != TR_OK ||
        (rc = get_names(c, v, "intents", "auto_send", &a->intents,
                        &a->n_intents)) != TR_OK)
        return rc;

    for (size_t i = 0; i < a->n_teams; i++) {
        snprintf(field, sizeof(field), "auto_send.teams[%zu]", i);
        if ((rc = check_team(c, a->teams[i], field)) != TR_OK)
            return rc;
    }

    return TR_OK;
}

/*
 * The "model_routing" object: whether a model provider may route, from
 * which confidence of its own, and when.
 */
static enum tr_err
parse_model_routing(struct ctx *c, const cJSON *root)
{
    static const char *const keys[] = {
        "enabled", "min_confidence", "when", NULL
    };

    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root,
                                                      "model_routing");
    struct tr_policy_model_routing *m = &c->cfg->model_routing;
    const char *when = NULL;
    enum tr_err rc;

    if (v == NULL)
        return TR_OK;
    if (!cJSON_IsObject(v))
        return bad(c, "model_routing", "must be an object");
    if ((rc = check_keys(c, v, "model_routing", keys)) != TR_OK ||
        (rc = get_bool(c, v, "enabled", "model_routing", &m->enabled))
            != TR_OK ||
        (rc = get_unit(c, v, "min_confidence", "model_routing",
                       &m->min_confidence)) != TR_OK ||
        (rc = get_string(c, v, "when", "model_routing", false, false,
                         &when)) != TR_OK)
        return rc;
    if (when == NULL || strcmp(when, "undecided") == 0)
        m->when = TR_POLICY_MODEL_UNDECIDED;
    else if (strcmp(when, "always") == 0)
        m->when = TR_POLICY_MODEL_ALWAYS;
    else
        return bad(c, "model_routing.when", "must be \"undecided\" or "
                   "\"always\", not \"%s\"", when);

    /* Without teams there is nothing to offer the model. */
    if (m->enabled && c->cfg->n_teams == 0)
        return bad(c, "model_routing.enabled", "needs at least one team "
                   "in \"teams\"");
    return TR_OK;
}

/* Add `name` to the known intents unless it is there already. */
static void
known_intent_add(struct tr_policy_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_known_intents; i++)
        if (strcmp(cfg->known_intents[i], name) == 0)
            return;
    cfg->known_intents[cfg->n_known_intents++] = name;
}

/*
 * Every intent the configuration names, for a model provider to choose
 * from: the intent map's keys, then the rules', then auto_send's.
 */
static enum tr_err
collect_intents(struct ctx *c)
{
    struct tr_policy_config *cfg = c->cfg;
    size_t n = cfg->n_intents + cfg->n_rules + cfg->auto_send.n_intents;

    cfg->known_intents = tr_arena_alloc(c->arena, sizeof(char *) * (n + 1));
    if (cfg->known_intents == NULL)
        return nomem(c);
    for (size_t i = 0; i < cfg->n_intents; i++)
        known_intent_add(cfg, cfg->intents[i].key);
    for (size_t i = 0; i < cfg->n_rules; i++)
        if (cfg->rules[i].intent != NULL)
            known_intent_add(cfg, cfg->rules[i].intent);
    for (size_t i = 0; i < cfg->auto_send.n_intents; i++)
        known_intent_add(cfg, cfg->auto_send.intents[i]);
    return TR_OK;
}

/*
 * The defaults of every setting, before the document overrides them.
 * They are the safe side of each choice: every detector on, escalate
 * when unsure, never send without approval.
 */
static void
set_defaults(struct tr_policy_config *cfg)
{
    cfg->priorities = (const char **)default_priorities;
    cfg->n_priorities = 4;
    cfg->default_priority = "normal";
    for (size_t i = 0; i < TR_POLICY__N_CATEGORIES; i++)
        cfg->builtin[i] = true;
    cfg->injection = true;
    cfg->injection_passages = true;
    cfg->classifier_min_prob = 0.5;
    cfg->evidence_min_score = 0.3;
    cfg->retrieval_min_score = 0.5;
    cfg->escalate_out_of_scope = true;
    cfg->auto_send.enabled = false;
    cfg->auto_send.min_confidence = 0.9;
    cfg->auto_send.min_intent_prob = 0.8;
    cfg->auto_send.min_score = 0.7;
    cfg->auto_send.require_grounding = true;
    cfg->model_routing.enabled = false;
    cfg->model_routing.min_confidence = 0.6;
    cfg->model_routing.when = TR_POLICY_MODEL_UNDECIDED;
}

/*
 * Every top-level section, in dependency order: teams and priorities
 * first, since rules, maps and defaults refer to them.
 */
static enum tr_err
parse_root(struct ctx *c, const cJSON *root)
{
    static const char *const keys[] = {
        "version", "teams", "default_team", "priorities",
        "default_priority", "rules", "sections", "intents", "escalation",
        "redaction", "injection", "thresholds", "auto_send",
        "model_routing", NULL
    };

    struct tr_policy_config *cfg = c->cfg;
    const cJSON *ver;
    enum tr_err rc;

    if (!cJSON_IsObject(root))
        return TR_ERROR(c->err, TR_E_CONF, "invalid routing configuration:"
                        " the document must be a JSON object");
    if ((rc = check_keys(c, root, "", keys)) != TR_OK)
        return rc;
    ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (ver != NULL && (!cJSON_IsNumber(ver) || ver->valuedouble != 1))
        return bad(c, "version", "must be 1");

    if ((rc = parse_teams(c, root)) != TR_OK ||
        (rc = parse_priorities(c, root)) != TR_OK ||
        (rc = get_string(c, root, "default_team", "", false, true,
                         &cfg->default_team)) != TR_OK ||
        (rc = check_team(c, cfg->default_team, "default_team")) != TR_OK ||
        (rc = parse_rules(c, cJSON_GetObjectItemCaseSensitive(root,
                                                              "rules"),
                          "rules", true, &cfg->rules, &cfg->n_rules))
            != TR_OK ||
        (rc = parse_map(c, root, "sections", &cfg->sections,
                        &cfg->n_sections)) != TR_OK ||
        (rc = parse_map(c, root, "intents", &cfg->intents,
                        &cfg->n_intents)) != TR_OK ||
        (rc = parse_escalation(c, root)) != TR_OK ||
        (rc = parse_redaction(c, root)) != TR_OK ||
        (rc = parse_injection(c, root)) != TR_OK ||
        (rc = parse_thresholds(c, root)) != TR_OK ||
        (rc = parse_auto_send(c, root)) != TR_OK ||
        (rc = parse_model_routing(c, root)) != TR_OK)
        return rc;
    return collect_intents(c);
}

enum tr_err
tr_policy_config_parse(const char *json, size_t len,
                       struct tr_policy_config **out, struct tr_error *err)
{
    struct tr_policy_config *cfg = NULL;
    struct ctx c = {.err = err};
    const char *end = NULL;
    cJSON *root = NULL;
    enum tr_err rc;

    *out = NULL;
    if (len > TR_POLICY_CONFIG_MAX)
        return TR_ERROR(err, TR_E_TOOBIG, "routing configuration of %zu "
                        "bytes is larger than the limit of %d", len,
                        TR_POLICY_CONFIG_MAX);
    c.arena = tr_arena_new(0);
    if (c.arena == NULL ||
        (cfg = tr_arena_alloc(c.arena, sizeof(*cfg))) == NULL) {
        tr_arena_free(c.arena);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory for the routing "
                        "configuration");
    }

    cfg->arena = c.arena;
    c.cfg = cfg;
    set_defaults(cfg);

    cfg->text = tr_arena_strndup(c.arena, json, len);
    if (cfg->text == NULL) {
        rc = nomem(&c);
        goto out;
    }

    /* The end pointer, unlike cJSON_GetErrorPtr(), is per call. */
    root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (root == NULL) {
        rc = TR_ERROR(err, TR_E_PARSE, "routing configuration is not valid"
                      " JSON (near byte %zu)",
                      (size_t)(end != NULL ? end - json : 0));
        goto out;
    }

    rc = parse_root(&c, root);

out:
    cJSON_Delete(root);
    if (rc != TR_OK) {
        tr_policy_config_free(cfg);
        return rc;
    }

    *out = cfg;
    return TR_OK;
}

enum tr_err
tr_policy_config_load(const char *path, struct tr_policy_config **out,
                      struct tr_error *err)
{
    char *buf = NULL, msg[sizeof(err->msg)];
    FILE *f;
    long len;
    enum tr_err rc;

    *out = NULL;
    f = fopen(path, "rb");
    if (f == NULL)
        return TR_ERROR(err, TR_E_IO, "could not open file \"%s\": %s",
                        path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        rc = TR_ERROR(err, TR_E_IO, "could not read file \"%s\": %s", path,
                      strerror(errno));
        goto out;
    }

    if (len > TR_POLICY_CONFIG_MAX) {
        rc = TR_ERROR(err, TR_E_TOOBIG, "file \"%s\" is larger than the "
                      "limit of %d bytes", path, TR_POLICY_CONFIG_MAX);
        goto out;
    }

    buf = malloc((size_t)len + 1);
    if (buf == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory reading \"%s\"", path);
        goto out;
    }

    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        rc = TR_ERROR(err, TR_E_IO, "could not read file \"%s\"", path);
        goto out;
    }

    rc = tr_policy_config_parse(buf, (size_t)len, out, err);
    if (rc != TR_OK && err != NULL) {
        /* Prefix the file name; a long message loses its tail. */
        memcpy(msg, err->msg, sizeof(msg));
        TR_ERROR(err, rc, "%s: %.*s", path, (int)(sizeof(msg) / 2), msg);
    }

out:
    free(buf);
    fclose(f);
    return rc;
}

enum tr_err
tr_policy_config_default(struct tr_policy_config **out,
                         struct tr_error *err)
{
    return tr_policy_config_parse("{}", 2, out, err);
}

const char *
tr_policy_config_text(const struct tr_policy_config *cfg)
{
    return cfg->text;
}

size_t
tr_policy_config_n_teams(const struct tr_policy_config *cfg)
{
    return cfg->n_teams;
}

size_t
tr_policy_config_n_rules(const struct tr_policy_config *cfg)
{
    return cfg->n_rules;
}

size_t
tr_policy_config_n_escalations(const struct tr_policy_config *cfg)
{
    return cfg->n_escalations;
}

size_t
tr_policy_config_redact_patterns(const struct tr_policy_config *cfg,
                                 const struct tr_redact_pattern **out)
{
    *out = cfg->n_redact > 0 ? cfg->redact : NULL;
    return cfg->n_redact;
}

void
tr_policy_config_free(struct tr_policy_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->n_rules; i++)
        pcre2_code_free(cfg->rules[i].code);
    for (size_t i = 0; i < cfg->n_escalations; i++)
        pcre2_code_free(cfg->escalations[i].code);
    tr_arena_free(cfg->arena);
}
