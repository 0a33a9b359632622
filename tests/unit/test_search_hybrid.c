/*
 * test_search_hybrid.c
 *      Fusion of hand-made ranked lists, grouping by article, and a
 *      hybrid searcher over a tiny corpus queried from two threads.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <pthread.h>
#include <stdlib.h>

#include "search.h"

static void
search_rrf_fuses_hand_made_lists(void **state)
{
    const int64_t bid[] = {1, 2, 3}, did[] = {3, 4, 1};
    const float bs[] = {9, 5, 1}, ds[] = {0.9f, 0.8f, 0.1f};
    struct tr_search_list b = {bid, bs, 3}, d = {did, ds, 3};
    struct tr_search_opts o;
    struct tr_search_hit h[4];
    size_t n;

    tr_search_opts_default(&o);
    o.fusion = TR_SEARCH_RRF;
    o.group_by_article = 0;
    assert_int_equal(tr_search_fuse(NULL, &o, &b, &d, 4, h, &n, NULL),
                     TR_OK);
    assert_int_equal(n, 4);

    /* 1 and 3 both score 1/61 + 1/63; 1 was seen first. */
    assert_int_equal(h[0].chunk_id, 1);
    assert_float_equal(h[0].score, 1.0 / 61 + 1.0 / 63, 1e-12);
    assert_int_equal(h[0].bm25_rank, 1);
    assert_int_equal(h[0].dense_rank, 3);
    assert_float_equal(h[0].dense_score, 0.1, 1e-6);
    assert_int_equal(h[1].chunk_id, 3);
    /* 2 and 4 both score 1/62. */
    assert_int_equal(h[2].chunk_id, 2);
    assert_int_equal(h[2].dense_rank, 0);
    assert_int_equal(h[3].chunk_id, 4);
    assert_int_equal(h[3].bm25_rank, 0);
    assert_float_equal(h[3].score, 1.0 / 62, 1e-12);

    /* Weights: dense counted twice puts 3 ahead of 1. */
    o.w_dense = 2.0;
    assert_int_equal(tr_search_fuse(NULL, &o, &b, &d, 2, h, &n, NULL),
                     TR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(h[0].chunk_id, 3);
    assert_float_equal(h[0].score, 1.0 / 63 + 2.0 / 61, 1e-12);
    assert_int_equal(h[1].chunk_id, 1);
    assert_float_equal(h[1].score, 1.0 / 61 + 2.0 / 63, 1e-12);
}

static void
search_score_fusion_normalises_each_list(void **state)
{
    const int64_t bid[] = {1, 2, 3}, did[] = {3, 4, 1};
    const float bs[] = {9, 5, 1}, ds[] = {0.9f, 0.8f, 0.1f};
    struct tr_search_list b = {bid, bs, 3}, d = {did, ds, 3};
    struct tr_search_opts o;
    struct tr_search_hit h[4];
    size_t n;

    tr_search_opts_default(&o);
    o.fusion = TR_SEARCH_SCORE;
    o.group_by_article = 0;
    assert_int_equal(tr_search_fuse(NULL, &o, &b, &d, 4, h, &n, NULL),
                     TR_OK);
    assert_int_equal(n, 4);

    /* bm25: (s - 1) / 8; dense: (s - 0.1) / 0.8. */
    assert_int_equal(h[0].chunk_id, 1);
    assert_float_equal(h[0].score, 1.0 + 0.0, 1e-6);
    assert_int_equal(h[1].chunk_id, 3);
    assert_float_equal(h[1].score, 0.0 + 1.0, 1e-6);
    assert_int_equal(h[2].chunk_id, 4);
    assert_float_equal(h[2].score, 0.7 / 0.8, 1e-6);
    assert_int_equal(h[3].chunk_id, 2);
    assert_float_equal(h[3].score, 0.5, 1e-6);
}

static void
search_groups_chunks_by_article(void **state)
{
    const int64_t chunks[] = {10, 11, 12, 20, 21, 30};
    const int64_t arts[] = {1, 1, 1, 2, 2, 3};
    const int64_t bid[] = {11, 10, 21, 30}, did[] = {12, 20};
    const float bs[] = {4, 3, 2, 1}, ds[] = {0.5f, 0.4f};
    struct tr_search_list b = {bid, bs, 4}, d = {did, ds, 2};
    struct tr_search_opts o;
    struct tr_search_hit h[5];
    struct tr_search *s;
    struct tr_bm25 *bm;
    size_t n;

    /* A searcher is only needed for its chunk-to-article map. */
    bm = tr_bm25_new(NULL, NULL);
    assert_non_null(bm);
    assert_int_equal(tr_bm25_build(bm, NULL), TR_OK);
    tr_search_opts_default(&o);
    o.fusion = TR_SEARCH_RRF;
    s = tr_search_new(bm, NULL, NULL, chunks, arts, 6, &o, NULL);
    assert_non_null(s);

    /* Fused order 11, 12, 10, 20, 21, 30: one hit per article. */
    assert_int_equal(tr_search_fuse(s, &o, &b, &d, 5, h, &n, NULL), TR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(h[0].chunk_id, 11);
    assert_int_equal(h[0].article_id, 1);
    assert_int_equal(h[1].chunk_id, 20);
    assert_int_equal(h[1].article_id, 2);
    assert_int_equal(h[2].chunk_id, 30);
    assert_int_equal(h[2].article_id, 3);

    /* Without grouping all six come back. */
    o.group_by_article = 0;
    assert_int_equal(tr_search_fuse(s, &o, &b, &d, 6, h, &n, NULL), TR_OK);
    assert_int_equal(n, 6);
    tr_search_free(s);
    tr_bm25_free(bm);
}

/* Chunks of three articles for the end-to-end case. */
static const char *const texts[] = {
    "Reset your password from the security settings page.",
    "A password reset link is sent to your email address.",
    "Download invoices as CSV from the billing page.",
    "Each invoice can be saved as a PDF file.",
    "Enable two-factor authentication with a phone app.",
    "Backup codes let you login without your phone.",
};
static const int64_t ids[] = {100, 101, 200, 201, 300, 301};
static const int64_t articles[] = {1, 1, 2, 2, 3, 3};

struct fixture {
    struct tr_bm25 *bm25;
    struct tr_embedder *emb;
    struct tr_vec_index *vec;
    struct tr_search *s;
};

static void
fixture_build(struct fixture *f)
{
    struct tr_embed_local_opts eo;
    float v[6 * 8];

    f->bm25 = tr_bm25_new(NULL, NULL);
    assert_non_null(f->bm25);
    for (int i = 0; i < 6; i++)
        assert_int_equal(tr_bm25_add(f->bm25, ids[i], NULL, texts[i], NULL),
                         TR_OK);
    assert_int_equal(tr_bm25_build(f->bm25, NULL), TR_OK);
    tr_embed_local_opts_default(&eo);
    eo.dim = 8;
    eo.min_df = 1;
    f->emb = tr_embed_local_train(texts, 6, &eo, NULL);
    assert_non_null(f->emb);
    assert_int_equal(tr_embedder_embed(f->emb, texts, 6, 8, v, NULL), TR_OK);
    f->vec = tr_vec_index_new(8, "Flat", NULL);
    assert_non_null(f->vec);
    assert_int_equal(tr_vec_index_add(f->vec, 6, 8, v, ids, NULL), TR_OK);
    f->s = tr_search_new(f->bm25, f->vec, f->emb, ids, articles, 6, NULL,
                         NULL);
    assert_non_null(f->s);
}

static void
fixture_free(struct fixture *f)
{
    tr_search_free(f->s);
    tr_vec_index_free(f->vec);
    tr_embedder_free(f->emb);
    tr_bm25_free(f->bm25);
}

/* Each thread checks that the invoice question finds article 2 first. */
static void *
query_many(void *arg)
{
    const struct tr_search *s = arg;
    long bad = 0;

    for (int i = 0; i < 300; i++) {
        struct tr_search_hit h[3];
        size_t n;

        if (tr_search_query(s, "how do I download an invoice", 3, h, &n,
                            NULL) != TR_OK || n != 3
            || h[0].article_id != 2 || h[0].bm25_rank != 1)
            bad++;
    }
    return (void *) bad;
}

static void
search_hybrid_answers_from_two_threads(void **state)
{
    struct fixture f;
    struct tr_error err;
    pthread_t th[2];
    void *bad;

    fixture_build(&f);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, query_many, f.s), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], &bad), 0);
        assert_int_equal((long) bad, 0);
    }

    /* An index of another dimension is refused. */
    struct tr_vec_index *other = tr_vec_index_new(4, "Flat", NULL);
    assert_null(tr_search_new(NULL, other, f.emb, ids, articles, 6, NULL,
                              &err));
    assert_int_equal(err.code, TR_E_INVAL);
    assert_null(tr_search_new(NULL, NULL, NULL, ids, articles, 6, NULL,
                              &err));
    tr_vec_index_free(other);
    fixture_free(&f);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(search_rrf_fuses_hand_made_lists),
    cmocka_unit_test(search_score_fusion_normalises_each_list),
    cmocka_unit_test(search_groups_chunks_by_article),
    cmocka_unit_test(search_hybrid_answers_from_two_threads),
};

TR_TEST_MAIN(cases)
