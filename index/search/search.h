/*
 * search.h
 *      Hybrid search: BM25 and dense retrieval fused into one ranking,
 *      grouped by article.
 *
 * A struct tr_search borrows a built BM25 index, a FAISS index of chunk
 * embeddings and the embedder that made them, plus the article of every
 * chunk; either retriever may be absent, which gives BM25 alone or dense
 * alone through the same call.  Each retriever proposes its best `depth`
 * chunks; the lists are fused either by reciprocal rank fusion, score =
 * sum of w / (rrf_k + rank), or by a weighted sum of scores normalised
 * to [0, 1] within each list (min-max, a missing chunk counting 0).
 * Results can be grouped so that each article appears once, with its
 * best chunk.  Every hit keeps its component ranks and scores so that
 * an answer can be explained.  Title weight lives in the BM25 index
 * (struct tr_bm25_opts.title_weight).
 *
 * A struct tr_search holds no mutable state: any number of threads may
 * query it at once, as long as the borrowed objects outlive it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_SEARCH_H
#define TR_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "bm25.h"
#include "embed.h"
#include "err.h"
#include "vec.h"

#ifdef __cplusplus
extern "C" {
#endif

enum tr_search_fusion {
    TR_SEARCH_RRF = 0,      /* reciprocal rank fusion */
    TR_SEARCH_SCORE = 1     /* weighted sum of min-max normalised scores */
};

struct tr_search_opts {
    enum tr_search_fusion fusion;
    double rrf_k;           /* rank offset of RRF */
    double w_bm25;          /* weight of the BM25 list */
    double w_dense;         /* weight of the dense list */
    size_t depth;           /* candidates taken from each list */
    int group_by_article;   /* one hit per article, its best chunk */
};

/* One fused result; a rank is 1-based, 0 when that list missed it. */
struct tr_search_hit {
    int64_t chunk_id;
    int64_t article_id;
    double score;
    int bm25_rank;
    float bm25_score;
    int dense_rank;
    float dense_score;
};

/* One ranked input list of tr_search_fuse(), best first. */
struct tr_search_list {
    const int64_t *ids;
    const float *scores;
    size_t n;
};

struct tr_search;

/*
 * Fill `o` with the defaults: score fusion (RRF k 60 when switched to
 * RRF), weights 1 and 1, depth 100, grouped by article.  Pure.
 */
void tr_search_opts_default(struct tr_search_opts *o);

/*
 * Make a searcher over `n` chunks whose ids and article ids are
 * `chunk_ids[i]` and `article_ids[i]` (copied).  `bm25`, `vec` and
 * `emb` are borrowed and must outlive the searcher; `bm25` or the pair
 * (`vec`, `emb`) may be NULL, not both.  TR_E_INVAL when nothing is
 * given, the embedder's dimension differs from the index's or an option
 * is out of range; TR_E_NOMEM.  The caller owns the result and frees it
 * with tr_search_free().
 */
struct tr_search *tr_search_new(const struct tr_bm25 *bm25,
                                const struct tr_vec_index *vec,
                                const struct tr_embedder *emb,
                                const int64_t *chunk_ids,
                                const int64_t *article_ids, size_t n,
                                const struct tr_search_opts *o,
                                struct tr_error *err);

/* Free `s` (not the borrowed indexes).  NULL is a no-op. */
void tr_search_free(struct tr_search *s);

/*
 * Run `query` through the retrievers, fuse and write the best `k` hits
 * into `hits` (room for `k`), best first; *n_hits receives how many.
 * Returns TR_OK or the error of a retriever or the embedder.  Any
 * thread, concurrently.
 */
enum tr_err tr_search_query(const struct tr_search *s, const char *query,
                            size_t k, struct tr_search_hit *hits,
                            size_t *n_hits, struct tr_error *err);

/*
 * Fuse the lists `bm25` and `dense` (either may have n == 0) with the
 * options `o` and write the best `k` into `hits`; *n_hits receives how
 * many.  With `s` non-NULL its chunk-to-article map fills article_id
 * (an unknown chunk is its own article, id = chunk id); with `s` NULL
 * every chunk is its own article.  Equal scores keep the order of
 * first appearance (BM25 list first).  TR_E_NOMEM.  Pure apart from
 * reading `s`; any thread.
 */
enum tr_err tr_search_fuse(const struct tr_search *s,
                           const struct tr_search_opts *o,
                           const struct tr_search_list *bm25,
                           const struct tr_search_list *dense, size_t k,
                           struct tr_search_hit *hits, size_t *n_hits,
                           struct tr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* TR_SEARCH_H */
