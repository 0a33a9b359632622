/*
 * cmd_zendesk.c
 *      `triage zendesk configure|show|pull|sync-kb`: a tenant's Zendesk
 *      settings, the incremental pull by hand and the Help Center sync
 *      into the knowledge base.
 *
 * Settings live in tenants.settings under "zendesk": base_url or
 * subdomain, email with api_token or oauth_token, and reply_mode.
 * Tokens are read from files (or stdin for "-"), never from the command
 * line, and are never printed: `show` masks them.  configure and show
 * work on an owner connection, which alone sees every tenant by name;
 * pull then runs as the application role inside the tenant's scope.
 * Main thread only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "kb.h"
#include "mem.h"
#include "zendesk.h"

#define TOKEN_MAX 4096


static const char zendesk_help[] =
    "Usage: triage zendesk configure --tenant T (--base-url URL |\n"
    "           --subdomain S) (--email E --api-token-file F |\n"
    "           --oauth-token-file F) [--reply-mode public|internal]\n"
    "       triage zendesk show --tenant T\n"
    "       triage zendesk pull --tenant T [--since TIME]\n"
    "       triage zendesk sync-kb --tenant T [--locale L] [--reindex]\n"
    "\n"
    "  configure            store the tenant's Zendesk connection\n"
    "  show                 print it, tokens masked\n"
    "  pull                 run the incremental ticket export now, from\n"
    "                       the stored cursor or from --since\n"
    "  sync-kb              copy the Help Center articles into the\n"
    "                       knowledge base (all or nothing)\n"
    "  --tenant T           the tenant's name\n"
    "  --base-url URL       API host, e.g. https://acme.zendesk.com\n"
    "  --subdomain S        the account's subdomain (acme)\n"
    "  --email E            agent e-mail for API-token authentication\n"
    "  --api-token-file F   file holding the API token (\"-\": stdin)\n"
    "  --oauth-token-file F file holding an OAuth token (\"-\": stdin)\n"
    "  --reply-mode M       post drafts as public replies or internal\n"
    "                       notes (default public)\n"
    "  --since TIME         epoch seconds or ISO 8601 UTC time\n"
    "  --locale L           sync-kb: only this Help Center locale (en-us)\n"
    "  --reindex            sync-kb: rebuild the search index afterwards\n"
    "\n" TR_CLI_COMMON_HELP;

struct zd_args {
    const char *sub;
    const char *tenant;
    struct tr_cli_zendesk z;
    const char *since;
    const char *locale;
    bool reindex;
};

/* Read a token from `path` ("-" for stdin), trailing white space cut. */
static int
token_read(const char *path, char *buf, size_t buf_len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    size_t n;

    if (f == NULL)
        return -1;
    n = fread(buf, 1, buf_len - 1, f);
    if (f != stdin)
        fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                     buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = '\0';
    return n > 0 && n < buf_len - 1 ? 0 : -1;
}

/* Open the database with the schema current and an owner connection. */
static int
open_owner(struct tr_cli *cli, struct tr_db **db, struct tr_db_conn **c)
{
    struct tr_error err = {0};
    enum tr_err rc;

    rc = tr_db_open(&cli->conf, 4, db, &err);
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

bool
tr_cli_zendesk_given(const struct tr_cli_zendesk *z)
{
    return z->base_url != NULL || z->subdomain != NULL || z->email != NULL
           || z->token_file != NULL || z->oauth_file != NULL
           || z->reply_mode != NULL;
}

int
tr_cli_zendesk_check(const struct tr_cli *cli,
                     const struct tr_cli_zendesk *z)
{
    if ((z->base_url == NULL) == (z->subdomain == NULL))
        return tr_cli_usage_error(cli, "give one of --base-url and "
                                       "--subdomain");
    if ((z->token_file == NULL) == (z->oauth_file == NULL))
        return tr_cli_usage_error(cli, "give one of --api-token-file and "
                                       "--oauth-token-file");
    if ((z->token_file != NULL) != (z->email != NULL))
        return tr_cli_usage_error(cli, "--email goes with --api-token-file");
    if (z->reply_mode != NULL && strcmp(z->reply_mode, "public") != 0 &&
        strcmp(z->reply_mode, "internal") != 0)
        return tr_cli_usage_error(cli, "--reply-mode is public or internal");
    return TR_EXIT_OK;
}

int
tr_cli_zendesk_settings(const struct tr_cli *cli,
                        const struct tr_cli_zendesk *z, struct tr_buf *b)
{
    char tok[TOKEN_MAX];
    const char *file = z->token_file != NULL ? z->token_file : z->oauth_file;

    if (token_read(file, tok, sizeof(tok)) != 0)
        return tr_cli_fail(cli, "could not read a token from \"%s\"", file);
    tr_buf_puts(b, "{");
    if (z->base_url != NULL) {
        tr_buf_puts(b, "\"base_url\":");
        tr_buf_json_str(b, z->base_url);
    } else {
        tr_buf_puts(b, "\"subdomain\":");
        tr_buf_json_str(b, z->subdomain);
    }
    if (z->token_file != NULL) {
        tr_buf_puts(b, ",\"email\":");
        tr_buf_json_str(b, z->email);
        tr_buf_puts(b, ",\"api_token\":");
    } else {
        tr_buf_puts(b, ",\"oauth_token\":");
    }
    tr_buf_json_str(b, tok);
    memset(tok, 0, sizeof(tok));
    tr_buf_puts(b, ",\"reply_mode\":");
    tr_buf_json_str(b, z->reply_mode != NULL ? z->reply_mode : "public");
    if (tr_buf_puts(b, "}") != TR_OK)
        return tr_cli_fail(cli, "settings too large");
    return TR_EXIT_OK;
}

static int
zd_configure(struct tr_cli *cli, const struct zd_args *a)
{
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    struct tr_db_conn *c;
    struct tr_buf b;
    const char *p[2];
    char id[24];
    enum tr_err rc;
    int ex;

    tr_buf_init(&b, 64 * 1024);
    ex = tr_cli_zendesk_settings(cli, &a->z, &b);
    if (ex == TR_EXIT_OK)
        ex = open_owner(cli, &db, &c);
    if (ex != TR_EXIT_OK) {
        tr_buf_cleanup(&b);
        return ex;
    }
    p[0] = a->tenant;
    p[1] = b.data;
    /* The whole object is replaced, so a switch from API token to OAuth
     * leaves no stale token behind. */
    rc = tr_db_query_value(c, "UPDATE tenants SET settings = jsonb_set("
                              "settings, '{zendesk}', $2::jsonb) "
                              "WHERE name = $1 RETURNING id",
                           2, p, id, sizeof(id), NULL, &err);
    memset(b.data, 0, b.len);
    tr_buf_cleanup(&b);
    tr_db_conn_release(c);
    tr_db_close(db, false);
    if (rc == TR_E_NOTFOUND)
        return tr_cli_fail(cli, "no tenant \"%s\"", a->tenant);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    printf("zendesk settings of tenant \"%s\" saved\n", a->tenant);
    return TR_EXIT_OK;
}

static int
zd_show(struct tr_cli *cli, const struct zd_args *a)
{
    static const char *const keys[] = {"base_url", "subdomain", "email",
                                       "reply_mode"};
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    struct tr_db_conn *c;
    struct tr_db_res *res = NULL;
    const char *p[1] = {a->tenant};
    enum tr_err rc;
    int ex;

    ex = open_owner(cli, &db, &c);
    if (ex != TR_EXIT_OK)
        return ex;
    /* Tokens never leave the database: only whether they are set. */
    rc = tr_db_exec(c, "SELECT s ->> 'base_url', s ->> 'subdomain', "
                       "s ->> 'email', s ->> 'reply_mode', "
                       "s ? 'api_token', s ? 'oauth_token', "
                       "c.cursor, c.recovered FROM tenants t "
                       "CROSS JOIN LATERAL (SELECT t.settings -> 'zendesk' "
                       "AS s) z LEFT JOIN zendesk_cursors c "
                       "ON c.tenant_id = t.id WHERE t.name = $1",
                    1, p, &res, &err);
    tr_db_conn_release(c);
    tr_db_close(db, false);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    if (tr_db_res_n_rows(res) != 1) {
        tr_db_res_free(res);
        return tr_cli_fail(cli, "no tenant \"%s\"", a->tenant);
    }
    for (int i = 0; i < 4; i++) {
        const char *v = tr_db_res_value(res, 0, i);

        printf("%-12s %s\n", keys[i], v != NULL ? v : "-");
    }
    printf("%-12s %s\n", "api_token",
           strcmp(tr_db_res_value(res, 0, 4) ?: "f", "t") == 0 ? "********"
                                                              : "-");
    printf("%-12s %s\n", "oauth_token",
           strcmp(tr_db_res_value(res, 0, 5) ?: "f", "t") == 0 ? "********"
                                                              : "-");
    printf("%-12s %s\n", "cursor",
           tr_db_res_value(res, 0, 6) != NULL ? "set" : "-");
    printf("%-12s %s\n", "recovered", tr_db_res_value(res, 0, 7) != NULL
                                      ? tr_db_res_value(res, 0, 7) : "0");
    tr_db_res_free(res);
    return TR_EXIT_OK;
}

/* Epoch seconds or ISO 8601; -1 when `s` is neither. */
static int64_t
since_parse(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    int64_t t;

    if (*s != '\0' && *end == '\0' && v >= 0)
        return v;
    return tr_zendesk_time_parse(s, &t) && t >= 0 ? t : -1;
}

static int
zd_pull(struct tr_cli *cli, const struct zd_args *a)
{
    struct tr_zendesk_pull_result r;
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    struct tr_db_conn *c;
    const char *p[1] = {a->tenant};
    int64_t since = -1;
    char id[24];
    enum tr_err rc;
    int ex;

    if (a->since != NULL && (since = since_parse(a->since)) < 0)
        return tr_cli_usage_error(cli, "--since wants epoch seconds or an "
                                       "ISO 8601 time, not \"%s\"", a->since);
    ex = open_owner(cli, &db, &c);
    if (ex != TR_EXIT_OK)
        return ex;
    rc = tr_db_query_value(c, "SELECT id FROM tenants WHERE name = $1", 1, p,
                           id, sizeof(id), NULL, &err);
    tr_db_conn_release(c);
    if (rc == TR_OK)
        rc = tr_zendesk_pull_run(db, strtoll(id, NULL, 10), since, NULL, &r,
                                 &err);
    tr_db_close(db, false);
    if (rc == TR_E_NOTFOUND && err.foreign[0] == '\0')
        return tr_cli_fail(cli, "no tenant \"%s\"", a->tenant);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    printf("pages %d, tickets %d, recovered by pull %d%s\n", r.n_pages,
           r.n_tickets, r.n_recovered,
           r.end_of_stream ? ", end of stream" : "");
    return TR_EXIT_OK;
}

/*
 * sync-kb: the import runs as the application role inside the tenant's
 * scope, like pull; only the name lookup needs the owner connection.
 */
static int
zd_sync_kb(struct tr_cli *cli, const struct zd_args *a)
{
    struct tr_zendesk_kb_sync_opts o = {0};
    struct tr_zendesk_kb_sync_result r = {0};
    struct tr_kb_reindex_result ri = {0};
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    struct tr_db_conn *c;
    const char *p[1] = {a->tenant};
    char id[24];
    enum tr_err rc;
    int ex;

    ex = open_owner(cli, &db, &c);
    if (ex != TR_EXIT_OK)
        return ex;
    rc = tr_db_query_value(c, "SELECT id FROM tenants WHERE name = $1", 1, p,
                           id, sizeof(id), NULL, &err);
    tr_db_conn_release(c);
    if (rc == TR_E_NOTFOUND) {
        tr_db_close(db, false);
        return tr_cli_fail(cli, "no tenant \"%s\"", a->tenant);
    }
    o.locale = a->locale;
    o.reindex = a->reindex ? &ri : NULL;
    if (rc == TR_OK)
        rc = tr_zendesk_kb_sync(db, strtoll(id, NULL, 10), &o, &r, &err);
    tr_kb_cache_drop(db);
    tr_db_close(db, false);
    if (rc != TR_OK && r.n_articles > 0 && !r.reindexed)
        printf("imported %zu articles; the reindex failed\n", r.n_articles);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    printf("pages %d, articles %zu: added %zu, updated %zu, unchanged %zu, "
           "drafts %zu\n", r.n_pages, r.n_articles, r.n_added, r.n_updated,
           r.n_unchanged, r.n_drafts);
    if (r.reindexed)
        printf("index version %lld: %zu articles, %zu chunks, %zu bytes, "
               "built in %.1f s, stored in %.1f s\n",
               (long long) ri.version_id, ri.n_articles, ri.n_chunks,
               ri.n_bytes, ri.build_s, ri.store_s);
    return TR_EXIT_OK;
}

/* Check the combination of options for the subcommand. */
static int
args_check(struct tr_cli *cli, const struct zd_args *a)
{
    bool conf = strcmp(a->sub, "configure") == 0;

    if (a->tenant == NULL)
        return tr_cli_usage_error(cli, "--tenant is required");
    if (!conf && tr_cli_zendesk_given(&a->z))
        return tr_cli_usage_error(cli, "connection options are only for "
                                       "\"configure\"");
    if (a->since != NULL && strcmp(a->sub, "pull") != 0)
        return tr_cli_usage_error(cli, "--since is only for \"pull\"");
    if ((a->locale != NULL || a->reindex) && strcmp(a->sub, "sync-kb") != 0)
        return tr_cli_usage_error(cli, "--locale and --reindex are only "
                                       "for \"sync-kb\"");
    return conf ? tr_cli_zendesk_check(cli, &a->z) : TR_EXIT_OK;
}

int
tr_cli_cmd_zendesk(struct tr_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"tenant", required_argument, NULL, 't'},
        {"base-url", required_argument, NULL, 'b'},
        {"subdomain", required_argument, NULL, 's'},
        {"email", required_argument, NULL, 'e'},
        {"api-token-file", required_argument, NULL, 'k'},
        {"oauth-token-file", required_argument, NULL, 'o'},
        {"reply-mode", required_argument, NULL, 'r'},
        {"since", required_argument, NULL, 'S'},
        {"locale", required_argument, NULL, 'L'},
        {"reindex", no_argument, NULL, 'R'},
        TR_CLI_COMMON_OPTS,
        {NULL, 0, NULL, 0}
    };
    struct zd_args a = {0};
    int opt, rc;

    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            fputs(zendesk_help, stdout);
            return TR_EXIT_OK;
        }
        return tr_cli_usage_error(cli, "missing subcommand (configure, "
                                       "show, pull, sync-kb)");
    }
    a.sub = argv[1];
    if (strcmp(a.sub, "configure") != 0 && strcmp(a.sub, "show") != 0 &&
        strcmp(a.sub, "pull") != 0 && strcmp(a.sub, "sync-kb") != 0)
        return tr_cli_usage_error(cli, "unknown subcommand \"%s\"", a.sub);

    argc--;
    argv++;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 't': a.tenant = optarg; break;
        case 'b': a.z.base_url = optarg; break;
        case 's': a.z.subdomain = optarg; break;
        case 'e': a.z.email = optarg; break;
        case 'k': a.z.token_file = optarg; break;
        case 'o': a.z.oauth_file = optarg; break;
        case 'r': a.z.reply_mode = optarg; break;
        case 'S': a.since = optarg; break;
        case 'L': a.locale = optarg; break;
        case 'R': a.reindex = true; break;
        default:
            rc = tr_cli_common_opt(cli, opt, optarg);
            if (rc == 0)
                return tr_cli_bad_option(cli, argv);
            if (rc < 0)
                return TR_EXIT_USAGE;
        }
    }
    if (cli->want_help) {
        fputs(zendesk_help, stdout);
        return TR_EXIT_OK;
    }
    if (optind < argc)
        return tr_cli_usage_error(cli, "unexpected argument \"%s\"",
                                  argv[optind]);
    rc = args_check(cli, &a);
    if (rc == TR_EXIT_OK)
        rc = tr_cli_setup(cli);
    if (rc != TR_EXIT_OK)
        return rc;
    if (strcmp(a.sub, "configure") == 0)
        return zd_configure(cli, &a);
    if (strcmp(a.sub, "sync-kb") == 0)
        return zd_sync_kb(cli, &a);
    return strcmp(a.sub, "show") == 0 ? zd_show(cli, &a) : zd_pull(cli, &a);
}
