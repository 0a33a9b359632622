/*
 * search.c
 *      Hybrid search: candidate lists, fusion and grouping by article.
 *
 * The searcher keeps only immutable data (options, borrowed retrievers
 * and a chunk-to-article table sorted by chunk id), so queries from many
 * threads share it without locks; each query works in its own buffers.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"

struct chunk_article {
    int64_t chunk;
    int64_t article;
};

struct tr_search {
    struct tr_search_opts opts;
    const struct tr_bm25 *bm25;
    const struct tr_vec_index *vec;
    const struct tr_embedder *emb;
    struct chunk_article *map;
    size_t n_map;
};

/* A fused candidate with the order in which it was first seen. */
struct cand {
    struct tr_search_hit hit;
    size_t order;
};

void
tr_search_opts_default(struct tr_search_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->fusion = TR_SEARCH_SCORE;
    o->rrf_k = 60.0;
    o->w_bm25 = 1.0;
    o->w_dense = 1.0;
    o->depth = 100;
    o->group_by_article = 1;
}

static int
cmp_chunk(const void *a, const void *b)
{
    int64_t x = ((const struct chunk_article *) a)->chunk;
    int64_t y = ((const struct chunk_article *) b)->chunk;

    return x < y ? -1 : x > y;
}

/* Check the options; TR_E_INVAL with a message. */
static enum tr_err
check_opts(const struct tr_search_opts *o, struct tr_error *err)
{
    if (o->fusion != TR_SEARCH_RRF && o->fusion != TR_SEARCH_SCORE)
        return TR_ERROR(err, TR_E_INVAL, "unknown fusion method %d",
                        (int) o->fusion);
    if (!(o->rrf_k >= 0.0) || !(o->w_bm25 >= 0.0) || !(o->w_dense >= 0.0))
        return TR_ERROR(err, TR_E_INVAL, "fusion weights and rrf k must "
                        "be >= 0");
    if (o->depth < 1 || o->depth > 100000)
        return TR_ERROR(err, TR_E_INVAL, "search depth %zu is not in "
                        "[1, 100000]", o->depth);
    return TR_OK;
}

struct tr_search *
tr_search_new(const struct tr_bm25 *bm25, const struct tr_vec_index *vec,
              const struct tr_embedder *emb, const int64_t *chunk_ids,
              const int64_t *article_ids, size_t n,
              const struct tr_search_opts *o, struct tr_error *err)
{
    struct tr_search *s;

    if (bm25 == NULL && (vec == NULL || emb == NULL)) {
        TR_ERROR(err, TR_E_INVAL, "search needs bm25 or a vector index "
                 "with its embedder");
        return NULL;
    }
    if (vec != NULL && emb != NULL
        && tr_vec_index_dim(vec) != tr_embedder_dim(emb)) {
        TR_ERROR(err, TR_E_INVAL, "embedder \"%s\" gives %d dimensions, "
                 "the vector index holds %d", tr_embedder_name(emb),
                 tr_embedder_dim(emb), tr_vec_index_dim(vec));
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        return NULL;
    }
    if (o != NULL)
        s->opts = *o;
    else
        tr_search_opts_default(&s->opts);
    if (check_opts(&s->opts, err) != TR_OK)
        goto fail;
    s->bm25 = bm25;
    s->vec = emb != NULL ? vec : NULL;
    s->emb = vec != NULL ? emb : NULL;

    s->map = malloc((n + 1) * sizeof(*s->map));
    if (s->map == NULL) {
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        s->map[i].chunk = chunk_ids[i];
        s->map[i].article = article_ids[i];
    }
    s->n_map = n;
    qsort(s->map, n, sizeof(*s->map), cmp_chunk);
    return s;

fail:
    free(s);
    return NULL;
}

void
tr_search_free(struct tr_search *s)
{
    if (s == NULL)
        return;
    free(s->map);
    free(s);
}

/* Article of `chunk`, or the chunk id itself when it is not mapped. */
static int64_t
article_of(const struct tr_search *s, int64_t chunk)
{
    struct chunk_article key = {chunk, 0}, *hit;

    if (s == NULL || s->n_map == 0)
        return chunk;
    hit = bsearch(&key, s->map, s->n_map, sizeof(*s->map), cmp_chunk);
    return hit != NULL ? hit->article : chunk;
}

/* Best score first; equal scores in order of first appearance. */
static int
cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;

    if (x->hit.score != y->hit.score)
        return x->hit.score > y->hit.score ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Find the candidate of chunk `id` among the first `n`, or -1. */
static ptrdiff_t
find_cand(const struct cand *c, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (c[i].hit.chunk_id == id)
            return (ptrdiff_t) i;
    return -1;
}

/* Smallest and largest score of a list, for min-max normalisation. */
static void
list_range(const struct tr_search_list *l, double *lo, double *span)
{
    double mn = DBL_MAX, mx = -DBL_MAX;

    for (size_t i = 0; i < l->n; i++) {
        mn = l->scores[i] < mn ? l->scores[i] : mn;
        mx = l->scores[i] > mx ? l->scores[i] : mx;
    }
    *lo = mn;
    *span = mx > mn ? mx - mn : 0.0;
}

/* The contribution of one list to a candidate's fused score. */
static double
part(const struct tr_search_opts *o, double w, int rank, float score,
     double lo, double span)
{
    if (rank == 0)
        return 0.0;
    if (o->fusion == TR_SEARCH_RRF)
        return w / (o->rrf_k + rank);
    return w * (span > 0.0 ? (score - lo) / span : 1.0);
}

/* Merge the two lists into `c`; returns the number of candidates. */
static size_t
gather(const struct tr_search *s, const struct tr_search_list *bm25,
       const struct tr_search_list *dense, struct cand *c)
{
    size_t n = 0;

    for (size_t i = 0; i < bm25->n; i++) {
        memset(&c[n], 0, sizeof(c[n]));
        c[n].hit.chunk_id = bm25->ids[i];
        c[n].hit.article_id = article_of(s, bm25->ids[i]);
        c[n].hit.bm25_rank = (int) i + 1;
        c[n].hit.bm25_score = bm25->scores[i];
        c[n].order = n;
        n++;
    }
    for (size_t i = 0; i < dense->n; i++) {
        ptrdiff_t j = find_cand(c, bm25->n, dense->ids[i]);

        if (j < 0) {
            j = (ptrdiff_t) n;
            memset(&c[n], 0, sizeof(c[n]));
            c[n].hit.chunk_id = dense->ids[i];
            c[n].hit.article_id = article_of(s, dense->ids[i]);
            c[n].order = n;
            n++;
        }
        c[j].hit.dense_rank = (int) i + 1;
        c[j].hit.dense_score = dense->scores[i];
    }
    return n;
}

enum tr_err
tr_search_fuse(const struct tr_search *s, const struct tr_search_opts *o,
               const struct tr_search_list *bm25,
               const struct tr_search_list *dense, size_t k,
               struct tr_search_hit *hits, size_t *n_hits,
               struct tr_error *err)
{
    struct cand *c = malloc((bm25->n + dense->n + 1) * sizeof(*c));
    double blo, bspan, dlo, dspan;
    size_t n, out = 0;

    *n_hits = 0;
    if (c == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    n = gather(s, bm25, dense, c);
    list_range(bm25, &blo, &bspan);
    list_range(dense, &dlo, &dspan);
    for (size_t i = 0; i < n; i++) {
        struct tr_search_hit *h = &c[i].hit;

        h->score = part(o, o->w_bm25, h->bm25_rank, h->bm25_score, blo,
                        bspan)
                   + part(o, o->w_dense, h->dense_rank, h->dense_score, dlo,
                          dspan);
    }
    qsort(c, n, sizeof(*c), cmp_cand);

    /* Keep the first chunk of each article when grouping. */
    for (size_t i = 0; i < n && out < k; i++) {
        int seen = 0;

        for (size_t j = 0; o->group_by_article && j < out && !seen; j++)
            seen = hits[j].article_id == c[i].hit.article_id;
        if (!seen)
            hits[out++] = c[i].hit;
    }
    *n_hits = out;
    free(c);
    return TR_OK;
}

/* The dense candidates of `query`: embed it, then search the index. */
static enum tr_err
dense_list(const struct tr_search *s, const char *query, size_t depth,
           int64_t *ids, float *scores, size_t *n, struct tr_error *err)
{
    int dim = tr_embedder_dim(s->emb);
    int64_t total = tr_vec_index_ntotal(s->vec);
    float *qv = malloc((size_t) dim * sizeof(*qv));
    enum tr_err rc;
    size_t m = 0;

    *n = 0;
    if (qv == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    if ((int64_t) depth > total)
        depth = (size_t) total;
    rc = tr_embedder_embed(s->emb, &query, 1, dim, qv, err);
    if (rc == TR_OK && depth > 0)
        rc = tr_vec_index_search(s->vec, 1, dim, qv, (int) depth, scores,
                                 ids, err);

    /* FAISS marks missing neighbours with id -1. */
    for (size_t i = 0; rc == TR_OK && i < depth; i++)
        if (ids[i] >= 0) {
            ids[m] = ids[i];
            scores[m++] = scores[i];
        }
    *n = m;
    free(qv);
    return rc;
}

enum tr_err
tr_search_query(const struct tr_search *s, const char *query, size_t k,
                struct tr_search_hit *hits, size_t *n_hits,
                struct tr_error *err)
{
    size_t depth = s->opts.depth;
    struct tr_bm25_hit *bh = calloc(depth, sizeof(*bh));
    int64_t *ids = calloc(2 * depth, sizeof(*ids));
    float *scores = calloc(2 * depth, sizeof(*scores));
    struct tr_search_list bl = {ids, scores, 0};
    struct tr_search_list dl = {ids + depth, scores + depth, 0};
    enum tr_err rc = TR_OK;

    *n_hits = 0;
    if (bh == NULL || ids == NULL || scores == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }
    if (s->bm25 != NULL) {
        rc = tr_bm25_search(s->bm25, query, depth, bh, &bl.n, err);
        if (rc != TR_OK)
            goto out;
        for (size_t i = 0; i < bl.n; i++) {
            ids[i] = bh[i].id;
            scores[i] = bh[i].score;
        }
    }
    if (s->vec != NULL) {
        rc = dense_list(s, query, depth, ids + depth, scores + depth,
                        &dl.n, err);
        if (rc != TR_OK)
            goto out;
    }
    rc = tr_search_fuse(s, &s->opts, &bl, &dl, k, hits, n_hits, err);

out:
    free(bh);
    free(ids);
    free(scores);
    return rc;
}
