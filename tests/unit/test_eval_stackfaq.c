/*
 * test_eval_stackfaq.c
 *      Quality floor of the default retrieval settings on StackFAQ:
 *      hybrid search must beat the SQLite FTS5 baseline (nDCG@10 0.724)
 *      and BM25 alone.
 *
 * The collection lives in ../shared/datasets/stackfaq beside the source
 * tree; its absence fails the test with a message, since CI has it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <stdlib.h>

#include "retrieval.h"

static void
eval_stackfaq_hybrid_beats_fts5(void **state)
{
    const char *src = getenv("TR_SOURCE_DIR");
    struct tr_eval_dataset *ds = NULL;
    struct tr_eval_run_opts o;
    struct tr_eval_run_result r;
    struct tr_error err;
    char dir[4096];

    if (src == NULL)
        fail_msg("TR_SOURCE_DIR is not set; run the test through ctest");
    snprintf(dir, sizeof(dir), "%s/../shared/datasets/stackfaq", src);
    if (tr_eval_dataset_load(dir, &ds, &err) != TR_OK)
        fail_msg("StackFAQ collection not usable at \"%s\": %s", dir,
                 err.msg);

    tr_eval_run_opts_default(&o);
    if (tr_eval_retrieval_run(ds, &o, &r, &err) != TR_OK)
        fail_msg("evaluation run failed: %s", err.msg);
    printf("bm25 nDCG@10 %.4f MRR@10 %.4f\n", r.bm25.ndcg_10,
           r.bm25.mrr_10);
    printf("dense nDCG@10 %.4f MRR@10 %.4f\n", r.dense.ndcg_10,
           r.dense.mrr_10);
    printf("hybrid nDCG@10 %.4f MRR@10 %.4f\n", r.hybrid.ndcg_10,
           r.hybrid.mrr_10);

    assert_int_equal(r.n_queries, 1249);
    assert_true(r.hybrid.ndcg_10 > 0.724);
    assert_true(r.hybrid.ndcg_10 > r.bm25.ndcg_10);
    tr_eval_dataset_free(ds);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(eval_stackfaq_hybrid_beats_fts5),
};

TR_TEST_MAIN(cases)
