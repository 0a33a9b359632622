/*
 * cmd_config.c
 *      `triage config show`: the effective configuration, secrets masked.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char config_help[] =
    "Usage: triage config show [--json] [OPTIONS]\n"
    "\n"
    "Print every setting with its effective value and where it came from\n"
    "(default, file, env or option).  Passwords are masked.\n"
    "\n"
    "  --json               print one JSON object\n"
    "\n" TR_CLI_COMMON_HELP;

int
tr_cli_cmd_config(struct tr_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        TR_CLI_COMMON_OPTS,
        {NULL, 0, NULL, 0}
    };
    bool json = false;
    int opt, rc;

    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            fputs(config_help, stdout);
            return TR_EXIT_OK;
        }
        return tr_cli_usage_error(cli, "missing subcommand (show)");
    }
    if (strcmp(argv[1], "show") != 0)
        return tr_cli_usage_error(cli, "unknown subcommand \"%s\"", argv[1]);

    argc--;
    argv++;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 'j')
            json = true;
        else if (tr_cli_common_opt(cli, opt, optarg) == 0)
            return tr_cli_bad_option(cli, argv);
    }
    if (cli->want_help) {
        fputs(config_help, stdout);
        return TR_EXIT_OK;
    }
    if (optind < argc)
        return tr_cli_usage_error(cli, "unexpected argument \"%s\"",
                                  argv[optind]);

    rc = tr_cli_setup(cli);
    if (rc != TR_EXIT_OK)
        return rc;
    if (cli->conf.file_path[0] != '\0' && !json)
        printf("# configuration file: %s\n", cli->conf.file_path);
    tr_conf_show(&cli->conf, stdout, json);
    return TR_EXIT_OK;
}
