/*
 * cmd_tenant.c
 *      `triage tenant add NAME [--webhook-secret S] [ZENDESK OPTIONS]`
 *      and `triage tenant list [--json]`.
 *
 * Both are operator commands: they apply pending migrations, then work
 * on an owner connection, which alone may see every tenant.  A webhook
 * secret given on the command line is never echoed; one that triage
 * generates is printed once, at creation, since there is no other way to
 * learn it.  The Zendesk connection, when given, is stored in the same
 * INSERT as the tenant, so a token that cannot be read leaves no tenant
 * half made.  Main thread only.
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
    "Usage: triage tenant add NAME [--webhook-secret SECRET]\n"
    "           [(--base-url URL | --subdomain S) (--email E\n"
    "           --api-token-file F | --oauth-token-file F)\n"
    "           [--reply-mode public|internal]] [OPTIONS]\n"
    "       triage tenant list [--json] [OPTIONS]\n"
    "\n"
    "  add NAME             create a tenant; without --webhook-secret a\n"
    "                       random secret is generated and shown once\n"
    "  list                 list tenants (id, name, creation time)\n"
    "  --webhook-secret S   the secret Zendesk signs webhooks with\n"
    "  --base-url URL       Zendesk API host, e.g. https://acme.zendesk.com\n"
    "  --subdomain S        or the account's subdomain (acme)\n"
    "  --email E            agent e-mail for API-token authentication\n"
    "  --api-token-file F   file holding the API token (\"-\": stdin)\n"
    "  --oauth-token-file F file holding an OAuth token (\"-\": stdin)\n"
    "  --reply-mode M       post drafts as public replies or internal\n"
    "                       notes (default public)\n"
    "  --json               print the list as a JSON array\n"
    "\n"
    "The Zendesk options can also be set later with triage zendesk\n"
    "configure; tokens are never printed.\n"
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
tenant_add(struct tr_cli *cli, const char *name, const char *secret,
           const struct tr_cli_zendesk *z)
{
    char generated[2 * SECRET_BYTES + 1], id[24];
    const char *params[3] = {name, secret, NULL};
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    struct tr_db_conn *c;
    struct tr_buf zs;
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

    tr_buf_init(&zs, 64 * 1024);
    ex = TR_EXIT_OK;
    if (tr_cli_zendesk_given(z)) {
        ex = tr_cli_zendesk_settings(cli, z, &zs);
        params[2] = zs.data;
    }
    if (ex == TR_EXIT_OK)
        ex = open_owner(cli, &db, &c);
    if (ex != TR_EXIT_OK) {
        tr_buf_cleanup(&zs);
        return ex;
    }
    rc = tr_db_query_value(c, "INSERT INTO tenants (name, webhook_secret, "
                              "settings) VALUES ($1, $2, CASE WHEN $3::jsonb "
                              "IS NULL THEN '{}'::jsonb ELSE "
                              "jsonb_build_object('zendesk', $3::jsonb) "
                              "END) RETURNING id",
                           3, params, id, sizeof(id), NULL, &err);
    if (zs.data != NULL)
        memset(zs.data, 0, zs.len);
    tr_buf_cleanup(&zs);
    tr_db_conn_release(c);
    tr_db_close(db, false);
    if (rc == TR_E_EXISTS)
        return tr_cli_fail(cli, "tenant \"%s\" already exists", name);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));

    printf("tenant \"%s\" added with id %s%s\n", name, id,
           params[2] != NULL ? ", with its Zendesk settings" : "");
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

/* Take one of the Zendesk connection options; false when `opt` is not. */
static bool
zendesk_opt(struct tr_cli_zendesk *z, int opt, const char *arg)
{
    switch (opt) {
    case 'b': z->base_url = arg; return true;
    case 'd': z->subdomain = arg; return true;
    case 'e': z->email = arg; return true;
    case 'k': z->token_file = arg; return true;
    case 'o': z->oauth_file = arg; return true;
    case 'r': z->reply_mode = arg; return true;
    default: return false;
    }
}

int
tr_cli_cmd_tenant(struct tr_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"webhook-secret", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"base-url", required_argument, NULL, 'b'},
        {"subdomain", required_argument, NULL, 'd'},
        {"email", required_argument, NULL, 'e'},
        {"api-token-file", required_argument, NULL, 'k'},
        {"oauth-token-file", required_argument, NULL, 'o'},
        {"reply-mode", required_argument, NULL, 'r'},
        TR_CLI_COMMON_OPTS,
        {NULL, 0, NULL, 0}
    };
    struct tr_cli_zendesk z = {0};
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
        } else if (add && zendesk_opt(&z, opt, optarg)) {
            continue;
        } else if (opt == 's' || opt == 'j' || zendesk_opt(&z, opt, optarg)) {
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
    if (tr_cli_zendesk_given(&z)) {
        rc = tr_cli_zendesk_check(cli, &z);
        if (rc != TR_EXIT_OK)
            return rc;
    }

    rc = tr_cli_setup(cli);
    if (rc != TR_EXIT_OK)
        return rc;
    return add ? tenant_add(cli, argv[optind], secret, &z)
               : tenant_list(cli, json);
}
