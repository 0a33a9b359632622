/*
 * fts5.c
 *      The baseline of the search benchmark: SQLite FTS5 over the same
 *      corpus, queried as ../shared/baselines/fts5_stackfaq.py does.
 *
 * The table is fts5(id UNINDEXED, title, text) with the "porter
 * unicode61" tokenizer, in an in-memory database of the memdb VFS so
 * that every thread can open its own connection to it.  A query is the
 * lower-cased words of the question (runs of letters, digits, '_' and
 * non-ASCII bytes, like Python's \w), each quoted, joined by OR, ranked
 * by bm25() and cut at 10 rows.  Building the match string is part of
 * each timed query.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bench_search.h"
#include "mem.h"

#define FTS_DB "file:/trbench_fts5?vfs=memdb"
#define FTS_DB_SMALL "file:/trbench_fts5_small?vfs=memdb"

/* Untimed queries before the timed pass (the collection's first). */
#define FTS_WARM_QUERIES 64

/* One connection with its prepared query, for one thread. */
struct fts_worker {
    sqlite3 *db;
    sqlite3_stmt *q;
    struct tr_buf match;
    const struct tr_eval_dataset *ds;
    int64_t ranked[10];
    size_t n_ranked;
};

/* Report SQLite's message for `what` on stderr; returns -1. */
static int
sql_fail(sqlite3 *db, const char *what)
{
    fprintf(stderr, "bench_search: could not %s: %s\n", what,
            db != NULL ? sqlite3_errmsg(db) : "out of memory");
    return -1;
}

/*
 * Open (creating it on the first call) the shared in-memory database
 * `uri`.  Every serving thread has its own connection, as an SQLite
 * user would, since one connection serialises its statements.
 */
static sqlite3 *
fts_open(const char *uri)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                SQLITE_OPEN_URI;

    if (sqlite3_open_v2(uri, &db, flags, NULL) != SQLITE_OK) {
        sql_fail(db, "open the in-memory database");
        sqlite3_close(db);
        return NULL;
    }

    /*
     * Let the memdb VFS hand out its pages in place: without it each
     * connection copies pages into a 2 MB cache and a 100k-chunk index
     * thrashes it, which is not what a ":memory:" database costs.
     */
    if (sqlite3_exec(db, "PRAGMA mmap_size = 4294967296", NULL, NULL,
                     NULL) != SQLITE_OK) {
        sql_fail(db, "set mmap_size");
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* Create the table in `db` and insert the first `n` chunks of `c`. */
static int
fts_fill(sqlite3 *db, const struct bench_corpus *c, size_t n)
{
    sqlite3_stmt *ins = NULL;
    int rc = -1;

    if (sqlite3_exec(db, "CREATE VIRTUAL TABLE t USING fts5(id UNINDEXED,"
                     " title, text, tokenize='porter unicode61');"
                     "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO t(rowid, id, title, text) "
                           "VALUES (?, ?, ?, ?)", -1, &ins, NULL)
            != SQLITE_OK)
        return sql_fail(db, "create the FTS5 table");

    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(ins, 1, (sqlite3_int64) i);
        sqlite3_bind_int64(ins, 2, (sqlite3_int64) i);
        sqlite3_bind_text(ins, 3, c->title[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, c->text[i], -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            sql_fail(db, "insert a chunk");
            goto out;
        }
        sqlite3_reset(ins);
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sql_fail(db, "commit the chunks");
        goto out;
    }
    rc = 0;

out:
    sqlite3_finalize(ins);
    return rc;
}

/* Build the database `uri` of `n` chunks; returns it or NULL. */
static sqlite3 *
fts_build(const char *uri, const struct bench_corpus *c, size_t n,
          const char *prefix)
{
    double t0 = bench_now();
    sqlite3 *db = fts_open(uri);

    if (db == NULL)
        return NULL;
    if (fts_fill(db, c, n) != 0) {
        sqlite3_close(db);
        return NULL;
    }
    printf("%s_chunks %zu\n%s_build_s %.3f\n", prefix, n, prefix,
           bench_now() - t0);
    return db;
}

/*
 * Bytes of a query word, as Python's \w sees them in the baseline
 * script: letters, digits, '_' and (non-ASCII) letters of UTF-8.
 */
static int
is_word_byte(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || ((ch | 32) >= 'a' &&
            (ch | 32) <= 'z') || ch == '_' || ch >= 0x80;
}

/* The OR-ed quoted words of `text` into w->match; 0 words gives "". */
static int
make_match(struct fts_worker *w, const char *text)
{
    const unsigned char *s = (const unsigned char *) text;

    tr_buf_reset(&w->match);
    while (*s != '\0') {
        const unsigned char *e;

        for (; *s != '\0' && !is_word_byte(*s); s++)
            ;
        for (e = s; *e != '\0' && is_word_byte(*e); e++)
            ;
        if (e == s)
            break;
        if ((w->match.len > 0 && tr_buf_puts(&w->match, " OR ") != TR_OK)
            || tr_buf_puts(&w->match, "\"") != TR_OK)
            return -1;
        for (; s < e; s++) {
            char ch = (char) (*s >= 'A' && *s <= 'Z' ? *s | 32 : *s);

            if (tr_buf_append(&w->match, &ch, 1) != TR_OK)
                return -1;
        }
        if (tr_buf_puts(&w->match, "\"") != TR_OK)
            return -1;
    }
    return 0;
}

/*
 * Timed query `qi` (the collection's queries, cycled) on worker `arg`:
 * build the match string, run the statement, keep the first 10 rowids
 * (chunk numbers) for scoring.  A query without words matches nothing,
 * which the baseline script counts as a miss too.
 */
static int
fts_query(void *arg, size_t qi)
{
    struct fts_worker *w = arg;
    const struct tr_eval_query *q = &w->ds->queries[qi % w->ds->n_queries];
    int rc;

    w->n_ranked = 0;
    if (make_match(w, q->text) != 0)
        return -1;
    if (w->match.len == 0)
        return 0;
    sqlite3_bind_text(w->q, 1, w->match.data, (int) w->match.len,
                      SQLITE_STATIC);

    while ((rc = sqlite3_step(w->q)) == SQLITE_ROW)
        if (w->n_ranked < 10)
            w->ranked[w->n_ranked++] = sqlite3_column_int64(w->q, 0);
    sqlite3_reset(w->q);
    if (rc != SQLITE_DONE)
        return sql_fail(w->db, "run a query");
    return 0;
}

/* One serving connection with its prepared ranked query. */
static int
worker_open(struct fts_worker *w, const struct tr_eval_dataset *ds)
{
    memset(w, 0, sizeof(*w));
    w->ds = ds;
    tr_buf_init(&w->match, 1 << 16);
    if ((w->db = fts_open(FTS_DB)) == NULL)
        return -1;
    if (sqlite3_prepare_v2(w->db, "SELECT rowid FROM t WHERE t MATCH ? "
                           "ORDER BY bm25(t) LIMIT 10", -1, &w->q, NULL)
        != SQLITE_OK)
        return sql_fail(w->db, "prepare the query");
    return 0;
}

/* Close what worker_open() opened; a zeroed worker is a no-op. */
static void
worker_close(struct fts_worker *w)
{
    sqlite3_finalize(w->q);
    sqlite3_close(w->db);
    tr_buf_cleanup(&w->match);
}

/*
 * nDCG@10 and MRR@10 over every query once, and the latency of each
 * into `lat` (seconds); the same quality as
 * ../shared/baselines/fts5_stackfaq.py gives on the collection alone.
 */
static int
fts_ndcg(struct fts_worker *w, const struct tr_eval_dataset *ds,
         double *lat)
{
    struct tr_eval_metrics m;

    tr_eval_metrics_init(&m);
    for (size_t i = 0; i < ds->n_queries; i++) {
        double t0 = bench_now();

        if (fts_query(w, i) != 0)
            return -1;
        lat[i] = bench_now() - t0;
        bench_score(&m, &ds->queries[i], w->ranked, w->n_ranked);
    }
    tr_eval_metrics_finish(&m);
    printf("fts5_ndcg10 %.4f\nfts5_mrr10 %.4f\n", m.ndcg_10, m.mrr_10);
    return 0;
}

/*
 * A few queries to warm the pages and the statement, then quality and
 * latency on one connection, then throughput on two.
 */
static int
fts_timing(struct fts_worker *w, const struct tr_eval_dataset *ds,
           size_t n_q, double budget_s)
{
    void *workers[2] = {&w[0], &w[1]};
    double *lat = malloc(ds->n_queries * sizeof(*lat)), wall;
    size_t done;
    int rc = -1;

    for (size_t i = 0; i < FTS_WARM_QUERIES; i++)
        if (fts_query(&w[0], i) != 0)
            goto out;
    if (lat == NULL || fts_ndcg(&w[0], ds, lat) != 0)
        goto out;
    printf("fts5_queries %zu\n", ds->n_queries);
    bench_latency_print("fts5", lat, ds->n_queries);

    wall = bench_threads(fts_query, workers, 2, n_q, budget_s, NULL, &done);
    if (wall <= 0)
        goto out;
    printf("fts5_qps2_queries %zu\nfts5_qps2 %.1f\n", done,
           (double) done / wall);
    rc = 0;

out:
    free(lat);
    return rc;
}

/*
 * The FTS5 phase: the reindex subset then the whole corpus are built
 * (the subset's database is dropped before the big one is made), the
 * corpus is freed, and the queries are timed on two connections.
 */
int
bench_phase_fts5(const struct tr_eval_dataset *ds, size_t n,
                 size_t n_articles, size_t n_queries, double budget_s)
{
    struct bench_corpus c;
    struct fts_worker w[2];
    sqlite3 *db = NULL, *small;
    int rc = 1, n_open = 0;

    memset(w, 0, sizeof(w));
    if (bench_corpus_make(ds, n, 0x7472696167654243ULL, &c) != 0)
        return 1;
    small = fts_build(FTS_DB_SMALL, &c, bench_corpus_head(&c, n_articles),
                      "fts5_small");
    if (small == NULL)
        goto out;
    sqlite3_close(small);
    if ((db = fts_build(FTS_DB, &c, n, "fts5")) == NULL)
        goto out;

    /* The database keeps its own copy of the text. */
    bench_corpus_free(&c);
    for (; n_open < 2; n_open++)
        if (worker_open(&w[n_open], ds) != 0)
            goto out;
    bench_mem_print("fts5_loaded");
    bench_mem_peak_reset();
    if (fts_timing(w, ds, n_queries, budget_s) != 0)
        goto out;
    bench_mem_print("fts5_serving");
    rc = 0;

out:
    for (int i = 0; i < 2; i++)
        worker_close(&w[i]);
    sqlite3_close(db);
    bench_corpus_free(&c);
    return rc;
}
