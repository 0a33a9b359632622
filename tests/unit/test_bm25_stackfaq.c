/*
 * test_bm25_stackfaq.c
 *      Plain BM25 on StackFAQ reproduces the reference figures of the
 *      datasets README (719 items, query against title and answer).
 *
 * The collection lives in ../shared/datasets/stackfaq beside the source
 * tree; its absence fails the test with a message, since CI has it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <stdlib.h>

#include "bm25.h"
#include "retrieval.h"

/* Load StackFAQ or fail the test saying where it was looked for. */
static struct tr_eval_dataset *
load_stackfaq(void)
{
    const char *src = getenv("TR_SOURCE_DIR");
    struct tr_eval_dataset *ds = NULL;
    struct tr_error err;
    char dir[4096];

    if (src == NULL)
        fail_msg("TR_SOURCE_DIR is not set; run the test through ctest");
    snprintf(dir, sizeof(dir), "%s/../shared/datasets/stackfaq", src);
    if (tr_eval_dataset_load(dir, &ds, &err) != TR_OK)
        fail_msg("StackFAQ collection not usable at \"%s\": %s", dir,
                 err.msg);
    return ds;
}

/* Run every query through a plain BM25 with k1 and b; return metrics. */
static void
run_bm25(const struct tr_eval_dataset *ds, double k1, double b,
         struct tr_eval_metrics *m)
{
    struct tr_bm25_opts o;
    struct tr_bm25 *ix;

    tr_bm25_opts_default(&o);
    o.k1 = k1;
    o.b = b;
    o.title_weight = 1.0;
    o.stem_lang[0] = '\0';
    ix = tr_bm25_new(&o, NULL);
    assert_non_null(ix);

    /* The reference treats title and answer as one text. */
    for (size_t i = 0; i < ds->n_docs; i++) {
        size_t len = strlen(ds->docs[i].title) + strlen(ds->docs[i].text);
        char *both = malloc(len + 2);

        assert_non_null(both);
        sprintf(both, "%s %s", ds->docs[i].title, ds->docs[i].text);
        assert_int_equal(tr_bm25_add(ix, (int64_t) i, NULL, both, NULL),
                         TR_OK);
        free(both);
    }
    assert_int_equal(tr_bm25_build(ix, NULL), TR_OK);

    tr_eval_metrics_init(m);
    for (size_t q = 0; q < ds->n_queries; q++) {
        struct tr_bm25_hit hits[10];
        int64_t ranked[10];
        size_t n;

        assert_int_equal(tr_bm25_search(ix, ds->queries[q].text, 10, hits,
                                        &n, NULL), TR_OK);
        for (size_t i = 0; i < n; i++)
            ranked[i] = hits[i].id;
        tr_eval_metrics_add(m, ranked, n, ds->queries[q].rel,
                            ds->queries[q].n_rel);
    }
    tr_eval_metrics_finish(m);
    tr_bm25_free(ix);
}

static void
bm25_stackfaq_reproduces_reference_figures(void **state)
{
    struct tr_eval_dataset *ds = load_stackfaq();
    struct tr_eval_metrics m;

    assert_int_equal(ds->n_docs, 719);
    assert_int_equal(ds->n_queries, 1249);

    run_bm25(ds, 1.2, 0.75, &m);
    printf("k1 1.2 b 0.75: MRR@10 %.4f nDCG@10 %.4f S@1 %.4f R@10 %.4f\n",
           m.mrr_10, m.ndcg_10, m.success_1, m.recall_10);
    assert_float_equal(m.mrr_10, 0.7647, 0.001);
    assert_float_equal(m.ndcg_10, 0.6623, 0.001);
    assert_float_equal(m.success_1, 0.6797, 0.001);
    assert_float_equal(m.recall_10, 0.6775, 0.001);

    run_bm25(ds, 0.9, 0.4, &m);
    printf("k1 0.9 b 0.4: MRR@10 %.4f nDCG@10 %.4f\n", m.mrr_10,
           m.ndcg_10);
    assert_float_equal(m.mrr_10, 0.7337, 0.001);
    assert_float_equal(m.ndcg_10, 0.6235, 0.001);
    tr_eval_dataset_free(ds);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(bm25_stackfaq_reproduces_reference_figures),
};

TR_TEST_MAIN(cases)
