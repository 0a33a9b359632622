/*
 * run.c
 *      One evaluation run: build the in-memory index of a collection and
 *      measure BM25, dense and hybrid retrieval on its queries.
 *
 * The documents are indexed as chunks numbered in file order; their
 * article is the collection's article number.  At document level each
 * document is its own article for the searcher, so grouping changes
 * nothing; at article level the searcher groups and the relevant set of
 * a query becomes the articles of its relevant documents.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "retrieval.h"
#include "vec.h"

/* Everything one run builds, freed together. */
struct built {
    struct tr_bm25 *bm25;
    struct tr_embedder *emb;
    struct tr_vec_index *vec;
    struct tr_search *only_bm25;
    struct tr_search *only_dense;
    struct tr_search *hybrid;
};

void
tr_eval_run_opts_default(struct tr_eval_run_opts *o)
{
    memset(o, 0, sizeof(*o));
    tr_bm25_opts_default(&o->bm25);
    tr_embed_local_opts_default(&o->embed);
    tr_search_opts_default(&o->search);
    o->title_repeat = 2;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* The text given to the embedder for document `d`. */
static char *
doc_text(const struct tr_eval_doc *d, int title_repeat)
{
    size_t tl = strlen(d->title), xl = strlen(d->text);
    char *s = malloc((tl + 2) * (size_t) title_repeat + xl + 1), *p = s;

    if (s == NULL)
        return NULL;
    for (int i = 0; i < title_repeat; i++) {
        memcpy(p, d->title, tl);
        p += tl;
        *p++ = '\n';
    }
    memcpy(p, d->text, xl + 1);
    return s;
}

/* Learn the embedder and fill the exact vector index. */
static enum tr_err
build_dense(const struct tr_eval_dataset *ds,
            const struct tr_eval_run_opts *o, struct built *b,
            struct tr_error *err)
{
    char **texts = calloc(ds->n_docs + 1, sizeof(*texts));
    int64_t *ids = malloc((ds->n_docs + 1) * sizeof(*ids));
    float *v = NULL;
    enum tr_err rc = TR_E_NOMEM;
    int dim = o->embed.dim;

    if (texts == NULL || ids == NULL)
        goto nomem;
    for (size_t i = 0; i < ds->n_docs; i++) {
        texts[i] = doc_text(&ds->docs[i], o->title_repeat);
        ids[i] = (int64_t) i;
        if (texts[i] == NULL)
            goto nomem;
    }
    v = malloc((ds->n_docs + 1) * (size_t) dim * sizeof(*v));
    if (v == NULL)
        goto nomem;

    b->emb = tr_embed_local_train((const char *const *) texts, ds->n_docs,
                                  &o->embed, err);
    if (b->emb == NULL) {
        rc = err != NULL ? err->code : TR_E_INDEX;
        goto out;
    }
    rc = tr_embedder_embed(b->emb, (const char *const *) texts, ds->n_docs,
                           dim, v, err);
    if (rc == TR_OK) {
        b->vec = tr_vec_index_new(dim, "Flat", err);
        rc = b->vec == NULL ? (err != NULL ? err->code : TR_E_INDEX)
                            : TR_OK;
    }
    if (rc == TR_OK)
        rc = tr_vec_index_add(b->vec, ds->n_docs, dim, v, ids, err);

    goto out;

nomem:
    rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
out:
    for (size_t i = 0; texts != NULL && i < ds->n_docs; i++)
        free(texts[i]);
    free(texts);
    free(ids);
    free(v);
    return rc;
}

static void
built_free(struct built *b)
{
    tr_search_free(b->only_bm25);
    tr_search_free(b->only_dense);
    tr_search_free(b->hybrid);
    tr_vec_index_free(b->vec);
    tr_embedder_free(b->emb);
    tr_bm25_free(b->bm25);
}

/* Build BM25, the dense side and the three searchers. */
static enum tr_err
build_all(const struct tr_eval_dataset *ds, const struct tr_eval_run_opts *o,
          struct built *b, struct tr_error *err)
{
    int64_t *ids = malloc((ds->n_docs + 1) * sizeof(*ids));
    int64_t *arts = malloc((ds->n_docs + 1) * sizeof(*arts));
    enum tr_err rc = TR_OK;

    if (ids == NULL || arts == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < ds->n_docs; i++) {
        ids[i] = (int64_t) i;
        arts[i] = o->article_level ? ds->docs[i].article : (int64_t) i;
    }

    b->bm25 = tr_bm25_new(&o->bm25, err);
    if (b->bm25 == NULL) {
        rc = err != NULL ? err->code : TR_E_INVAL;
        goto out;
    }
    for (size_t i = 0; i < ds->n_docs && rc == TR_OK; i++)
        rc = tr_bm25_add(b->bm25, ids[i], ds->docs[i].title,
                         ds->docs[i].text, err);
    if (rc == TR_OK)
        rc = tr_bm25_build(b->bm25, err);
    if (rc == TR_OK)
        rc = build_dense(ds, o, b, err);
    if (rc != TR_OK)
        goto out;

    b->only_bm25 = tr_search_new(b->bm25, NULL, NULL, ids, arts,
                                 ds->n_docs, &o->search, err);
    b->only_dense = tr_search_new(NULL, b->vec, b->emb, ids, arts,
                                  ds->n_docs, &o->search, err);
    b->hybrid = tr_search_new(b->bm25, b->vec, b->emb, ids, arts,
                              ds->n_docs, &o->search, err);
    if (b->only_bm25 == NULL || b->only_dense == NULL || b->hybrid == NULL)
        rc = err != NULL ? err->code : TR_E_INVAL;

out:
    free(ids);
    free(arts);
    return rc;
}

/*
 * Score query `q` with searcher `s` into `m`.  At article level the
 * relevant set is the distinct articles of the relevant documents.
 */
static enum tr_err
score_one(const struct tr_eval_dataset *ds, const struct tr_eval_run_opts *o,
          const struct tr_search *s, const struct tr_eval_query *q,
          struct tr_eval_metrics *m, struct tr_error *err)
{
    struct tr_search_hit hits[10];
    int64_t ranked[10], rel[64];
    size_t n, n_rel = 0;
    enum tr_err rc;

    rc = tr_search_query(s, q->text, 10, hits, &n, err);
    if (rc != TR_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        ranked[i] = o->article_level ? hits[i].article_id : hits[i].chunk_id;
    if (!o->article_level) {
        tr_eval_metrics_add(m, ranked, n, q->rel, q->n_rel);
        return TR_OK;
    }
    for (size_t i = 0; i < q->n_rel && n_rel < 64; i++) {
        int64_t a = ds->docs[q->rel[i]].article;
        size_t j;

        for (j = 0; j < n_rel && rel[j] != a; j++)
            ;
        if (j == n_rel)
            rel[n_rel++] = a;
    }
    tr_eval_metrics_add(m, ranked, n, rel, n_rel);
    return TR_OK;
}

enum tr_err
tr_eval_retrieval_run(const struct tr_eval_dataset *ds,
                      const struct tr_eval_run_opts *o,
                      struct tr_eval_run_result *r, struct tr_error *err)
{
    struct built b = {0};
    enum tr_err rc;
    double t0 = now_s();

    memset(r, 0, sizeof(*r));
    rc = build_all(ds, o, &b, err);
    if (rc != TR_OK)
        goto out;
    r->build_s = now_s() - t0;
    r->n_docs = ds->n_docs;

    t0 = now_s();
    for (size_t i = 0; i < ds->n_queries && rc == TR_OK; i++) {
        const struct tr_eval_query *q = &ds->queries[i];

        if (o->half != 0 && q->half != o->half)
            continue;
        r->n_queries++;
        rc = score_one(ds, o, b.only_bm25, q, &r->bm25, err);
        if (rc == TR_OK)
            rc = score_one(ds, o, b.only_dense, q, &r->dense, err);
        if (rc == TR_OK)
            rc = score_one(ds, o, b.hybrid, q, &r->hybrid, err);
    }
    r->query_s = now_s() - t0;
    tr_eval_metrics_finish(&r->bm25);
    tr_eval_metrics_finish(&r->dense);
    tr_eval_metrics_finish(&r->hybrid);

out:
    built_free(&b);
    return rc;
}
