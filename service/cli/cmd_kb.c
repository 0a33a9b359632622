/*
 * cmd_kb.c
 *      `triage kb import --tenant T PATH [--format F]` and
 *      `triage kb rollback --tenant T`.
 *
 * Both apply pending migrations, find the tenant by name and call the
 * knowledge-base library; an import is one transaction, so a malformed
 * file stores nothing and the message names the file and the line or
 * article.  Main thread only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "kb.h"

static const char kb_help[] =
    "Usage: triage kb import --tenant NAME FILE_OR_DIR "
    "[--format zendesk|jsonl|dir]\n"
    "       triage kb rollback --tenant NAME\n"
    "\n"
    "  import      store articles from a Help Center export (JSON), a JSON\n"
    "              Lines file ({\"id\",\"title\",\"text\"}) or a folder of\n"
    "              Markdown and HTML files; all or nothing\n"
    "  rollback    make the previous ready index version live again\n"
    "  --tenant NAME   the tenant (required)\n"
    "  --format F      zendesk, jsonl or dir (guessed when absent)\n"
    "\n" TR_CLI_COMMON_HELP;

/* Open the database, apply migrations and find the tenant. */
static int
open_tenant(struct tr_cli *cli, const char *name, struct tr_db **db,
            int64_t *tenant_id)
{
    struct tr_error err = {0};
    enum tr_err rc;

    rc = tr_db_open(&cli->conf, 4, db, &err);
    if (rc == TR_OK)
        rc = tr_db_migrate(*db, NULL, &err);
    if (rc == TR_OK)
        rc = tr_kb_tenant_find(*db, name, tenant_id, &err);
    if (rc != TR_OK) {
        tr_db_close(*db, false);
        *db = NULL;
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    }
    return TR_EXIT_OK;
}

static int
kb_import(struct tr_cli *cli, const char *tenant, const char *path,
          enum tr_kb_source src)
{
    struct tr_kb_import_stats st;
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    int64_t tid;
    enum tr_err rc;
    int ex;

    ex = open_tenant(cli, tenant, &db, &tid);
    if (ex != TR_EXIT_OK)
        return ex;
    rc = tr_kb_import_path(db, tid, path, src, &st, &err);
    tr_db_close(db, false);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "import of \"%s\" failed, nothing stored: "
                           "%s", path, tr_error_msg(&err));
    printf("imported into tenant \"%s\": %zu added, %zu updated, "
           "%zu unchanged (%zu drafts, not indexed)\n", tenant, st.n_added,
           st.n_updated, st.n_unchanged, st.n_drafts);
    if (st.n_added + st.n_updated > 0)
        printf("run `triage reindex --tenant %s` to search them\n", tenant);
    return TR_EXIT_OK;
}

static int
kb_rollback(struct tr_cli *cli, const char *tenant)
{
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    int64_t tid, vid;
    enum tr_err rc;
    int ex;

    ex = open_tenant(cli, tenant, &db, &tid);
    if (ex != TR_EXIT_OK)
        return ex;
    rc = tr_kb_rollback(db, tid, &vid, &err);
    tr_db_close(db, false);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    printf("tenant \"%s\": index version %lld is live again\n", tenant,
           (long long) vid);
    return TR_EXIT_OK;
}

/* The source format named by --format; -1 when unknown. */
static int
parse_format(const char *s)
{
    if (strcmp(s, "zendesk") == 0)
        return TR_KB_SOURCE_ZENDESK;
    if (strcmp(s, "jsonl") == 0)
        return TR_KB_SOURCE_JSONL;
    if (strcmp(s, "dir") == 0)
        return TR_KB_SOURCE_DIR;
    return -1;
}

int
tr_cli_cmd_kb(struct tr_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"tenant", required_argument, NULL, 't'},
        {"format", required_argument, NULL, 'f'},
        TR_CLI_COMMON_OPTS,
        {NULL, 0, NULL, 0}
    };
    const char *tenant = NULL, *sub;
    int src = TR_KB_SOURCE_GUESS, opt, rc;
    bool import;

    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            fputs(kb_help, stdout);
            return TR_EXIT_OK;
        }
        return tr_cli_usage_error(cli, "missing subcommand (import, "
                                       "rollback)");
    }
    sub = argv[1];
    import = strcmp(sub, "import") == 0;
    if (!import && strcmp(sub, "rollback") != 0)
        return tr_cli_usage_error(cli, "unknown subcommand \"%s\"", sub);

    argc--;
    argv++;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 't') {
            tenant = optarg;
        } else if (opt == 'f' && import) {
            src = parse_format(optarg);
            if (src < 0)
                return tr_cli_usage_error(cli, "unknown format \"%s\" "
                                          "(zendesk, jsonl, dir)", optarg);
        } else {
            rc = opt == 'f' ? 0 : tr_cli_common_opt(cli, opt, optarg);
            if (rc == 0)
                return tr_cli_bad_option(cli, argv);
            if (rc < 0)
                return TR_EXIT_USAGE;
        }
    }
    if (cli->want_help) {
        fputs(kb_help, stdout);
        return TR_EXIT_OK;
    }
    if (tenant == NULL)
        return tr_cli_usage_error(cli, "--tenant is required");
    if (import && optind + 1 != argc)
        return tr_cli_usage_error(cli, "kb import takes one FILE_OR_DIR");
    if (!import && optind < argc)
        return tr_cli_usage_error(cli, "unexpected argument \"%s\"",
                                  argv[optind]);

    rc = tr_cli_setup(cli);
    if (rc != TR_EXIT_OK)
        return rc;
    return import ? kb_import(cli, tenant, argv[optind],
                              (enum tr_kb_source) src)
                  : kb_rollback(cli, tenant);
}
