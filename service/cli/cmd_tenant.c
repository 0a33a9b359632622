/*
 * cmd_tenant.c
 *      `triage tenant add NAME [--webhook-secret S]` and
 *      `triage tenant list [--json]`.
 *
 * Both are operator commands: they apply pending migrations, then work
 * on an owner connection, which alone may see every tenant.  A webhook
 * secret given on the command line is never echoed; one that triage
 * generates is printed once, at creation, since there is no other way to
 * learn it.  Main thread only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "cli.h"
#include "db.h"
#include "mem.h"

#define SECRET_BYTES 32

static const char tenant_help[] =
    "Usage: triage tenant add NAME [--webhook-secret SECRET] [OPTIONS]\n"
    "       triage tenant list [--json] [OPTIONS]\n"
    "\n"
    "  add NAME             create a tenant; without --webhook-secret a\n"
    "                       random secret is generated and shown once\n"
    "  list                 list tenants (id, name, creation time)\n"
    "  --webhook-secret S   the secret Zendesk signs webhooks with\n"
    "  --json               print the list as a JSON array\n"
    "\n" TR_CLI_COMMON_HELP;

/* 32 random bytes as 64 hex digits. */
static int
make_secret(char *out, size_t out_len)
{
    unsigned char raw[SECRET_BYTES];

    if (out_len < 2 * SECRET_BYTES + 1 ||
        getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw))
        return -1;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

/* Open the database with the schema current and an owner connection. */
static int
open_owner(struct tr_cli *cli, struct tr_db **db, struct tr_db_conn **c)
{
    struct tr_error err = {0};
    enum tr_err rc;

    rc = tr_db_open(&cli->conf, 1, db, &err);
    if (rc == TR_OK)
        rc = tr_db_migrate(*db, NULL, &err);
    if (rc == TR_OK)
        rc = tr_db_conn_owner(*db, c, &err);
    if (rc != TR_OK) {
        tr_db_close(*db, false);
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    }
    return TR_EXIT_OK;
}

static int
tenant_add(struct tr_cli *cli, const char *name, const char *secret)
{
    char generated[2 * SECRET_BYTES + 1], id[24];
    const char *params[2] = {name, secret};
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    struct tr_db_conn *c;
    enum tr_err rc;
    int ex;

    if (name[0] == '\0' || strlen(name) > 200)
        return tr_cli_usage_error(cli, "tenant name must have 1 to 200 "
                                       "characters");
    if (secret == NULL) {
        if (make_secret(generated, sizeof(generated)) != 0)
            return tr_cli_fail(cli, "could not generate a secret");
        params[1] = generated;
    } else if (strlen(secret) < 16) {
        return tr_cli_usage_error(cli, "webhook secret must have at least "
                                       "16 characters");
    }

    ex = open_owner(cli, &db, &c);
    if (ex != TR_EXIT_OK)
        return ex;
    rc = tr_db_query_value(c, "INSERT INTO tenants (name, webhook_secret) "
                              "VALUES ($1, $2) RETURNING id",
                           2, params, id, sizeof(id), NULL, &err);
    tr_db_conn_release(c);
    tr_db_close(db, false);
    if (rc == TR_E_EXISTS)
        return tr_cli_fail(cli, "tenant \"%s\" already exists", name);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));

    printf("tenant \"%s\" added with id %s\n", name, id);
    if (secret == NULL)
        printf("generated webhook secret (shown only now, keep it): %s\n",
               generated);
    return TR_EXIT_OK;
}

static int
tenant_list(struct tr_cli *cli, bool json)
{
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    struct tr_db_conn *c;
    struct tr_db_res *res = NULL;
    struct tr_buf out;
    enum tr_err rc;
    int ex;

    ex = open_owner(cli, &db, &c);
    if (ex != TR_EXIT_OK)
        return ex;
    rc = tr_db_exec(c, "SELECT id, name, to_char(created_at AT TIME ZONE "
                       "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                       "FROM tenants ORDER BY id", 0, NULL, &res, &err);
    tr_db_conn_release(c);
    if (rc != TR_OK) {
        tr_db_close(db, false);
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    }

    tr_buf_init(&out, 64 * 1024 * 1024);
    if (json)
        tr_buf_puts(&out, "[");
    else
        tr_buf_printf(&out, "%-8s %-32s %s\n", "ID", "NAME", "CREATED");
    for (int i = 0; i < tr_db_res_n_rows(res); i++) {
        const char *tid = tr_db_res_value(res, i, 0);
        const char *name = tr_db_res_value(res, i, 1);
        const char *at = tr_db_res_value(res, i, 2);

        if (json) {
            tr_buf_printf(&out, "%s{\"id\":%s,\"name\":", i > 0 ? "," : "",
                          tid);
            tr_buf_json_str(&out, name);
            tr_buf_printf(&out, ",\"created_at\":\"%s\"}", at);
        } else {
            tr_buf_printf(&out, "%-8s %-32s %s\n", tid, name, at);
        }
    }
    if (json)
        tr_buf_puts(&out, "]\n");
    fwrite(out.data, 1, out.len, stdout);
    tr_buf_cleanup(&out);
    tr_db_res_free(res);
    tr_db_close(db, false);
    return TR_EXIT_OK;
}

int
tr_cli_cmd_tenant(struct tr_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"webhook-secret", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        TR_CLI_COMMON_OPTS,
        {NULL, 0, NULL, 0}
    };
    const char *sub, *secret = NULL;
    bool json = false, add;
    int opt, rc;

    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            fputs(tenant_help, stdout);
            return TR_EXIT_OK;
        }
        return tr_cli_usage_error(cli, "missing subcommand (add, list)");
    }
    sub = argv[1];
    add = strcmp(sub, "add") == 0;
    if (!add && strcmp(sub, "list") != 0)
        return tr_cli_usage_error(cli, "unknown subcommand \"%s\"", sub);

    argc--;
    argv++;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 's' && add) {
            secret = optarg;
        } else if (opt == 'j' && !add) {
            json = true;
        } else if (opt == 's' || opt == 'j') {
            return tr_cli_usage_error(cli, "option not valid for \"%s\"",
                                      sub);
        } else {
            rc = tr_cli_common_opt(cli, opt, optarg);
            if (rc == 0)
                return tr_cli_bad_option(cli, argv);
            if (rc < 0)
                return TR_EXIT_USAGE;
        }
    }
    if (cli->want_help) {
        fputs(tenant_help, stdout);
        return TR_EXIT_OK;
    }
    if (add && optind + 1 != argc)
        return tr_cli_usage_error(cli, "tenant add takes one NAME");
    if (!add && optind < argc)
        return tr_cli_usage_error(cli, "unexpected argument \"%s\"",
                                  argv[optind]);

    rc = tr_cli_setup(cli);
    if (rc != TR_EXIT_OK)
        return rc;
    return add ? tenant_add(cli, argv[optind], secret)
               : tenant_list(cli, json);
}
