/*
 * cmd_search.c
 *      `triage search --tenant T "text" [--k 5] [--json]`: the tenant's
 *      live index searched from the command line, as the service does.
 *
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

#define SEARCH_K_MAX 50

static const char search_help[] =
    "Usage: triage search --tenant NAME TEXT [--k N] [--json] [OPTIONS]\n"
    "\n"
    "Search the tenant's live index (BM25 and dense, fused) and print\n"
    "rank, score, article id, title, URL, locale, heading path and a\n"
    "snippet of the best passage of each article.\n"
    "\n"
    "  --tenant NAME   the tenant (required)\n"
    "  --k N           results to show, 1 to 50 (5)\n"
    "  --json          print one JSON object\n"
    "\n" TR_CLI_COMMON_HELP;

static void
print_json(const char *q, const struct tr_kb_hit *hits, size_t n,
           int64_t version)
{
    char snip[320];
    struct tr_buf b;

    tr_buf_init(&b, (size_t) 4 << 20);
    tr_buf_printf(&b, "{\"version\":%lld,\"query\":", (long long) version);
    tr_buf_json_str(&b, q);
    tr_buf_puts(&b, ",\"hits\":[");
    for (size_t i = 0; i < n; i++) {
        tr_buf_printf(&b, "%s{\"rank\":%zu,\"score\":%.6f,\"dense\":%.6f,"
                      "\"bm25\":%.6f,\"article_id\":", i ? "," : "", i + 1,
                      hits[i].score, hits[i].dense_score,
                      hits[i].bm25_score);
        tr_buf_json_str(&b, hits[i].external_id);
        tr_buf_puts(&b, ",\"title\":");
        tr_buf_json_str(&b, hits[i].title);
        tr_buf_puts(&b, ",\"url\":");
        tr_buf_json_str(&b, hits[i].url);
        tr_buf_puts(&b, ",\"locale\":");
        tr_buf_json_str(&b, hits[i].locale);
        tr_buf_puts(&b, ",\"heading_path\":");
        tr_buf_json_str(&b, hits[i].heading_path);
        tr_buf_puts(&b, ",\"snippet\":");
        tr_buf_json_str(&b, tr_kb_snippet(hits[i].text, 240, snip,
                                          sizeof(snip)));
        tr_buf_puts(&b, "}");
    }
    tr_buf_puts(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
    tr_buf_cleanup(&b);
}

static void
print_text(const struct tr_kb_hit *hits, size_t n)
{
    char snip[320];

    if (n == 0)
        printf("no result\n");
    for (size_t i = 0; i < n; i++) {
        const struct tr_kb_hit *h = &hits[i];

        printf("%zu. %.4f  [%s] %s (%s)\n", i + 1, h->score, h->external_id,
               h->title, h->locale);
        if (h->url[0] != '\0')
            printf("   %s\n", h->url);
        if (h->heading_path[0] != '\0')
            printf("   > %s\n", h->heading_path);
        printf("   %s\n", tr_kb_snippet(h->text, 200, snip, sizeof(snip)));
    }
}

static int
run_search(struct tr_cli *cli, const char *tenant, const char *q, long k,
           bool json)
{
    struct tr_kb_hit hits[SEARCH_K_MAX];
    struct tr_kb_searcher *s = NULL;
    struct tr_error err = {0};
    struct tr_db *db = NULL;
    int64_t tid;
    size_t n = 0;
    enum tr_err rc;

    rc = tr_db_open(&cli->conf, 2, &db, &err);
    if (rc == TR_OK)
        rc = tr_db_migrate(db, NULL, &err);
    if (rc == TR_OK)
        rc = tr_kb_tenant_find(db, tenant, &tid, &err);
    if (rc == TR_OK)
        rc = tr_kb_searcher_get(db, tid, &s, &err);
    if (rc == TR_OK)
        rc = tr_kb_search(s, q, (size_t) k, TR_KB_HYBRID, hits, &n, &err);
    if (rc == TR_OK && json)
        print_json(q, hits, n, tr_kb_searcher_version(s));
    else if (rc == TR_OK)
        print_text(hits, n);
    tr_kb_searcher_release(s);
    tr_kb_cache_drop(db);
    tr_db_close(db, false);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    return TR_EXIT_OK;
}

int
tr_cli_cmd_search(struct tr_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"tenant", required_argument, NULL, 't'},
        {"k", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        TR_CLI_COMMON_OPTS,
        {NULL, 0, NULL, 0}
    };
    const char *tenant = NULL;
    bool json = false;
    long k = 5;
    char *end;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 't') {
            tenant = optarg;
        } else if (opt == 'k') {
            k = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || k < 1 || k > SEARCH_K_MAX)
                return tr_cli_usage_error(cli, "--k must be 1 to %d",
                                          SEARCH_K_MAX);
        } else if (opt == 'j') {
            json = true;
        } else {
            rc = tr_cli_common_opt(cli, opt, optarg);
            if (rc == 0)
                return tr_cli_bad_option(cli, argv);
            if (rc < 0)
                return TR_EXIT_USAGE;
        }
    }
    if (cli->want_help) {
        fputs(search_help, stdout);
        return TR_EXIT_OK;
    }
    if (tenant == NULL)
        return tr_cli_usage_error(cli, "--tenant is required");
    if (optind + 1 != argc || argv[optind][0] == '\0')
        return tr_cli_usage_error(cli, "search takes one TEXT");

    rc = tr_cli_setup(cli);
    if (rc != TR_EXIT_OK)
        return rc;
    return run_search(cli, tenant, argv[optind], k, json);
}
