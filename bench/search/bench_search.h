/*
 * bench_search.h
 *      Layouts shared by the files of the search benchmark.
 *
 * The benchmark runs in phases, each its own process so that resident
 * memory belongs to one system only: "build" makes triage's index of
 * the corpus and writes it to a directory, "serve" loads it and answers
 * the queries, "fts5" does both for SQLite FTS5, and "report" reads the
 * figures the phases printed ("key value" lines) and prints the table.
 * A corpus is made the same way, bit for bit, by every phase.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_BENCH_SEARCH_H
#define TR_BENCH_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "retrieval.h"

/*
 * Default corpus size, and the articles of the timed "reindex" subset:
 * a help center of 10,000 articles, the whole articles at the head of
 * the corpus (their chunks, about 2.5 an article, are all indexed).
 */
#define BENCH_CHUNKS 100000
#define BENCH_ARTICLES 10000

/*
 * Throughput: the collection's queries cycled up to this many, within
 * at most this many seconds.
 */
#define BENCH_QUERIES 5000
#define BENCH_SECONDS 30

/*
 * Chunks: the collection's documents first, then generated ones.
 * article[i] is the article of chunk i; the chunks of an article are
 * consecutive and articles are numbered from 0 in corpus order.
 */
struct bench_corpus {
    size_t n;
    size_t n_real;
    const char **title;
    const char **text;
    uint32_t *article;
    struct tr_arena *arena;     /* owns the generated strings */
};

/* One query of a timed run: does the work, returns 0 or -1. */
typedef int (*bench_query_fn)(void *worker, size_t qi);

/*
 * Make a corpus of `n` chunks from the collection `ds` (borrowed; its
 * documents are chunks 0 .. n_docs - 1) and generated text drawn with
 * the fixed `seed`.  0 or -1 (out of memory) with a message on stderr.
 * Free with bench_corpus_free().
 */
int bench_corpus_make(const struct tr_eval_dataset *ds, size_t n,
                      uint64_t seed, struct bench_corpus *c);

/* Free what bench_corpus_make() made.  A zeroed corpus is a no-op. */
void bench_corpus_free(struct bench_corpus *c);

/*
 * Number of chunks of the first `n_articles` articles of `c` (all of
 * them when the corpus holds fewer articles).
 */
size_t bench_corpus_head(const struct bench_corpus *c, size_t n_articles);

/* Monotonic seconds. */
double bench_now(void);

/* VmRSS and VmHWM of this process in KiB (0 when unknown). */
void bench_mem(long *rss_kb, long *hwm_kb);

/* Give freed heap back to the system, then print rss/hwm as `prefix`. */
void bench_mem_print(const char *prefix);

/*
 * Start the peak (VmHWM) afresh from the current resident size, so that
 * a later bench_mem_print() gives the peak of what followed.  Quietly
 * does nothing where the kernel does not allow it (before Linux 4.0).
 */
void bench_mem_peak_reset(void);

/* Print p50, p99 and mean (ms) of `n` latencies under `prefix`. */
void bench_latency_print(const char *prefix, double *lat, size_t n);

/*
 * Run `n` calls over `n_threads` threads, thread t taking i = t,
 * t + n_threads, ..., with workers[t], each thread stopping early once
 * `budget_s` seconds have passed so that a slow system keeps the run
 * bounded.  `init` (may be NULL) runs first on each thread.  Returns
 * the wall time in seconds and the calls made in *n_done, or -1 on
 * failure.
 */
double bench_threads(bench_query_fn fn, void **workers, int n_threads,
                     size_t n, double budget_s, void (*init)(void),
                     size_t *n_done);

/*
 * Phases, each returning the exit code of the process.  `n` chunks of
 * corpus, the reindex timed on the first `n_articles` articles.  Quality
 * and single-thread latency come from one pass over every query of the
 * collection; throughput on two threads from `n_queries` queries (the
 * collection's, cycled) within at most `budget_s` seconds.
 */
int bench_phase_build(const struct tr_eval_dataset *ds, size_t n,
                      size_t n_articles, const char *dir);
int bench_phase_serve(const struct tr_eval_dataset *ds, const char *dir,
                      size_t n_queries, double budget_s);
int bench_phase_fts5(const struct tr_eval_dataset *ds, size_t n,
                     size_t n_articles, size_t n_queries, double budget_s);

/*
 * nDCG@10 helper: add ranking `ranked` (chunk numbers) of query `q` to
 * `m`; only chunks of the collection can be relevant.
 */
void bench_score(struct tr_eval_metrics *m, const struct tr_eval_query *q,
                 const int64_t *ranked, size_t n_ranked);

#endif /* TR_BENCH_SEARCH_H */
