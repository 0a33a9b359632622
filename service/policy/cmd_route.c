/*
 * cmd_route.c
 *      `triage route train`, `triage route config set|show` and
 *      `triage route test`: training and storing a tenant's routing
 *      model, setting and showing its routing configuration, and routing
 *      a text to see what would be decided.
 *
 * Training holds part of the data out (every k-th row) so that the
 * accuracy it prints is measured on rows the model never saw, and the
 * model stored is the one measured, not a retrained one.  Without --val
 * the held-out rows are split in two: one half fits the temperature and
 * the abstain threshold, the other is scored.  The command includes
 * cli.h but does not link tr_cli; its tr_cli_* calls resolve in the
 * triage binary.  Main thread only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "policy.h"
#include "route.h"

static const char route_help[] =
    "Usage: triage route train --tenant NAME --data FILE.jsonl "
    "[--val FILE.jsonl]\n"
    "       triage route config set --tenant NAME FILE.json\n"
    "       triage route config show --tenant NAME\n"
    "       triage route test --tenant NAME [--subject S] [--json] TEXT\n"
    "\n"
    "  train            train the routing classifier on {\"text\",\"label\"}\n"
    "                   lines, calibrate it, store it as the tenant's\n"
    "                   active model and print its held-out accuracy\n"
    "  config set FILE  validate and store the routing configuration\n"
    "                   (format: docs/routing.md)\n"
    "  config show      print the stored routing configuration\n"
    "  test TEXT        route TEXT with the stored configuration and\n"
    "                   model and print the decision (no retrieval)\n"
    "\n"
    "  --tenant NAME    the tenant (required)\n"
    "  --data FILE      training data, JSON Lines\n"
    "  --val FILE       calibration data; without it half of the held-out\n"
    "                   rows are used\n"
    "  --holdout FRAC   share of --data held out, at most 0.5: every\n"
    "                   round(1/FRAC)-th row (default 0.2)\n"
    "  --oos-label L    label of out-of-scope rows (default oos)\n"
    "  --subject S      subject of the test ticket\n"
    "  --json           print the decision as JSON\n"
    "\n" TR_CLI_COMMON_HELP;

enum {
    OPT_TENANT = 1, OPT_DATA, OPT_VAL, OPT_HOLDOUT, OPT_OOS_LABEL,
    OPT_SUBJECT, OPT_JSON
};

struct route_opts {
    const char *sub;            /* "train", "config set", ... */
    const char *tenant;
    const char *data;
    const char *val;
    double holdout;
    const char *oos_label;
    const char *subject;
    bool json;
    const char *arg;            /* FILE of config set, TEXT of test */
};

/* Rows of a set split for training, calibration and scoring. */
struct split {
    struct tr_route_example *train, *cal, *test;
    size_t n_train, n_cal, n_test;
};

/* What scoring on the held-out rows measured. */
struct score {
    size_t n, correct, n_in, correct_in, n_oos, oos_caught;
};

/* Open the database with the schema current and find the tenant. */
static int
open_tenant(struct tr_cli *cli, const char *name, struct tr_db **db,
            int64_t *tenant_id)
{
    struct tr_error err = {0};
    enum tr_err rc;

    *db = NULL;
    rc = tr_db_open(&cli->conf, 2, db, &err);
    if (rc == TR_OK)
        rc = tr_db_migrate(*db, NULL, &err);
    if (rc == TR_OK)
        rc = tr_policy_tenant_find(*db, name, tenant_id, &err);
    if (rc != TR_OK) {
        tr_db_close(*db, false);
        *db = NULL;
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    }

    return TR_EXIT_OK;
}

/*
 * Every k-th row of `set` is held out, k = round(1 / holdout); with
 * `halve`, held-out rows alternate between calibration and scoring.
 */
static int
split_rows(const struct tr_route_set *set, double holdout, bool halve,
           struct split *s)
{
    size_t k = (size_t)lround(1.0 / holdout), n = set->n_rows, held = 0;

    memset(s, 0, sizeof(*s));
    s->train = calloc(n + 1, sizeof(*s->train));
    s->cal = calloc(n + 1, sizeof(*s->cal));
    s->test = calloc(n + 1, sizeof(*s->test));
    if (s->train == NULL || s->cal == NULL || s->test == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (k < 2 || i % k != k - 1)
            s->train[s->n_train++] = set->rows[i];
        else if (halve && held++ % 2 == 0)
            s->cal[s->n_cal++] = set->rows[i];
        else
            s->test[s->n_test++] = set->rows[i];
    }

    return 0;
}

/* The row arrays only; the rows' strings belong to their set. */
static void
split_free(struct split *s)
{
    free(s->train);
    free(s->cal);
    free(s->test);
}

/*
 * Score `m` on `n` rows.  A row counts as correct when the reported
 * label (the abstain label when the model abstains) equals its label,
 * so an out-of-scope row is correct exactly when it is caught.
 */
static enum tr_err
score_rows(const struct tr_route_model *m, const struct tr_route_example
           *rows, size_t n, struct score *sc, struct tr_error *err)
{
    const char *oos = tr_route_model_abstain_label(m);
    struct tr_route_result res;
    enum tr_err rc;

    memset(sc, 0, sizeof(*sc));
    for (size_t i = 0; i < n; i++) {
        bool is_oos = strcmp(rows[i].label, oos) == 0, ok;

        rc = tr_route_predict(m, rows[i].text, strlen(rows[i].text), &res,
                              NULL, err);
        if (rc != TR_OK)
            return rc;
        ok = strcmp(res.label, rows[i].label) == 0;
        sc->n++;
        sc->correct += ok;
        sc->n_oos += is_oos;
        sc->oos_caught += is_oos && res.abstain;
        sc->n_in += !is_oos;
        sc->correct_in += !is_oos && ok;
    }

    return TR_OK;
}

/* a / b, and 0 for an empty set rather than NaN in the output. */
static double
ratio(size_t a, size_t b)
{
    return b > 0 ? (double)a / (double)b : 0.0;
}

/*
 * True when some row of `set` has label `label`.  The out-of-scope
 * label is only passed to the trainer when the data has such rows, so
 * that a tenant without them trains an ordinary classifier.
 */
static bool
has_label(const struct tr_route_set *set, const char *label)
{
    for (size_t i = 0; i < set->n_rows; i++)
        if (strcmp(set->rows[i].label, label) == 0)
            return true;
    return false;
}

/*
 * Train, calibrate and score; *out is the trained model (freed by the
 * caller also on failure).  Without calibration rows the model keeps
 * temperature 1 and threshold 0: it never abstains.
 */
static enum tr_err
train_model(const struct route_opts *o, const struct tr_route_set *data,
            const struct tr_route_set *val, struct split *s,
            struct tr_route_model **out, struct tr_route_calibration *cal,
            struct score *sc, struct tr_error *err)
{
    struct tr_route_params p;
    const struct tr_route_example *cal_rows = val ? val->rows : s->cal;
    size_t n_cal = val ? val->n_rows : s->n_cal;
    enum tr_err rc;

    tr_route_params_default(&p);
    p.oos_label = has_label(data, o->oos_label) ? o->oos_label : NULL;
    p.train_oos = p.oos_label != NULL;
    rc = tr_route_train(&p, s->train, s->n_train, out, err);
    if (rc != TR_OK)
        return rc;

    memset(cal, 0, sizeof(*cal));
    cal->temperature = 1.0;
    if (n_cal > 0) {
        rc = tr_route_model_calibrate(*out, cal_rows, n_cal,
                                      TR_ROUTE_MAX_DROP, cal, err);
        if (rc != TR_OK)
            return rc;
    }

    return score_rows(*out, s->test, s->n_test, sc, err);
}

/* The metrics stored with the model, as a JSON object (malloc'd). */
static char *
metrics_json(const struct split *s, const struct tr_route_calibration *cal,
             const struct score *sc, bool with_val)
{
    char *buf = malloc(512);

    if (buf != NULL)
        snprintf(buf, 512,
                 "{\"n_train\":%zu,\"n_calibration\":%zu,\"n_heldout\":%zu,"
                 "\"calibrated_on\":\"%s\",\"accuracy\":%.4f,"
                 "\"in_scope_accuracy\":%.4f,\"oos_recall\":%.4f,"
                 "\"temperature\":%.4f,\"threshold\":%.4f}",
                 s->n_train, with_val ? cal->n_val : s->n_cal, sc->n,
                 with_val ? "val" : "holdout", ratio(sc->correct, sc->n),
                 ratio(sc->correct_in, sc->n_in),
                 ratio(sc->oos_caught, sc->n_oos), cal->temperature,
                 cal->threshold);
    return buf;
}

/* What `route train` reports once the model is stored. */
static void
print_trained(const struct route_opts *o, const struct tr_route_model *m,
              int version, const struct split *s, const struct score *sc,
              const struct tr_route_calibration *cal)
{
    printf("tenant \"%s\": routing model version %d is active "
           "(%zu classes, %zu training rows)\n", o->tenant, version,
           tr_route_model_n_classes(m), s->n_train);
    printf("calibration: temperature %.3f, abstain threshold %.3f\n",
           cal->temperature, cal->threshold);
    if (sc->n == 0) {
        printf("held-out accuracy: no held-out rows to score\n");
        return;
    }

    printf("held-out accuracy: %.4f (%zu of %zu rows)\n",
           ratio(sc->correct, sc->n), sc->correct, sc->n);
    printf("held-out in-scope accuracy: %.4f (%zu rows)\n",
           ratio(sc->correct_in, sc->n_in), sc->n_in);
    if (sc->n_oos > 0)
        printf("held-out out-of-scope recall: %.4f (%zu rows)\n",
               ratio(sc->oos_caught, sc->n_oos), sc->n_oos);
}

/*
 * `route train`: everything that can fail without the database (reading,
 * training, scoring) runs before it is opened, so a bad file costs no
 * connection and stores nothing.
 */
static int
route_train(struct tr_cli *cli, const struct route_opts *o)
{
    struct tr_route_set *data = NULL, *val = NULL;
    struct tr_route_model *m = NULL;
    struct tr_route_calibration cal;
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    struct split s = {0};
    struct score sc;
    char *metrics = NULL;
    int64_t tid;
    int version = 0, ex = TR_EXIT_FAIL;

    if (tr_route_set_load(o->data, &data, &err) != TR_OK ||
        (o->val != NULL && tr_route_set_load(o->val, &val, &err) != TR_OK))
        goto fail;
    if (split_rows(data, o->holdout, val == NULL, &s) != 0) {
        TR_ERROR(&err, TR_E_NOMEM, "out of memory splitting the data");
        goto fail;
    }

    if (train_model(o, data, val, &s, &m, &cal, &sc, &err) != TR_OK)
        goto fail;
    metrics = metrics_json(&s, &cal, &sc, val != NULL);
    if (metrics == NULL) {
        TR_ERROR(&err, TR_E_NOMEM, "out of memory");
        goto fail;
    }

    ex = open_tenant(cli, o->tenant, &db, &tid);
    if (ex != TR_EXIT_OK)
        goto out;
    if (tr_policy_model_store(db, tid, m, metrics, &version, &err) != TR_OK)
        goto fail;
    print_trained(o, m, version, &s, &sc, &cal);
    ex = TR_EXIT_OK;
    goto out;

fail:
    ex = tr_cli_fail(cli, "%s", tr_error_msg(&err));
out:
    free(metrics);
    tr_route_model_free(m);
    split_free(&s);
    tr_route_set_free(data);
    tr_route_set_free(val);
    tr_db_close(db, false);
    return ex;
}

/* `route config set FILE` (with `set`) and `route config show`. */
static int
route_config(struct tr_cli *cli, const struct route_opts *o, bool set)
{
    struct tr_policy_config *cfg = NULL;
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    enum tr_err rc;
    int64_t tid;
    int ex;

    /* Validate before touching the database: a bad file stores nothing. */
    if (set && tr_policy_config_load(o->arg, &cfg, &err) != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    ex = open_tenant(cli, o->tenant, &db, &tid);
    if (ex != TR_EXIT_OK) {
        tr_policy_config_free(cfg);
        return ex;
    }

    rc = set ? tr_policy_config_store(db, tid, cfg, &err)
             : tr_policy_config_fetch(db, tid, &cfg, &err);
    tr_db_close(db, false);
    if (rc == TR_E_NOTFOUND && !set) {
        printf("tenant \"%s\" has no routing configuration; the defaults "
               "apply (docs/routing.md)\n", o->tenant);
        return TR_EXIT_OK;
    }

    if (rc != TR_OK) {
        tr_policy_config_free(cfg);
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    }

    if (set)
        printf("tenant \"%s\": routing configuration stored (%zu teams, "
               "%zu rules, %zu escalation rules)\n", o->tenant,
               tr_policy_config_n_teams(cfg), tr_policy_config_n_rules(cfg),
               tr_policy_config_n_escalations(cfg));
    else
        printf("%s\n", tr_policy_config_text(cfg));
    tr_policy_config_free(cfg);
    return TR_EXIT_OK;
}

/* "what:  a, b, c", or "-" for an empty list. */
static void
print_list(const char *what, const char *const *s, size_t n)
{
    printf("%-13s", what);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i > 0 ? ", " : "", s[i]);
    printf("%s\n", n == 0 ? "-" : "");
}

/* The routing decision for a person reading a terminal. */
static void
print_decision(const struct tr_policy_decision *d)
{
    printf("team:        %s (%s)", d->team, d->team_source);
    if (d->group_id > 0)
        printf(", zendesk group %lld", (long long)d->group_id);
    printf("\npriority:    %s\n", d->priority);
    printf("intent:      %s (p %.3f)%s\n", d->intent ? d->intent : "-",
           d->intent_prob, d->out_of_scope ? ", out of scope" : "");
    print_list("tags:", d->tags, d->n_tags);
    print_list("rules:", d->rules, d->n_rules);
    print_list("escalations:", d->escalations, d->n_escalations);
    printf("injection:   %s\n", d->injection ? "yes" : "no");
}

/* Load the tenant's configuration (or the defaults) and model. */
static enum tr_err
load_tenant_policy(struct tr_db *db, int64_t tid,
                   struct tr_policy_config **cfg, struct tr_route_model **m,
                   struct tr_error *err)
{
    enum tr_err rc;

    rc = tr_policy_config_fetch(db, tid, cfg, err);
    if (rc == TR_E_NOTFOUND)
        rc = tr_policy_config_default(cfg, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_policy_model_fetch(db, tid, m, NULL, err);
    return rc == TR_E_NOTFOUND ? TR_OK : rc;
}

/*
 * `route test TEXT`: route with no evidence, so only the detectors,
 * rules, classifier and defaults speak; retrieval belongs to the
 * pipeline.
 */
static int
route_test(struct tr_cli *cli, const struct route_opts *o)
{
    struct tr_policy_config *cfg = NULL;
    struct tr_route_model *m = NULL;
    struct tr_policy_decision d = {0};
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    char *json = NULL;
    int64_t tid;
    int ex;

    ex = open_tenant(cli, o->tenant, &db, &tid);
    if (ex != TR_EXIT_OK)
        return ex;
    if (load_tenant_policy(db, tid, &cfg, &m, &err) != TR_OK ||
        tr_policy_route(cfg, m, o->subject, o->arg, NULL, 0, &d, &err)
            != TR_OK) {
        ex = tr_cli_fail(cli, "%s", tr_error_msg(&err));
        goto out;
    }

    if (o->json) {
        json = tr_policy_decision_json(&d, NULL);
        if (json == NULL) {
            ex = tr_cli_fail(cli, "out of memory");
            goto out;
        }

        printf("%s\n", json);
    } else {
        print_decision(&d);
        if (m == NULL)
            printf("(no trained model: rules and defaults only)\n");
    }

out:
    free(json);
    tr_policy_decision_cleanup(&d);
    tr_policy_config_free(cfg);
    tr_route_model_free(m);
    tr_db_close(db, false);
    return ex;
}

/* Take one command option; 0 when it is not one, -1 on a bad value. */
static int
take_opt(struct tr_cli *cli, struct route_opts *o, int opt, const char *arg)
{
    char *end;

    switch (opt) {
    case OPT_TENANT: o->tenant = arg; return 1;
    case OPT_DATA: o->data = arg; return 1;
    case OPT_VAL: o->val = arg; return 1;
    case OPT_OOS_LABEL: o->oos_label = arg; return 1;
    case OPT_SUBJECT: o->subject = arg; return 1;
    case OPT_JSON: o->json = true; return 1;
    case OPT_HOLDOUT:
        o->holdout = strtod(arg, &end);
        if (end == arg || *end != '\0' || !(o->holdout > 0) ||
            o->holdout > 0.5) {
            tr_cli_usage_error(cli, "--holdout must be a number above 0 "
                               "and at most 0.5, not \"%s\"", arg);
            return -1;
        }

        return 1;
    }

    return 0;
}

/* getopt_long over the command's and the common options. */
static int
parse_opts(struct tr_cli *cli, int argc, char **argv, struct route_opts *o)
{
    static const struct option opts[] = {
        {"tenant", required_argument, NULL, OPT_TENANT},
        {"data", required_argument, NULL, OPT_DATA},
        {"val", required_argument, NULL, OPT_VAL},
        {"holdout", required_argument, NULL, OPT_HOLDOUT},
        {"oos-label", required_argument, NULL, OPT_OOS_LABEL},
        {"subject", required_argument, NULL, OPT_SUBJECT},
        {"json", no_argument, NULL, OPT_JSON},
        TR_CLI_COMMON_OPTS,
        {NULL, 0, NULL, 0}
    };

    int opt, rc;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        rc = take_opt(cli, o, opt, optarg);
        if (rc < 0)
            return TR_EXIT_USAGE;
        if (rc > 0)
            continue;
        rc = tr_cli_common_opt(cli, opt, optarg);
        if (rc == 0)
            return tr_cli_bad_option(cli, argv);
        if (rc < 0)
            return TR_EXIT_USAGE;
    }

    return TR_EXIT_OK;
}

/* Arguments each subcommand requires and refuses. */
static int
check_args(struct tr_cli *cli, int argc, char **argv, struct route_opts *o)
{
    bool train = strcmp(o->sub, "train") == 0;
    bool takes_arg = !train && strcmp(o->sub, "config show") != 0;

    if (o->tenant == NULL)
        return tr_cli_usage_error(cli, "--tenant is required");
    if (train && o->data == NULL)
        return tr_cli_usage_error(cli, "--data FILE is required");
    if (!train && (o->data != NULL || o->val != NULL))
        return tr_cli_usage_error(cli, "--data and --val are only for "
                                       "route train");
    if (takes_arg && optind + 1 != argc)
        return tr_cli_usage_error(cli, "route %s takes one %s", o->sub,
                                  strcmp(o->sub, "test") == 0 ? "TEXT"
                                                              : "FILE");
    if (!takes_arg && optind < argc)
        return tr_cli_usage_error(cli, "unexpected argument \"%s\"",
                                  argv[optind]);
    o->arg = takes_arg ? argv[optind] : NULL;
    return TR_EXIT_OK;
}

/* Which subcommand argv names; the number of words it takes, 0 if none. */
static int
pick_sub(int argc, char **argv, struct route_opts *o)
{
    if (argc < 2)
        return 0;
    if (strcmp(argv[1], "train") == 0 || strcmp(argv[1], "test") == 0) {
        o->sub = argv[1];
        return 1;
    }

    if (strcmp(argv[1], "config") == 0 && argc >= 3 &&
        (strcmp(argv[2], "set") == 0 || strcmp(argv[2], "show") == 0)) {
        o->sub = strcmp(argv[2], "set") == 0 ? "config set" : "config show";
        return 2;
    }

    return 0;
}

/*
 * Dispatch: argv starts at "route"; the subcommand takes one word
 * ("train", "test") or two ("config set", "config show").
 */
int
tr_cli_cmd_route(struct tr_cli *cli, int argc, char **argv)
{
    struct route_opts o = {.holdout = 0.2, .oos_label = "oos"};
    int words, rc;

    words = pick_sub(argc, argv, &o);
    if (words == 0) {
        if (argc >= 2 && strcmp(argv[argc - 1], "--help") == 0) {
            fputs(route_help, stdout);
            return TR_EXIT_OK;
        }

        if (argc < 2 || argv[1][0] == '-')
            return tr_cli_usage_error(cli, "missing subcommand (train, "
                                           "config set, config show, test)");
        return tr_cli_usage_error(cli, "unknown subcommand \"%s\"",
                                  argv[1]);
    }

    argc -= words;
    argv += words;
    rc = parse_opts(cli, argc, argv, &o);
    if (rc != TR_EXIT_OK)
        return rc;
    if (cli->want_help) {
        fputs(route_help, stdout);
        return TR_EXIT_OK;
    }

    if ((rc = check_args(cli, argc, argv, &o)) != TR_EXIT_OK ||
        (rc = tr_cli_setup(cli)) != TR_EXIT_OK)
        return rc;

    if (strcmp(o.sub, "train") == 0)
        return route_train(cli, &o);
    if (strcmp(o.sub, "test") == 0)
        return route_test(cli, &o);
    return route_config(cli, &o, strcmp(o.sub, "config set") == 0);
}
