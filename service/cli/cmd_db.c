/*
 * cmd_db.c
 *      `triage db start|stop|status|url|migrate`: the embedded PostgreSQL
 *      cluster and the schema.
 *
 * start, stop and status act on the embedded cluster under
 * <data_dir>/pg and refuse to run when database_url names an external
 * server; url and migrate work with both.  Main thread only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "db.h"

static const char db_help[] =
    "Usage: triage db start|stop|status|url|migrate [OPTIONS]\n"
    "\n"
    "  start     create (first time) and start the embedded PostgreSQL\n"
    "  stop      stop the embedded PostgreSQL\n"
    "  status    say whether it runs, its pid and socket directory\n"
    "  url       print the connection string (passwords masked)\n"
    "  migrate   apply the schema migrations this binary carries\n"
    "\n"
    "The embedded cluster lives in <data_dir>/pg; with --database-url the\n"
    "external server is used and start, stop and status do not apply.\n"
    "\n" TR_CLI_COMMON_HELP;

static int
need_embedded(struct tr_cli *cli, struct tr_db_cluster **cl)
{
    struct tr_error err = {0};

    if (cli->conf.database_url[0] != '\0')
        return tr_cli_fail(cli, "database_url is set: the database is "
                                "external and not managed by triage");
    if (tr_db_cluster_new(&cli->conf, 0, cl, &err) != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    return TR_EXIT_OK;
}

static int
db_start_stop(struct tr_cli *cli, bool start)
{
    struct tr_db_cluster *cl;
    struct tr_db_cluster_info info;
    struct tr_error err = {0};
    enum tr_err rc;
    int ex;

    ex = need_embedded(cli, &cl);
    if (ex != TR_EXIT_OK)
        return ex;
    rc = start ? tr_db_cluster_start(cl, &err) : tr_db_cluster_stop(cl, &err);
    tr_db_cluster_status(cl, &info);
    if (rc == TR_OK && start)
        printf("PostgreSQL %s (pid %ld), socket directory %s%s\n",
               tr_db_cluster_started_here(cl) ? "started" : "already running",
               info.pid, info.sock_dir,
               info.sock_in_tmp ? " (data_dir path too long for a socket)"
                                : "");
    else if (rc == TR_OK)
        printf("PostgreSQL stopped\n");
    tr_db_cluster_free(cl);
    return rc == TR_OK ? TR_EXIT_OK : tr_cli_fail(cli, "%s",
                                                  tr_error_msg(&err));
}

static int
db_status(struct tr_cli *cli)
{
    struct tr_db_cluster *cl;
    struct tr_db_cluster_info info;
    int ex;

    ex = need_embedded(cli, &cl);
    if (ex != TR_EXIT_OK)
        return ex;
    tr_db_cluster_status(cl, &info);
    tr_db_cluster_free(cl);

    printf("data directory: %s%s\n", info.data_dir,
           info.initialised ? "" : " (not created yet)");
    printf("socket directory: %s\n", info.sock_dir);
    if (info.running)
        printf("running: yes (pid %ld)\n", info.pid);
    else
        printf("running: no\n");
    return info.running ? TR_EXIT_OK : TR_EXIT_FAIL;
}

static int
db_url(struct tr_cli *cli)
{
    struct tr_db_cluster *cl;
    char buf[2048];
    int ex;

    if (cli->conf.database_url[0] != '\0') {
        tr_conf_mask_url(cli->conf.database_url, buf, sizeof(buf));
        printf("%s\n", buf);
        return TR_EXIT_OK;
    }
    ex = need_embedded(cli, &cl);
    if (ex != TR_EXIT_OK)
        return ex;
    printf("%s\n", tr_db_cluster_conninfo(cl, NULL, buf, sizeof(buf)));
    tr_db_cluster_free(cl);
    return TR_EXIT_OK;
}

static int
db_migrate(struct tr_cli *cli)
{
    struct tr_db *db;
    struct tr_error err = {0};
    enum tr_err rc;
    int n = 0;

    rc = tr_db_open(&cli->conf, 1, &db, &err);
    if (rc == TR_OK) {
        rc = tr_db_migrate(db, &n, &err);
        tr_db_close(db, false);
    }
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    printf("applied %d migration%s; schema version %d\n", n,
           n == 1 ? "" : "s", tr_db_schema_latest());
    return TR_EXIT_OK;
}

int
tr_cli_cmd_db(struct tr_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        TR_CLI_COMMON_OPTS,
        {NULL, 0, NULL, 0}
    };
    static const char *const subs[] = {"start", "stop", "status", "url",
                                       "migrate"};
    const char *sub;
    int opt, rc;

    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            fputs(db_help, stdout);
            return TR_EXIT_OK;
        }
        return tr_cli_usage_error(cli, "missing subcommand "
                                       "(start, stop, status, url, migrate)");
    }
    sub = argv[1];
    rc = -1;
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (strcmp(sub, subs[i]) == 0)
            rc = 0;
    if (rc != 0)
        return tr_cli_usage_error(cli, "unknown subcommand \"%s\"", sub);

    argc--;
    argv++;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        rc = tr_cli_common_opt(cli, opt, optarg);
        if (rc == 0)
            return tr_cli_bad_option(cli, argv);
        if (rc < 0)
            return TR_EXIT_USAGE;
    }
    if (cli->want_help) {
        fputs(db_help, stdout);
        return TR_EXIT_OK;
    }
    if (optind < argc)
        return tr_cli_usage_error(cli, "unexpected argument \"%s\"",
                                  argv[optind]);

    rc = tr_cli_setup(cli);
    if (rc != TR_EXIT_OK)
        return rc;
    if (strcmp(sub, "start") == 0 || strcmp(sub, "stop") == 0)
        return db_start_stop(cli, strcmp(sub, "start") == 0);
    if (strcmp(sub, "status") == 0)
        return db_status(cli);
    if (strcmp(sub, "url") == 0)
        return db_url(cli);
    return db_migrate(cli);
}
