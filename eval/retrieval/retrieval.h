/*
 * retrieval.h
 *      Offline evaluation of retrieval: test collections and ranking
 *      metrics.
 *
 * A collection is a directory with corpus.jsonl ({"id","title","text"}),
 * queries.jsonl ({"id","text","half"}) and qrels.tsv (query id, doc id,
 * relevance, one header line).  Documents are numbered in file order and
 * rankings are given as arrays of those numbers.  Each document also
 * belongs to an article: the part of its id before the last '-' (StackFAQ
 * "t012-a03" belongs to "t012"), or its whole id when it has none.
 *
 * Metrics follow the definitions of the collections' README: MRR@10
 * (reciprocal rank of the first relevant document within the top 10),
 * Success@k, Recall@k (relevant found in the top k over all relevant),
 * nDCG@10 with binary gain and a log2(rank + 1) discount.  A query with
 * no relevant document counts with zeros.  Everything here is plain data
 * and pure functions: a loaded collection may be read by many threads.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_EVAL_RETRIEVAL_H
#define TR_EVAL_RETRIEVAL_H

#include <stddef.h>
#include <stdint.h>

#include "bm25.h"
#include "embed.h"
#include "err.h"
#include "search.h"

/* Largest file of a collection that is read, in bytes. */
#define TR_EVAL_FILE_MAX (256u * 1024 * 1024)

struct tr_eval_doc {
    const char *id;
    const char *title;      /* empty when the line has none */
    const char *text;
    uint32_t article;       /* article number, 0 .. n_articles - 1 */
};

struct tr_eval_query {
    const char *id;
    const char *text;
    char half;              /* 'a', 'b' or 0 when absent */
    size_t n_rel;
    const int64_t *rel;     /* numbers of the relevant documents */
};

struct tr_eval_dataset {
    size_t n_docs;
    struct tr_eval_doc *docs;
    size_t n_queries;
    struct tr_eval_query *queries;
    size_t n_articles;
    struct tr_arena *arena; /* owns every string and array above */
};

/* Sums while scoring, means after tr_eval_metrics_finish(). */
struct tr_eval_metrics {
    size_t n_queries;
    double mrr_10;
    double ndcg_10;
    double recall_1;
    double recall_5;
    double recall_10;
    double success_1;
    double success_5;
    double success_10;
};

/*
 * Load the collection in directory `dir`.  On success *out is a new
 * collection that the caller frees with tr_eval_dataset_free().  Fails
 * with TR_E_NOTFOUND (a file is missing), TR_E_IO, TR_E_TOOBIG (a file
 * past TR_EVAL_FILE_MAX), TR_E_PARSE (bad JSON line, missing field,
 * duplicate id, qrels naming an unknown query or document; the message
 * names the file and line) or TR_E_NOMEM.  Any thread.
 */
enum tr_err tr_eval_dataset_load(const char *dir,
                                 struct tr_eval_dataset **out,
                                 struct tr_error *err);

/* Free `ds`.  NULL is a no-op. */
void tr_eval_dataset_free(struct tr_eval_dataset *ds);

/*
 * Return the number of the document whose id is `id`, or -1.  Linear in
 * the number of documents.
 */
int64_t tr_eval_dataset_doc(const struct tr_eval_dataset *ds,
                            const char *id);

/* Set every field of `m` to zero. */
void tr_eval_metrics_init(struct tr_eval_metrics *m);

/*
 * Score one query: `ranked` holds `n_ranked` document numbers best first
 * (only the first 10 matter), `rel` the `n_rel` relevant ones.  Adds the
 * query's values to the sums of `m`.  Pure.
 */
void tr_eval_metrics_add(struct tr_eval_metrics *m, const int64_t *ranked,
                         size_t n_ranked, const int64_t *rel, size_t n_rel);

/* Turn the sums of `m` into means over its queries. */
void tr_eval_metrics_finish(struct tr_eval_metrics *m);

/*
 * Settings of one evaluation run.  tr_eval_run_opts_default() gives the
 * project's defaults for each part.
 */
struct tr_eval_run_opts {
    struct tr_bm25_opts bm25;
    struct tr_embed_local_opts embed;
    struct tr_search_opts search;
    char half;              /* 'a' or 'b': only those queries; 0: all */
    int article_level;      /* rank articles instead of documents */
    int title_repeat;       /* times the title is given to the embedder */
};

/* Metrics of the three retrievers, with timings. */
struct tr_eval_run_result {
    struct tr_eval_metrics bm25;
    struct tr_eval_metrics dense;
    struct tr_eval_metrics hybrid;
    size_t n_docs;
    size_t n_queries;
    double build_s;         /* BM25, embedder, vectors */
    double query_s;         /* all three retrievers, all queries */
};

/* Fill `o` with the defaults of every part.  Pure. */
void tr_eval_run_opts_default(struct tr_eval_run_opts *o);

/*
 * Build the in-memory index of `ds` (BM25, local embedder learnt from
 * the corpus, exact FAISS index) and score its queries with BM25 alone,
 * dense alone and hybrid search, into `r`.  Documents are the chunks;
 * with article_level they are grouped by article and ranked as such.
 * Returns TR_OK or the error of a part.  One thread (BLAS and FAISS may
 * use their own).
 */
enum tr_err tr_eval_retrieval_run(const struct tr_eval_dataset *ds,
                                  const struct tr_eval_run_opts *o,
                                  struct tr_eval_run_result *r,
                                  struct tr_error *err);

#endif /* TR_EVAL_RETRIEVAL_H */
