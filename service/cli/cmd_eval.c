/*
 * cmd_eval.c
 *      `triage eval retrieval --dataset DIR [--json]` and the dispatch of
 *      `triage eval routing` and `triage eval triage` to the routing and
 *      the whole-pipeline evaluations.
 *
 * The retrieval evaluation goes through the production path: it creates
 * a throwaway tenant, imports the collection's documents as articles,
 * reindexes (the index is stored in and loaded from the database like
 * any other), runs every query through tr_kb_search() with BM25 alone,
 * dense alone and hybrid, and removes the tenant again, also on failure.
 * Each document is one article, so rankings are by document.  Main
 * thread only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "kb.h"
#include "mem.h"
#include "retrieval.h"

/* The routing and pipeline evaluations live with their eval/ code. */
int tr_cli_cmd_eval_routing(struct tr_cli *cli, int argc, char **argv);
int tr_cli_cmd_eval_triage(struct tr_cli *cli, int argc, char **argv);

static const char eval_help[] =
    "Usage: triage eval retrieval --dataset DIR [--json] [OPTIONS]\n"
    "       triage eval routing ...   (see triage eval routing --help)\n"
    "       triage eval triage ...    (see triage eval triage --help)\n"
    "\n"
    "  retrieval   index the collection in DIR (corpus.jsonl,\n"
    "              queries.jsonl, qrels.tsv) in a temporary tenant and\n"
    "              print recall@1, recall@5, recall@10, MRR@10, nDCG@10\n"
    "  routing     train and measure the routing classifier\n"
    "  triage      run the whole pipeline on a help center and labelled\n"
    "              tickets: routing, escalation, retrieval, language,\n"
    "              personal-data leaks and prompt injections\n"
    "\n"
    "Options of retrieval:\n"
    "  --dataset DIR   the collection (required)\n"
    "  --json          one JSON object: \"metrics\" (hybrid) and\n"
    "                  \"components\" (bm25, dense, hybrid)\n"
    "\n" TR_CLI_COMMON_HELP;

/* Everything one run holds, released in eval_cleanup(). */
struct eval_run {
    struct tr_eval_dataset *ds;
    struct tr_db *db;
    int64_t tenant;
    struct tr_kb_searcher *s;
    struct tr_eval_metrics m[3];    /* by enum tr_kb_mode */
    struct tr_kb_reindex_result rr;
    double query_s;
};

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Remove the tenant and everything it owns; failures only warn. */
static void
tenant_drop(struct eval_run *r)
{
    struct tr_error err = {0};

    if (r->tenant != 0 &&
        tr_db_scratch_tenant_drop(r->db, r->tenant, &err) != TR_OK)
        fprintf(stderr, "triage eval: could not remove the temporary "
                        "tenant %lld: %s\n", (long long) r->tenant,
                tr_error_msg(&err));
}

/* Import the documents as plain-text articles. */
static enum tr_err
import_docs(struct eval_run *r, struct tr_error *err)
{
    struct tr_kb_article *a = calloc(r->ds->n_docs + 1, sizeof(*a));
    enum tr_err rc;

    if (a == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < r->ds->n_docs; i++) {
        const struct tr_eval_doc *d = &r->ds->docs[i];

        a[i].id = d->id;
        a[i].title = d->title[0] != '\0' ? d->title : d->id;
        a[i].body = d->text;
        a[i].format = TR_KB_TEXT;
    }
    rc = tr_kb_import_articles(r->db, r->tenant, a, r->ds->n_docs, NULL,
                               err);
    free(a);
    return rc;
}

/* Score every query with the three retrievers. */
static enum tr_err
run_queries(struct eval_run *r, struct tr_error *err)
{
    struct tr_kb_hit hits[10];
    int64_t ranked[10];
    double t0 = now_s();

    for (int m = 0; m < 3; m++)
        tr_eval_metrics_init(&r->m[m]);
    for (size_t i = 0; i < r->ds->n_queries; i++) {
        const struct tr_eval_query *q = &r->ds->queries[i];

        for (int m = 0; m < 3; m++) {
            size_t n = 0;
            enum tr_err rc = tr_kb_search(r->s, q->text, 10,
                                          (enum tr_kb_mode) m, hits, &n,
                                          err);

            if (rc != TR_OK)
                return rc;
            for (size_t j = 0; j < n; j++)
                ranked[j] = tr_eval_dataset_doc(r->ds, hits[j].external_id);
            tr_eval_metrics_add(&r->m[m], ranked, n, q->rel, q->n_rel);
        }
    }
    for (int m = 0; m < 3; m++)
        tr_eval_metrics_finish(&r->m[m]);
    r->query_s = now_s() - t0;
    return TR_OK;
}

static void
json_metrics(struct tr_buf *b, const struct tr_eval_metrics *m)
{
    tr_buf_printf(b, "{\"recall@1\":%.4f,\"recall@5\":%.4f,"
                  "\"recall@10\":%.4f,\"mrr@10\":%.4f,\"ndcg@10\":%.4f}",
                  m->recall_1, m->recall_5, m->recall_10, m->mrr_10,
                  m->ndcg_10);
}

static void
print_result(const struct eval_run *r, const char *dir, bool json)
{
    static const char *names[3] = {"hybrid", "bm25", "dense"};
    struct tr_buf b;

    if (!json) {
        printf("%s: %zu documents, %zu queries, reindex %.2f s "
               "(build %.2f s, store %.2f s), queries %.2f s\n", dir,
               r->ds->n_docs, r->ds->n_queries, r->rr.build_s + r->rr.store_s,
               r->rr.build_s, r->rr.store_s, r->query_s);
        printf("%-8s %9s %9s %9s %9s %9s\n", "", "recall@1", "recall@5",
               "recall@10", "MRR@10", "nDCG@10");
        for (int m = 0; m < 3; m++)
            printf("%-8s %9.4f %9.4f %9.4f %9.4f %9.4f\n", names[m],
                   r->m[m].recall_1, r->m[m].recall_5, r->m[m].recall_10,
                   r->m[m].mrr_10, r->m[m].ndcg_10);
        return;
    }

    tr_buf_init(&b, 1 << 20);
    tr_buf_puts(&b, "{\"dataset\":");
    tr_buf_json_str(&b, dir);
    tr_buf_printf(&b, ",\"n_docs\":%zu,\"n_queries\":%zu,\"n_chunks\":%zu,"
                  "\"reindex_s\":%.3f,\"query_s\":%.3f,\"metrics\":",
                  r->ds->n_docs, r->ds->n_queries, r->rr.n_chunks,
                  r->rr.build_s + r->rr.store_s, r->query_s);
    json_metrics(&b, &r->m[TR_KB_HYBRID]);
    tr_buf_puts(&b, ",\"components\":{");
    for (int m = 0; m < 3; m++) {
        tr_buf_printf(&b, "%s\"%s\":", m ? "," : "", names[m]);
        json_metrics(&b, &r->m[m]);
    }
    tr_buf_puts(&b, "}}\n");
    fwrite(b.data, 1, b.len, stdout);
    fflush(stdout);
    tr_buf_cleanup(&b);
}

static int
eval_retrieval(struct tr_cli *cli, const char *dir, bool json)
{
    struct eval_run r = {0};
    struct tr_error err = {0};
    int64_t live = 0;
    enum tr_err rc;

    rc = tr_eval_dataset_load(dir, &r.ds, &err);
    if (rc == TR_OK)
        rc = tr_db_open(&cli->conf, 4, &r.db, &err);
    if (rc == TR_OK)
        rc = tr_db_migrate(r.db, NULL, &err);
    if (rc == TR_OK)
        rc = tr_db_scratch_tenant_create(r.db, "eval-retrieval", &r.tenant,
                                         &err);
    if (rc == TR_OK)
        rc = import_docs(&r, &err);
    if (rc == TR_OK)
        rc = tr_kb_reindex(r.db, r.tenant, NULL, &r.rr, &err);
    if (rc == TR_OK)
        rc = tr_kb_live_version(r.db, r.tenant, &live, &err);
    if (rc == TR_OK)
        rc = tr_kb_searcher_load(r.db, r.tenant, live, &r.s, &err);
    if (rc == TR_OK)
        rc = run_queries(&r, &err);
    if (rc == TR_OK)
        print_result(&r, dir, json);

    tr_kb_searcher_release(r.s);
    if (r.db != NULL)
        tenant_drop(&r);
    tr_db_close(r.db, false);
    tr_eval_dataset_free(r.ds);
    if (rc != TR_OK)
        return tr_cli_fail(cli, "%s", tr_error_msg(&err));
    return TR_EXIT_OK;
}

int
tr_cli_cmd_eval(struct tr_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dataset", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        TR_CLI_COMMON_OPTS,
        {NULL, 0, NULL, 0}
    };
    const char *dir = NULL;
    bool json = false;
    int opt, rc;

    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            fputs(eval_help, stdout);
            return TR_EXIT_OK;
        }
        return tr_cli_usage_error(cli, "missing subcommand (retrieval, "
                                       "routing, triage)");
    }
    if (strcmp(argv[1], "routing") == 0)
        return tr_cli_cmd_eval_routing(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "triage") == 0)
        return tr_cli_cmd_eval_triage(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "retrieval") != 0)
        return tr_cli_usage_error(cli, "unknown subcommand \"%s\"", argv[1]);

    argc--;
    argv++;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 'd') {
            dir = optarg;
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
        fputs(eval_help, stdout);
        return TR_EXIT_OK;
    }
    if (dir == NULL)
        return tr_cli_usage_error(cli, "--dataset is required");
    if (optind < argc)
        return tr_cli_usage_error(cli, "unexpected argument \"%s\"",
                                  argv[optind]);

    rc = tr_cli_setup(cli);
    if (rc != TR_EXIT_OK)
        return rc;
    return eval_retrieval(cli, dir, json);
}
