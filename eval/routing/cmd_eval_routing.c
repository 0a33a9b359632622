/*
 * cmd_eval_routing.c
 *      `triage eval routing`: train the router on a dataset directory,
 *      fit its threshold on val and report test metrics.
 *
 * The function takes argv starting at "eval" (followed by "routing") or
 * at "routing" itself, so it can be registered either as the whole
 * `eval` command or as its `routing` subcommand.  Main thread only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "evalroute.h"

static const char eval_routing_help[] =
    "Usage: triage eval routing --dataset DIR [--oos-label LABEL] [--json]\n"
    "\n"
    "Train the routing classifier on DIR/train.jsonl, fit its temperature\n"
    "and out-of-scope threshold on DIR/val.jsonl (when present) and report\n"
    "accuracy, in-scope accuracy, out-of-scope recall and precision,\n"
    "macro-F1 and a per-label table on DIR/test.jsonl.\n"
    "\n"
    "  --dataset DIR        directory with train.jsonl, test.jsonl and an\n"
    "                       optional val.jsonl\n"
    "  --oos-label LABEL    label of out-of-scope rows (default oos)\n"
    "  --no-oos             the data has no out-of-scope label\n"
    "  --oos-mode MODE      threshold (in-scope rows only), class (learn\n"
    "                       out-of-scope as a class too) or auto (both,\n"
    "                       keep the better on val); default class\n"
    "  --confidence KIND    what the threshold is compared with: prob (the\n"
    "                       top probability) or margin (top minus second\n"
    "                       probability); default prob\n"
    "  --holdout FRAC       take val from every 1/FRAC-th train row\n"
    "  --on-val             score val instead of test (for tuning)\n"
    "  --threshold P        use this threshold instead of fitting one\n"
    "  --max-drop F         in-scope accuracy (fraction) the fitted\n"
    "                       threshold may cost on val (default 0.01)\n"
    "  --epochs N, --avg-epochs N, --eta X, --l2 X, --seed N,\n"
    "  --char-min N, --char-max N, --word-ngrams N, --min-df N,\n"
    "  --char-weight X, --unseen-weight X, --oos-weight X, --dropout X,\n"
    "  --runs N\n"
    "                       training settings (see docs/routing.md)\n"
    "  --json               print one JSON object\n"
    "\n" TR_CLI_COMMON_HELP;

enum {
    OPT_DATASET = 1, OPT_OOS_LABEL, OPT_NO_OOS, OPT_OOS_MODE, OPT_HOLDOUT,
    OPT_ON_VAL, OPT_THRESHOLD, OPT_EPOCHS, OPT_AVG_EPOCHS, OPT_ETA, OPT_L2,
    OPT_SEED, OPT_CHAR_MIN, OPT_CHAR_MAX, OPT_WORD_NGRAMS, OPT_MIN_DF,
    OPT_CHAR_WEIGHT, OPT_UNSEEN_WEIGHT, OPT_OOS_WEIGHT, OPT_DROPOUT,
    OPT_RUNS, OPT_MAX_DROP,
    OPT_JSON, OPT_CONFIDENCE
};

static const struct option eval_routing_opts[] = {
    {"dataset", required_argument, NULL, OPT_DATASET},
    {"oos-label", required_argument, NULL, OPT_OOS_LABEL},
    {"no-oos", no_argument, NULL, OPT_NO_OOS},
    {"oos-mode", required_argument, NULL, OPT_OOS_MODE},
    {"holdout", required_argument, NULL, OPT_HOLDOUT},
    {"on-val", no_argument, NULL, OPT_ON_VAL},
    {"threshold", required_argument, NULL, OPT_THRESHOLD},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"avg-epochs", required_argument, NULL, OPT_AVG_EPOCHS},
    {"eta", required_argument, NULL, OPT_ETA},
    {"l2", required_argument, NULL, OPT_L2},
    {"seed", required_argument, NULL, OPT_SEED},
    {"char-min", required_argument, NULL, OPT_CHAR_MIN},
    {"char-max", required_argument, NULL, OPT_CHAR_MAX},
    {"word-ngrams", required_argument, NULL, OPT_WORD_NGRAMS},
    {"min-df", required_argument, NULL, OPT_MIN_DF},
    {"char-weight", required_argument, NULL, OPT_CHAR_WEIGHT},
    {"unseen-weight", required_argument, NULL, OPT_UNSEEN_WEIGHT},
    {"oos-weight", required_argument, NULL, OPT_OOS_WEIGHT},
    {"dropout", required_argument, NULL, OPT_DROPOUT},
    {"runs", required_argument, NULL, OPT_RUNS},
    {"max-drop", required_argument, NULL, OPT_MAX_DROP},
    {"json", no_argument, NULL, OPT_JSON},
    {"confidence", required_argument, NULL, OPT_CONFIDENCE},
    TR_CLI_COMMON_OPTS,
    {NULL, 0, NULL, 0}
};

static bool
parse_num(const char *s, double *out)
{
    char *end;

    *out = strtod(s, &end);
    return end != s && *end == '\0';
}

static bool
parse_mode(const char *s, enum tr_evalroute_oos_mode *mode)
{
    if (strcmp(s, "threshold") == 0)
        *mode = TR_EVALROUTE_OOS_THRESHOLD;
    else if (strcmp(s, "class") == 0)
        *mode = TR_EVALROUTE_OOS_CLASS;
    else if (strcmp(s, "auto") == 0)
        *mode = TR_EVALROUTE_OOS_AUTO;
    else
        return false;
    return true;
}

static bool
parse_conf(const char *s, enum tr_route_conf *conf)
{
    if (strcmp(s, "prob") == 0)
        *conf = TR_ROUTE_CONF_PROB;
    else if (strcmp(s, "margin") == 0)
        *conf = TR_ROUTE_CONF_MARGIN;
    else
        return false;
    return true;
}

/*
 * Apply one numeric training option.  Returns false when `arg` is not a
 * number; ranges are checked by the trainer, which names the setting.
 */
static bool
apply_number(struct tr_evalroute_opts *o, int opt, const char *arg)
{
    struct tr_route_params *p = &o->params;
    double v;

    if (!parse_num(arg, &v))
        return false;
    switch (opt) {
    case OPT_HOLDOUT: o->holdout = v; break;
    case OPT_THRESHOLD: o->threshold = v; break;
    case OPT_EPOCHS: p->epochs = (int)v; break;
    case OPT_AVG_EPOCHS: p->avg_epochs = (int)v; break;
    case OPT_ETA: p->eta = v; break;
    case OPT_L2: p->l2 = v; break;
    case OPT_SEED: p->seed = (uint32_t)v; break;
    case OPT_CHAR_MIN: p->char_min = (int)v; break;
    case OPT_CHAR_MAX: p->char_max = (int)v; break;
    case OPT_WORD_NGRAMS: p->word_ngrams = (int)v; break;
    case OPT_MIN_DF: p->min_df = (int)v; break;
    case OPT_CHAR_WEIGHT: p->char_weight = v; break;
    case OPT_UNSEEN_WEIGHT: p->unseen_weight = v; break;
    case OPT_OOS_WEIGHT: p->oos_weight = v; break;
    case OPT_DROPOUT: p->dropout = v; break;
    case OPT_RUNS: p->runs = (int)v; break;
    case OPT_MAX_DROP: o->max_drop = v; break;
    default: return false;
    }
    return true;
}

static int
parse_opts(struct tr_cli *cli, int argc, char **argv,
           struct tr_evalroute_opts *o, bool *json)
{
    int opt;

    while ((opt = getopt_long(argc, argv, "", eval_routing_opts, NULL))
           != -1) {
        if (opt == OPT_DATASET)
            o->dataset_dir = optarg;
        else if (opt == OPT_OOS_LABEL)
            o->oos_label = optarg;
        else if (opt == OPT_NO_OOS)
            o->oos_label = NULL;
        else if (opt == OPT_ON_VAL)
            o->on_val = true;
        else if (opt == OPT_JSON)
            *json = true;
        else if (opt == OPT_OOS_MODE) {
            if (!parse_mode(optarg, &o->oos_mode))
                return tr_cli_usage_error(cli, "unknown --oos-mode \"%s\"",
                                          optarg);
        } else if (opt == OPT_CONFIDENCE) {
            if (!parse_conf(optarg, &o->params.confidence))
                return tr_cli_usage_error(cli,
                                          "unknown --confidence \"%s\"",
                                          optarg);
        } else if (opt >= OPT_HOLDOUT && opt <= OPT_MAX_DROP) {
            if (!apply_number(o, opt, optarg))
                return tr_cli_usage_error(cli, "\"%s\" is not a number",
                                          optarg);
        } else if (tr_cli_common_opt(cli, opt, optarg) == 0)
            return tr_cli_bad_option(cli, argv);
    }
    if (optind < argc)
        return tr_cli_usage_error(cli, "unexpected argument \"%s\"",
                                  argv[optind]);
    return TR_EXIT_OK;
}

int
tr_cli_cmd_eval_routing(struct tr_cli *cli, int argc, char **argv)
{
    struct tr_evalroute_opts o;
    struct tr_evalroute_report rep;
    struct tr_error err = {0};
    bool json = false;
    int rc;

    /* Accept argv at "eval routing ..." as well as at "routing ...". */
    if (argc >= 2 && strcmp(argv[1], "routing") == 0) {
        argc--;
        argv++;
    }
    tr_evalroute_opts_default(&o);
    rc = parse_opts(cli, argc, argv, &o, &json);
    if (rc != TR_EXIT_OK)
        return rc;
    if (cli->want_help) {
        fputs(eval_routing_help, stdout);
        return TR_EXIT_OK;
    }
    if (o.dataset_dir == NULL)
        return tr_cli_usage_error(cli, "--dataset DIR is required");
    rc = tr_cli_setup(cli);
    if (rc != TR_EXIT_OK)
        return rc;

    if (tr_evalroute_run(&o, &rep, &err) != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    if (tr_evalroute_report_write(&rep, o.dataset_dir, json, stdout, &err)
        != TR_OK) {
        tr_evalroute_report_cleanup(&rep);
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    }
    tr_evalroute_report_cleanup(&rep);
    return TR_EXIT_OK;
}
