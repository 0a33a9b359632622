/*
 * bench_search.c
 *      bench_search: measure triage's hybrid search against SQLite FTS5
 *      on a corpus of 100,000 chunks, and print the comparison.
 *
 *   bench_search build DATASET DIR [CHUNKS [ARTICLES]]
 *       build the reindex subset (the first ARTICLES articles) and the
 *       whole corpus, timed, and write the whole index into DIR
 *   bench_search serve DATASET DIR [QUERIES [SECONDS]]
 *       load the index, score and time every query of the collection,
 *       then QUERIES on two threads within SECONDS for throughput
 *   bench_search fts5 DATASET [CHUNKS [ARTICLES [QUERIES [SECONDS]]]]
 *       the same for SQLite FTS5, in one process
 *   bench_search report FILE
 *       the table of the figures the phases printed into FILE
 *
 * Each phase prints "key value" lines; bench/search/run runs the phases
 * as separate processes (so that each one's memory is its own) and
 * gives their concatenated output to the report.  Not a test: nothing
 * here asserts a figure, the report says which aims are met.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_search.h"

#define REPORT_MAX_KEYS 256

/* The figures read back by the report. */
struct figures {
    size_t n;
    char key[REPORT_MAX_KEYS][64];
    double val[REPORT_MAX_KEYS];
    char text[REPORT_MAX_KEYS][64];
};

/* The usage message; the exit code of a wrong command line. */
static int
usage(void)
{
    fprintf(stderr,
        "usage: bench_search build DATASET_DIR INDEX_DIR "
        "[CHUNKS [ARTICLES]]\n"
        "       bench_search serve DATASET_DIR INDEX_DIR "
        "[QUERIES [SECONDS]]\n"
        "       bench_search fts5 DATASET_DIR [CHUNKS [ARTICLES "
        "[QUERIES [SECONDS]]]]\n"
        "       bench_search report FIGURES_FILE\n");
    return 2;
}

/*
 * The count argv[i] when there is one, else `dflt`; 0 when it is not a
 * positive number, which the caller turns into the usage message.
 */
static size_t
count_arg(int argc, char **argv, int i, size_t dflt)
{
    char *end;
    unsigned long long v;

    if (i >= argc)
        return dflt;
    errno = 0;
    v = strtoull(argv[i], &end, 10);
    if (errno != 0 || end == argv[i] || *end != '\0' || argv[i][0] == '-' ||
        v > SIZE_MAX / 64)
        return 0;
    return (size_t) v;
}

/*
 * The figure `key`, or NAN when no phase printed it (the phase failed,
 * timed out or was not run): the table then shows "-" rather than 0.
 */
static double
get(const struct figures *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->key[i], key) == 0)
            return f->val[i];
    return NAN;
}

/* The figure `key` as printed, for words such as a factory string. */
static const char *
get_text(const struct figures *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->key[i], key) == 0)
            return f->text[i];
    return "-";
}

/*
 * Read the "key value" lines of `path` into `f`; other lines (there are
 * none today) are skipped so that a phase may print notes.  The first
 * REPORT_MAX_KEYS figures are kept.
 */
static int
read_figures(const char *path, struct figures *f)
{
    FILE *fp = fopen(path, "r");
    char line[256];

    if (fp == NULL) {
        fprintf(stderr, "bench_search: could not open \"%s\"\n", path);
        return -1;
    }
    f->n = 0;
    while (fgets(line, sizeof(line), fp) != NULL && f->n < REPORT_MAX_KEYS)
        if (sscanf(line, "%63s %63s", f->key[f->n], f->text[f->n]) == 2) {
            f->val[f->n] = strtod(f->text[f->n], NULL);
            f->n++;
        }
    fclose(fp);
    return 0;
}

/* One line of the table; NAN prints as "-". */
static void
row(const char *name, double ours, double fts, int prec, const char *aim,
    const char *verdict)
{
    char a[32] = "-", b[32] = "-";

    if (!isnan(ours))
        snprintf(a, sizeof(a), "%.*f", prec, ours);
    if (!isnan(fts))
        snprintf(b, sizeof(b), "%.*f", prec, fts);
    printf("%-36s %10s %10s  %-16s %s\n", name, a, b, aim, verdict);
}

/*
 * "met" or "NOT met" with the margin `x` printed by `fmt`, into `out`;
 * "-" when the figure is missing (its phase failed or was not run).
 */
static const char *
verdict(char *out, size_t len, int met, const char *fmt, double x)
{
    int k;

    if (isnan(x)) {
        snprintf(out, len, "-");
        return out;
    }
    k = snprintf(out, len, "%s (", met ? "met" : "NOT met");
    if (k > 0 && (size_t) k < len)
        snprintf(out + k, len - (size_t) k, fmt, x);
    strncat(out, ")", len - strlen(out) - 1);
    return out;
}

/* Build times: the whole corpus, its parts, and the timed reindex. */
static void
report_build(const struct figures *f)
{
    double small = get(f, "small_build_s");
    char v[96], name[64];

    row("corpus chunks", get(f, "ours_chunks"), get(f, "fts5_chunks"), 0,
        "", "");
    row("index build, all chunks (s)", get(f, "ours_build_s"),
        get(f, "fts5_build_s"), 2, "", "");
    row("  BM25 (s)", get(f, "ours_build_bm25_s"), NAN, 2, "", "");
    row("  embedder training (s)", get(f, "ours_build_train_s"), NAN, 2,
        "", "");
    row("  embedding the chunks (s)", get(f, "ours_build_embed_s"), NAN, 2,
        "", "");
    row("  FAISS index (s)", get(f, "ours_build_faiss_s"), NAN, 2, "",
        get_text(f, "ours_factory"));

    /* The reindex subset: whole articles, however many chunks they have. */
    if (isnan(get(f, "small_articles")))
        snprintf(name, sizeof(name), "reindex of the subset (s)");
    else
        snprintf(name, sizeof(name), "reindex, %.0f articles (s)",
                 get(f, "small_articles"));
    row(name, small, get(f, "fts5_small_build_s"), 2, "<= 15 s",
        verdict(v, sizeof(v), small <= 15, "%.1f s", small));
    row("  chunks of those articles", get(f, "small_chunks"),
        get(f, "fts5_small_chunks"), 0, "", "");
    row("  of which FAISS (s)", get(f, "small_build_faiss_s"), NAN, 2, "",
        get_text(f, "small_factory"));
}

/* Latency on one thread, throughput on one and two, and quality. */
static void
report_speed(const struct figures *f)
{
    double p50 = get(f, "ours_p50_ms"), q2 = get(f, "ours_qps2");
    double ratio = q2 / get(f, "fts5_qps2");
    double nd = get(f, "ours_ndcg10"), nd_fts = get(f, "fts5_ndcg10");
    char v[96];

    row("query latency p50 (ms)", p50, get(f, "fts5_p50_ms"), 3,
        "<= 1 ms", verdict(v, sizeof(v), p50 <= 1.0, "%.2f x the aim",
                           p50 / 1.0));
    row("query latency p99 (ms)", get(f, "ours_p99_ms"),
        get(f, "fts5_p99_ms"), 3, "", "");
    row("query latency mean (ms)", get(f, "ours_mean_ms"),
        get(f, "fts5_mean_ms"), 3, "", "");

    /* Speed counts only at better quality: both must hold. */
    row("queries/s, 2 threads", q2, get(f, "fts5_qps2"), 0,
        ">= 3x FTS5", verdict(v, sizeof(v), ratio >= 3 && nd > nd_fts,
                              "%.2fx", ratio));
    row("nDCG@10 (StackFAQ queries)", nd, nd_fts, 4, "> FTS5",
        verdict(v, sizeof(v), nd > nd_fts, "%+.4f", nd - nd_fts));
    row("MRR@10", get(f, "ours_mrr10"), get(f, "fts5_mrr10"), 4, "", "");
    row("  nDCG@10, BM25 alone", get(f, "ours_bm25_ndcg10"), NAN, 4, "",
        "");
    row("  nDCG@10, dense alone", get(f, "ours_dense_ndcg10"), NAN, 4, "",
        "");
}

/*
 * Resident memory of the serving process: bare, once loaded, while
 * answering (the aim), and the peaks of each step.
 */
static void
report_memory(const struct figures *f)
{
    double serving = get(f, "ours_serving_rss_mb");
    char v[96];

    row("RSS of the bare process (MB)", get(f, "ours_empty_rss_mb"), NAN, 1,
        "", "");
    row("RSS after loading (MB)", get(f, "ours_loaded_rss_mb"),
        get(f, "fts5_loaded_rss_mb"), 1, "", "");
    row("RSS while serving (MB)", serving, get(f, "fts5_serving_rss_mb"), 1,
        "<= 150 MB", verdict(v, sizeof(v), serving <= 150, "%.0f MB",
                             serving));

    /* Peaks are reset once loaded: these are those of serving alone. */
    row("peak RSS while serving (MB)", get(f, "ours_serving_hwm_mb"),
        get(f, "fts5_serving_hwm_mb"), 1, "", "");
    row("peak RSS of loading (MB)", get(f, "ours_loaded_hwm_mb"), NAN, 1,
        "", "");
    row("peak RSS of the build (MB)", get(f, "ours_built_hwm_mb"),
        get(f, "fts5_loaded_hwm_mb"), 1, "", "");
}

/* Print the table of the figures in `path`; 0, or 1 when unreadable. */
static int
report(const char *path)
{
    static struct figures f;

    if (read_figures(path, &f) != 0)
        return 1;
    printf("%-36s %10s %10s  %-16s %s\n", "", "triage", "FTS5", "aim",
           "verdict");
    report_build(&f);
    report_speed(&f);
    report_memory(&f);
    printf("\nlatency and nDCG: each of the collection's %.0f queries "
           "once, one thread;\nqueries/s: %.0f and %.0f queries on two "
           "threads (the collection's, cycled)\n"
           "triage: BM25F + local embedder + %s, score fusion, one chunk "
           "per hit\nFTS5: porter unicode61 over title and text, words "
           "OR-ed, bm25()\n",
           get(&f, "collection_queries"), get(&f, "ours_qps2_queries"),
           get(&f, "fts5_qps2_queries"), get_text(&f, "ours_factory"));
    return 0;
}

int
main(int argc, char **argv)
{
    struct tr_eval_dataset *ds = NULL;
    struct tr_error err = {0};
    size_t n, n_art, n_q, secs;
    int rc;

    if (argc == 3 && strcmp(argv[1], "report") == 0)
        return report(argv[2]);
    if (argc < 3)
        return usage();

    /* Check the arguments before the collection takes time to load. */
    if (strcmp(argv[1], "build") == 0 && argc >= 4 && argc <= 6) {
        n = count_arg(argc, argv, 4, BENCH_CHUNKS);
        n_art = count_arg(argc, argv, 5, BENCH_ARTICLES);
        n_q = secs = 1;
    } else if (strcmp(argv[1], "serve") == 0 && argc >= 4 && argc <= 6) {
        n = n_art = 1;
        n_q = count_arg(argc, argv, 4, BENCH_QUERIES);
        secs = count_arg(argc, argv, 5, BENCH_SECONDS);
    } else if (strcmp(argv[1], "fts5") == 0 && argc >= 3 && argc <= 7) {
        n = count_arg(argc, argv, 3, BENCH_CHUNKS);
        n_art = count_arg(argc, argv, 4, BENCH_ARTICLES);
        n_q = count_arg(argc, argv, 5, BENCH_QUERIES);
        secs = count_arg(argc, argv, 6, BENCH_SECONDS);
    } else {
        return usage();
    }
    if (n == 0 || n_art == 0 || n_q == 0 || secs == 0)
        return usage();

    if (tr_eval_dataset_load(argv[2], &ds, &err) != TR_OK) {
        fprintf(stderr, "bench_search: %s\n", err.msg);
        return 1;
    }
    if (ds->n_docs == 0 || ds->n_queries == 0) {
        fprintf(stderr, "bench_search: collection \"%s\" has no documents "
                "or no queries\n", argv[2]);
        rc = 1;
    } else if (argv[1][0] == 'b') {
        rc = bench_phase_build(ds, n, n_art, argv[3]);
    } else if (argv[1][0] == 's') {
        rc = bench_phase_serve(ds, argv[3], n_q, (double) secs);
    } else {
        rc = bench_phase_fts5(ds, n, n_art, n_q, (double) secs);
    }
    tr_eval_dataset_free(ds);
    return rc;
}
