/*
 * main.c
 *      The triage command: the composition root that dispatches to the
 *      subcommands.
 *
 * Every subcommand lives in service/cli/ and gets argv starting at its
 * own name.  This file knows the list of commands and nothing else; the
 * commands build the pieces they need.  Main thread only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "httpc.h"
#include "ledger.h"
#include "policy.h"

struct command {
    const char *name;
    tr_cli_cmd_fn *fn;
    const char *summary;
};

static int cmd_version(struct tr_cli *cli, int argc, char **argv);

static const struct command commands[] = {
    {"serve", tr_cli_cmd_serve, "serve the HTTP API and run job workers"},
    {"worker", tr_cli_cmd_worker, "run job workers only"},
    {"db", tr_cli_cmd_db, "manage the embedded PostgreSQL and the schema"},
    {"tenant", tr_cli_cmd_tenant, "add and list tenants"},
    {"zendesk", tr_cli_cmd_zendesk, "configure Zendesk and pull tickets"},
    {"kb", tr_cli_cmd_kb, "import knowledge-base articles, roll back"},
    {"reindex", tr_cli_cmd_reindex, "build a new knowledge-base index"},
    {"search", tr_cli_cmd_search, "search a tenant's knowledge base"},
    {"route", tr_cli_cmd_route, "train the router, set and test routing"},
    {"ledger", tr_cli_cmd_ledger, "verify the decision ledger, replay a draft"},
    {"eval", tr_cli_cmd_eval, "measure retrieval and routing offline"},
    {"config", tr_cli_cmd_config, "show the effective configuration"},
    {"version", cmd_version, "print the version"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *out)
{
    fputs("Usage: triage COMMAND [OPTIONS]\n"
          "\n"
          "Self-hosted support triage: Zendesk tickets in, routed and\n"
          "answered with cited drafts that staff approve.\n"
          "\n"
          "Commands:\n", out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\nRun 'triage COMMAND --help' for the options of a command.\n",
          out);
}

static int
cmd_version(struct tr_cli *cli, int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        puts("Usage: triage version\n\nPrint the version and build.");
        return TR_EXIT_OK;
    }
    if (argc > 1)
        return tr_cli_usage_error(cli, "unexpected argument \"%s\"", argv[1]);
    printf("triage %s (%s)\n", TR_VERSION, TR_GIT_REV);
    return TR_EXIT_OK;
}

int
main(int argc, char **argv)
{
    struct tr_cli cli;

    if (argc < 2) {
        usage(stderr);
        return TR_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return TR_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("triage %s (%s)\n", TR_VERSION, TR_GIT_REV);
        return TR_EXIT_OK;
    }

    /* libcurl's global set-up must run before any thread starts. */
    if (tr_httpc_global_init(NULL) != TR_OK) {
        fputs("triage: could not initialise the HTTP client library\n",
              stderr);
        return TR_EXIT_FAIL;
    }

    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            tr_cli_init(&cli, commands[i].name);
            return commands[i].fn(&cli, argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "triage: unknown command \"%s\"\n"
                    "Run 'triage --help' for the list of commands.\n",
            argv[1]);
    return TR_EXIT_USAGE;
}
