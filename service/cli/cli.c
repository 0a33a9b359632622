/*
 * cli.c
 *      Common options, configuration set-up and error reporting of the
 *      subcommands.
 *
 * Every command funnels through tr_cli_setup() so that configuration
 * precedence and logging start are the same everywhere.  Main thread
 * only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

void
tr_cli_init(struct tr_cli *cli, const char *cmd)
{
    memset(cli, 0, sizeof(*cli));
    cli->cmd = cmd;
    tr_conf_defaults(&cli->conf);

    /*
     * Each command runs getopt_long over its own argv; zero makes glibc
     * start over, and the commands print their own messages.
     */
    optind = 0;
    opterr = 0;
}

void
tr_cli_override(struct tr_cli *cli, const char *key, const char *value)
{
    /* The option table is fixed and small; overflow is a programming bug. */
    if (cli->n_overrides >= TR_CLI_MAX_OVERRIDES) {
        fprintf(stderr, "triage %s: too many options\n", cli->cmd);
        exit(TR_EXIT_USAGE);
    }
    cli->overrides[cli->n_overrides].key = key;
    cli->overrides[cli->n_overrides].value = value;
    cli->n_overrides++;
}

int
tr_cli_common_opt(struct tr_cli *cli, int opt, const char *arg)
{
    switch (opt) {
    case TR_OPT_CONFIG:
        cli->config_path = arg;
        return 1;
    case TR_OPT_DATA_DIR:
        tr_cli_override(cli, "data_dir", arg);
        return 1;
    case TR_OPT_DATABASE_URL:
        tr_cli_override(cli, "database_url", arg);
        return 1;
    case TR_OPT_LOG_LEVEL:
        tr_cli_override(cli, "log_level", arg);
        return 1;
    case TR_OPT_LOG_FORMAT:
        tr_cli_override(cli, "log_format", arg);
        return 1;
    case TR_OPT_HELP:
        cli->want_help = true;
        return 1;
    default:
        return 0;
    }
}

int
tr_cli_setup(struct tr_cli *cli)
{
    struct tr_error err;
    enum tr_log_level level;
    enum tr_log_format format;
    const char *path = cli->config_path;

    tr_error_clear(&err);
    tr_conf_defaults(&cli->conf);
    if (path == NULL)
        path = getenv("TRIAGE_CONFIG");
    if (path != NULL && path[0] != '\0' &&
        tr_conf_load_file(&cli->conf, path, &err) != TR_OK)
        return tr_cli_fail(cli, "%s", err.msg);
    if (tr_conf_load_env(&cli->conf, &err) != TR_OK)
        return tr_cli_fail(cli, "%s", err.msg);

    for (int i = 0; i < cli->n_overrides; i++) {
        if (tr_conf_set(&cli->conf, cli->overrides[i].key,
                        cli->overrides[i].value, TR_CONF_CLI, &err) != TR_OK)
            return tr_cli_usage_error(cli, "%s", err.msg);
    }
    if (tr_conf_validate(&cli->conf, &err) != TR_OK)
        return tr_cli_fail(cli, "%s", err.msg);

    /* Both were checked against their choices by the configuration. */
    tr_log_level_parse(cli->conf.log_level, &level);
    tr_log_format_parse(cli->conf.log_format, &format);
    tr_log_init(level, format, 2);
    return TR_EXIT_OK;
}

int
tr_cli_usage_error(const struct tr_cli *cli, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "triage %s: ", cli->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'triage %s --help' for more information.\n",
            cli->cmd);
    return TR_EXIT_USAGE;
}

int
tr_cli_bad_option(const struct tr_cli *cli, char **argv)
{
    const char *opt = argv[optind - 1];

    if (optopt != 0 && optopt < 0x1000 && opt[0] == '-' && opt[1] != '-')
        return tr_cli_usage_error(cli, "invalid option -- '%c'", optopt);
    return tr_cli_usage_error(cli, "unrecognized option or missing "
                                   "argument '%s'", opt);
}

int
tr_cli_fail(const struct tr_cli *cli, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "triage %s: ", cli->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return TR_EXIT_FAIL;
}
