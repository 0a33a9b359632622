/*
 * bm25_search.c
 *      Top-k search over a built BM25 index.
 *
 * Each call owns its score accumulator and tokenizer, and only reads the
 * index, so any number of threads may search one index together.  The
 * best k chunks are kept in a min-heap whose root is the weakest kept
 * hit; equal scores prefer the chunk added first.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>

#include "bm25_int.h"

/*
 * Scores accumulate in floats, the precision of the hits: half the
 * memory of doubles, which keeps the accumulator of 100,000 chunks in a
 * core's cache while the postings scatter into it.
 */
struct search_ctx {
    const struct tr_bm25 *ix;
    float *acc;
};

/* Add the contribution of one query token to every chunk holding it. */
static enum tr_err
score_token(void *arg, const char *tok, size_t len)
{
    struct search_ctx *c = arg;
    const struct tr_bm25__term *t;
    int64_t n;

    n = tr_bm25__term_lookup(c->ix, tok, len);
    if (n < 0)
        return TR_OK;
    t = &c->ix->terms[n];
    for (uint32_t j = 0; j < t->n_post; j++)
        c->acc[t->post[j].doc] += t->idf * t->post[j].w;
    return TR_OK;
}

/* Whether chunk a (score sa) ranks below chunk b (score sb). */
static int
ranks_below(float sa, uint32_t a, float sb, uint32_t b)
{
    return sa < sb || (sa == sb && a > b);
}

/* Restore the heap property below position `i` of `heap` (size `n`). */
static void
sift_down(uint32_t *heap, size_t n, size_t i, const float *acc)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        uint32_t tmp;

        if (l < n && ranks_below(acc[heap[l]], heap[l], acc[heap[m]],
                                 heap[m]))
            m = l;
        if (r < n && ranks_below(acc[heap[r]], heap[r], acc[heap[m]],
                                 heap[m]))
            m = r;
        if (m == i)
            return;
        tmp = heap[i];
        heap[i] = heap[m];
        heap[m] = tmp;
        i = m;
    }
}

/*
 * Keep the best `k` chunks with a positive score in `heap`, then pop
 * them into `hits` best first.  Returns how many were written.
 */
static size_t
select_top(const struct tr_bm25 *ix, const float *acc, uint32_t *heap,
           size_t k, struct tr_bm25_hit *hits)
{
    size_t n = 0;

    for (uint32_t d = 0; d < ix->n_docs; d++) {
        if (acc[d] <= 0.0f)
            continue;
        if (n < k) {
            /* Fill, then heapify once the heap is full. */
            heap[n++] = d;
            if (n == k)
                for (size_t i = k / 2 + 1; i-- > 0;)
                    sift_down(heap, n, i, acc);
        } else if (ranks_below(acc[heap[0]], heap[0], acc[d], d)) {
            heap[0] = d;
            sift_down(heap, n, 0, acc);
        }
    }
    if (n < k)
        for (size_t i = n / 2 + 1; i-- > 0;)
            sift_down(heap, n, i, acc);

    /* Popping the minimum fills the output from its end. */
    for (size_t m = n; m > 0; m--) {
        hits[m - 1].id = ix->ids[heap[0]];
        hits[m - 1].score = acc[heap[0]];
        heap[0] = heap[m - 1];
        sift_down(heap, m - 1, 0, acc);
    }
    return n;
}

enum tr_err
tr_bm25_search(const struct tr_bm25 *ix, const char *query, size_t k,
               struct tr_bm25_hit *hits, size_t *n_hits,
               struct tr_error *err)
{
    struct tr_bm25_tokenizer *tok = NULL;
    struct search_ctx c = {ix, NULL};
    uint32_t *heap = NULL;
    enum tr_err rc = TR_OK;

    *n_hits = 0;
    if (!ix->built)
        return TR_ERROR(err, TR_E_CONFLICT, "bm25 index is not built");
    if (k == 0 || ix->n_docs == 0)
        return TR_OK;
    if (k > ix->n_docs)
        k = ix->n_docs;

    tok = tr_bm25_tokenizer_new(ix->opts.stem_lang, err);
    if (tok == NULL)
        return err != NULL ? err->code : TR_E_NOMEM;
    c.acc = calloc(ix->n_docs, sizeof(*c.acc));
    heap = malloc(k * sizeof(*heap));
    if (c.acc == NULL || heap == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }

    rc = tr_bm25_tokenize(tok, query, score_token, &c);
    if (rc != TR_OK) {
        TR_ERROR(err, rc, "could not tokenize the query");
        goto out;
    }
    *n_hits = select_top(ix, c.acc, heap, k, hits);

out:
    free(heap);
    free(c.acc);
    tr_bm25_tokenizer_free(tok);
    return rc;
}
