/*
 * test_eval_metrics.c
 *      Ranking metrics on hand-made rankings and loading of collections.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tr_test.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "retrieval.h"

static void
eval_metrics_match_hand_computation(void **state)
{
    struct tr_eval_metrics m;
    /* Query 1: relevant 7 and 9, ranked 3rd and 5th. */
    const int64_t r1[] = {1, 2, 7, 4, 9, 5};
    const int64_t rel1[] = {9, 7};
    /* Query 2: relevant 5 at rank 1, relevant 6 missing. */
    const int64_t r2[] = {5, 1, 2};
    const int64_t rel2[] = {5, 6};
    /* Query 3: its only relevant document comes 11th, past the cut. */
    const int64_t r3[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    const int64_t rel3[] = {11};
    double ideal2 = 1.0 + 1.0 / log2(3.0);
    double ndcg1 = (1.0 / log2(4.0) + 1.0 / log2(6.0)) / ideal2;
    double ndcg2 = 1.0 / ideal2;

    tr_eval_metrics_init(&m);
    tr_eval_metrics_add(&m, r1, 6, rel1, 2);
    tr_eval_metrics_add(&m, r2, 3, rel2, 2);
    tr_eval_metrics_add(&m, r3, 11, rel3, 1);
    tr_eval_metrics_finish(&m);

    assert_int_equal(m.n_queries, 3);
    assert_float_equal(m.mrr_10, (1.0 / 3 + 1.0 + 0.0) / 3, 1e-12);
    assert_float_equal(m.ndcg_10, (ndcg1 + ndcg2 + 0.0) / 3, 1e-12);
    assert_float_equal(m.recall_1, (0.0 + 0.5 + 0.0) / 3, 1e-12);
    assert_float_equal(m.recall_5, (1.0 + 0.5 + 0.0) / 3, 1e-12);
    assert_float_equal(m.recall_10, (1.0 + 0.5 + 0.0) / 3, 1e-12);
    assert_float_equal(m.success_1, 1.0 / 3, 1e-12);
    assert_float_equal(m.success_5, 2.0 / 3, 1e-12);
    assert_float_equal(m.success_10, 2.0 / 3, 1e-12);

    /* A query without relevant documents counts with zeros. */
    tr_eval_metrics_init(&m);
    tr_eval_metrics_add(&m, r2, 3, rel2, 0);
    tr_eval_metrics_add(&m, r2, 3, rel2, 1);
    tr_eval_metrics_finish(&m);
    assert_float_equal(m.mrr_10, 0.5, 1e-12);
    assert_float_equal(m.ndcg_10, 0.5, 1e-12);
}

static void
eval_dataset_loads_stackfaq(void **state)
{
    const char *src = getenv("TR_SOURCE_DIR");
    struct tr_eval_dataset *ds = NULL;
    struct tr_error err;
    size_t n_rel = 0, n_a = 0;
    char dir[4096];

    if (src == NULL)
        fail_msg("TR_SOURCE_DIR is not set; run the test through ctest");
    snprintf(dir, sizeof(dir), "%s/../shared/datasets/stackfaq", src);
    if (tr_eval_dataset_load(dir, &ds, &err) != TR_OK)
        fail_msg("StackFAQ collection not usable at \"%s\": %s", dir,
                 err.msg);

    /* Counts stated by the collection's README. */
    assert_int_equal(ds->n_docs, 719);
    assert_int_equal(ds->n_queries, 1249);
    assert_int_equal(ds->n_articles, 125);
    for (size_t i = 0; i < ds->n_queries; i++) {
        n_rel += ds->queries[i].n_rel;
        n_a += ds->queries[i].half == 'a';
    }
    assert_float_equal((double) n_rel / 1249.0, 5.75, 0.01);
    assert_int_equal(n_a, 625);

    /* Relevant documents of a query share its thread. */
    const struct tr_eval_query *q = &ds->queries[0];
    assert_true(q->n_rel > 0);
    assert_int_equal(strncmp(ds->docs[q->rel[0]].id, q->id, 4), 0);
    assert_int_equal(tr_eval_dataset_doc(ds, ds->docs[5].id), 5);
    assert_int_equal(tr_eval_dataset_doc(ds, "no-such"), -1);
    tr_eval_dataset_free(ds);
}

static void
eval_dataset_missing_file_is_an_error(void **state)
{
    struct tr_eval_dataset *ds = (void *) 1;
    struct tr_error err;

    assert_int_equal(tr_eval_dataset_load("/nonexistent/dir", &ds, &err),
                     TR_E_NOTFOUND);
    assert_null(ds);
    assert_non_null(strstr(err.msg, "corpus.jsonl"));
}

/* Write `text` to dir/name. */
static void
put(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
eval_dataset_bad_lines_name_file_and_line(void **state)
{
    char dir[] = "/tmp/tr_eval_XXXXXX";
    struct tr_eval_dataset *ds = NULL;
    struct tr_error err;

    assert_non_null(mkdtemp(dir));
    put(dir, "corpus.jsonl", "{\"id\":\"t1-a1\",\"title\":\"T\","
        "\"text\":\"x\"}\n{\"id\":\"t1-a2\",\"text\":\"y\"}\n");
    put(dir, "queries.jsonl", "{\"id\":\"t1-q1\",\"text\":\"q\"}\n"
        "{\"id\":\"t1-q2\",\"text\":\"q\"}\n");
    put(dir, "qrels.tsv", "query_id\tdoc_id\trelevance\n"
        "t1-q1\tt1-a2\t1\n");
    assert_int_equal(tr_eval_dataset_load(dir, &ds, &err), TR_OK);
    assert_int_equal(ds->n_docs, 2);
    assert_int_equal(ds->n_articles, 1);
    assert_int_equal(ds->queries[0].n_rel, 1);
    assert_int_equal(ds->queries[0].rel[0], 1);
    assert_int_equal(ds->queries[1].n_rel, 0);
    tr_eval_dataset_free(ds);

    /* Unknown document in qrels, then a broken JSON line. */
    put(dir, "qrels.tsv", "q\td\tr\nt1-q1\tt9-a9\t1\n");
    assert_int_equal(tr_eval_dataset_load(dir, &ds, &err), TR_E_PARSE);
    assert_non_null(strstr(err.msg, "line 2"));
    put(dir, "queries.jsonl", "{\"id\":\"t1-q1\",\"text\":\"q\"}\n{\"id\":");
    assert_int_equal(tr_eval_dataset_load(dir, &ds, &err), TR_E_PARSE);
    assert_non_null(strstr(err.msg, "queries.jsonl\" line 2"));
    put(dir, "queries.jsonl", "{\"id\":\"t1-q1\"}\n");
    assert_int_equal(tr_eval_dataset_load(dir, &ds, &err), TR_E_PARSE);
    assert_non_null(strstr(err.msg, "line 1"));

    put(dir, "corpus.jsonl", "");
    put(dir, "queries.jsonl", "");
    put(dir, "qrels.tsv", "");
    assert_int_equal(tr_eval_dataset_load(dir, &ds, &err), TR_OK);
    tr_eval_dataset_free(ds);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(eval_metrics_match_hand_computation),
    cmocka_unit_test(eval_dataset_loads_stackfaq),
    cmocka_unit_test(eval_dataset_missing_file_is_an_error),
    cmocka_unit_test(eval_dataset_bad_lines_name_file_and_line),
};

TR_TEST_MAIN(cases)
