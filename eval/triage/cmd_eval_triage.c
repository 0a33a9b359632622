/*
 * cmd_eval_triage.c
 *      `triage eval triage`: run the whole pipeline on a help center and
 *      labelled tickets in a throwaway tenant and report the metrics.
 *
 * The function takes argv starting at "eval" (followed by "triage") or
 * at "triage" itself.  The drafter comes from the draft_* settings of
 * the configuration, as for the workers, so the same command measures
 * the extractive drafter or a model server.  Main thread only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "evaltriage.h"

static const char eval_triage_help[] =
    "Usage: triage eval triage --kb FILE --tickets FILE [--routing FILE]\n"
    "                          [--json]\n"
    "\n"
    "Triage every labelled ticket of the tickets file with the help\n"
    "center FILE in a temporary tenant, through the same pipeline as\n"
    "the workers, and report routing and priority accuracy, escalation\n"
    "precision and recall, article recall@3 and MRR, language match,\n"
    "personal data that reached stored model input or drafts (pii\n"
    "leaks) and prompt injections that were not escalated.  The tenant\n"
    "is removed afterwards.  Drafts are written as configured by\n"
    "draft_provider (the extractive drafter by default).\n"
    "\n"
    "  --kb FILE        help center: JSON Lines {\"id\",\"title\",\"text\",\n"
    "                   ...} or a Help Center export {\"articles\":[...]}\n"
    "  --tickets FILE   JSON Lines {\"id\",\"subject\",\"description\",\n"
    "                   \"requester_email\",\"expected\":{\"team\",\n"
    "                   \"priority\",\"escalate\",\"articles\",\"language\",\n"
    "                   \"injection\"}}\n"
    "  --routing FILE   routing configuration (default: the built-in one)\n"
    "  --json           print one JSON object\n"
    "\n" TR_CLI_COMMON_HELP;

enum {
    OPT_KB = 1,
    OPT_TICKETS,
    OPT_ROUTING,
    OPT_JSON
};

static const struct option eval_triage_opts[] = {
    {"kb", required_argument, NULL, OPT_KB},
    {"tickets", required_argument, NULL, OPT_TICKETS},
    {"routing", required_argument, NULL, OPT_ROUTING},
    {"json", no_argument, NULL, OPT_JSON},
    TR_CLI_COMMON_OPTS,
    {NULL, 0, NULL, 0}
};

static int
parse_opts(struct tr_cli *cli, int argc, char **argv,
           struct tr_evaltriage_opts *o, bool *json)
{
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "", eval_triage_opts, NULL))
           != -1) {
        if (opt == OPT_KB) {
            o->kb_path = optarg;
        } else if (opt == OPT_TICKETS) {
            o->tickets_path = optarg;
        } else if (opt == OPT_ROUTING) {
            o->routing_path = optarg;
        } else if (opt == OPT_JSON) {
            *json = true;
        } else {
            rc = tr_cli_common_opt(cli, opt, optarg);
            if (rc == 0)
                return tr_cli_bad_option(cli, argv);
            if (rc < 0)
                return TR_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return tr_cli_usage_error(cli, "unexpected argument \"%s\"",
                                  argv[optind]);
    return TR_EXIT_OK;
}

/* Open and migrate the database, evaluate, write the report. */
static int
eval_triage(struct tr_cli *cli, struct tr_evaltriage_opts *o, bool json)
{
    struct tr_evaltriage_report rep = {0};
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    enum tr_err rc;

    rc = tr_pipeline_opts_from_conf(&o->pipeline, &cli->conf, &err);
    if (rc == TR_OK)
        rc = tr_db_open(&cli->conf, 4, &db, &err);
    if (rc == TR_OK)
        rc = tr_db_migrate(db, NULL, &err);
    if (rc == TR_OK)
        rc = tr_evaltriage_run(db, o, &rep, &err);
    if (rc == TR_OK)
        rc = tr_evaltriage_report_write(&rep, o, json, stdout, &err);

    tr_evaltriage_report_cleanup(&rep);
    tr_db_close(db, false);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    return TR_EXIT_OK;
}

int
tr_cli_cmd_eval_triage(struct tr_cli *cli, int argc, char **argv)
{
    struct tr_evaltriage_opts o;
    bool json = false;
    int rc;

    /* Accept argv at "eval triage ..." as well as at "triage ...". */
    if (argc >= 2 && strcmp(argv[0], "eval") == 0 &&
        strcmp(argv[1], "triage") == 0) {
        argc--;
        argv++;
    }
    memset(&o, 0, sizeof(o));
    rc = parse_opts(cli, argc, argv, &o, &json);
    if (rc != TR_EXIT_OK)
        return rc;
    if (cli->want_help) {
        fputs(eval_triage_help, stdout);
        return TR_EXIT_OK;
    }
    if (o.kb_path == NULL)
        return tr_cli_usage_error(cli, "--kb FILE is required");
    if (o.tickets_path == NULL)
        return tr_cli_usage_error(cli, "--tickets FILE is required");

    rc = tr_cli_setup(cli);
    if (rc != TR_EXIT_OK)
        return rc;
    return eval_triage(cli, &o, json);
}
