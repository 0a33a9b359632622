/*
 * test_evalroute_metrics.c
 *      Routing metrics against hand-computed values, and the runner on
 *      the small fixture with its JSON report.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "tr_test.h"

#include "evalroute.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

/*
 * gold: a a b b oos oos c
 * pred: a b b b oos a oos
 * Right: rows 0, 2, 3, 4: accuracy 4/7.  In-scope rows 0 1 2 3 6, right
 * 0 2 3: 3/5.  Gold oos rows 4 5, caught 4: recall 1/2.  Predicted oos
 * rows 4 6, right 4: precision 1/2.  Per label: a P 1/2 R 1/2 F 1/2;
 * b P 2/3 R 1 F 0.8; c P 0 R 0 F 0; oos P 1/2 R 1/2 F 1/2; macro-F1
 * (0.5 + 0.8 + 0 + 0.5) / 4 = 0.45.
 */
static void
evalroute_metrics_match_hand_computation(void **state)
{
    const char *gold[] = {"a", "a", "b", "b", "oos", "oos", "c"};
    const char *pred[] = {"a", "b", "b", "b", "oos", "a", "oos"};
    struct tr_evalroute_metrics m;

    (void)state;
    assert_int_equal(tr_evalroute_metrics_compute(gold, pred, 7, "oos", &m,
                                                  NULL), TR_OK);
    NEAR(m.accuracy, 4.0 / 7);
    NEAR(m.in_scope_accuracy, 0.6);
    NEAR(m.oos_recall, 0.5);
    NEAR(m.oos_precision, 0.5);
    NEAR(m.macro_f1, 0.45);
    assert_int_equal(m.n_in_scope, 5);
    assert_int_equal(m.n_oos, 2);
    assert_int_equal(m.n_classes, 4);
    assert_string_equal(m.classes[1].label, "b");
    assert_int_equal(m.classes[1].support, 2);
    assert_int_equal(m.classes[1].n_pred, 3);
    NEAR(m.classes[1].precision, 2.0 / 3);
    NEAR(m.classes[1].f1, 0.8);
    assert_string_equal(m.classes[2].label, "c");
    NEAR(m.classes[2].f1, 0);
    tr_evalroute_metrics_cleanup(&m);
    assert_int_equal(m.n_classes, 0);
}

static void
evalroute_metrics_without_oos_are_undefined(void **state)
{
    const char *gold[] = {"x", "y", "y"};
    const char *pred[] = {"x", "y", "x"};
    const char *none[] = {"x", "y", "oos"};
    struct tr_evalroute_metrics m;
    struct tr_error err = {0};

    (void)state;
    assert_int_equal(tr_evalroute_metrics_compute(gold, pred, 3, NULL, &m,
                                                  NULL), TR_OK);
    NEAR(m.accuracy, 2.0 / 3);
    NEAR(m.in_scope_accuracy, 2.0 / 3);
    assert_true(isnan(m.oos_recall));
    assert_true(isnan(m.oos_precision));
    tr_evalroute_metrics_cleanup(&m);

    /* Gold oos rows but none predicted: precision 0, not undefined. */
    assert_int_equal(tr_evalroute_metrics_compute(none, pred, 3, "oos", &m,
                                                  NULL), TR_OK);
    NEAR(m.oos_recall, 0);
    NEAR(m.oos_precision, 0);
    tr_evalroute_metrics_cleanup(&m);

    assert_int_equal(tr_evalroute_metrics_compute(gold, pred, 0, NULL, &m,
                                                  &err), TR_E_INVAL);
}

static void
evalroute_run_on_fixture_writes_json_report(void **state)
{
    struct tr_evalroute_opts o;
    struct tr_evalroute_report rep;
    char dir[4096];
    char *text = NULL;
    size_t text_len = 0;
    FILE *f;
    cJSON *root, *metrics, *item;
    int n_keys = 0;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/tests/data/route",
             getenv("TR_SOURCE_DIR"));
    tr_evalroute_opts_default(&o);
    o.dataset_dir = dir;
    assert_int_equal(tr_evalroute_run(&o, &rep, NULL), TR_OK);
    assert_int_equal(rep.n_train, 85);
    assert_int_equal(rep.n_val, 13);
    assert_int_equal(rep.metrics.n, 17);
    assert_true(rep.metrics.in_scope_accuracy >= 0.75);
    assert_true(rep.threshold > 0);

    f = open_memstream(&text, &text_len);
    assert_int_equal(tr_evalroute_report_write(&rep, "fixture", true, f,
                                               NULL), TR_OK);
    fclose(f);
    root = cJSON_Parse(text);
    assert_non_null(root);
    metrics = cJSON_GetObjectItem(root, "metrics");
    cJSON_ArrayForEach(item, metrics) {
        assert_true(strcmp(item->string, "accuracy") == 0
                    || strcmp(item->string, "in_scope_accuracy") == 0
                    || strcmp(item->string, "oos_recall") == 0
                    || strcmp(item->string, "oos_precision") == 0
                    || strcmp(item->string, "macro_f1") == 0);
        assert_true(cJSON_IsNumber(item));
        n_keys++;
    }
    assert_int_equal(n_keys, 5);
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(root, "per_class")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root,
                                                            "per_class")),
                     (int)rep.metrics.n_classes);
    cJSON_Delete(root);
    free(text);
    tr_evalroute_report_cleanup(&rep);
}

static void
evalroute_missing_dataset_is_an_error(void **state)
{
    struct tr_evalroute_opts o;
    struct tr_evalroute_report rep;
    struct tr_error err = {0};

    (void)state;
    tr_evalroute_opts_default(&o);
    o.dataset_dir = "/nonexistent";
    assert_int_equal(tr_evalroute_run(&o, &rep, &err), TR_E_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/train.jsonl"));
    o.holdout = 0.9;
    assert_int_equal(tr_evalroute_run(&o, &rep, &err), TR_E_INVAL);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(evalroute_metrics_match_hand_computation),
    cmocka_unit_test(evalroute_metrics_without_oos_are_undefined),
    cmocka_unit_test(evalroute_run_on_fixture_writes_json_report),
    cmocka_unit_test(evalroute_missing_dataset_is_an_error),
};

TR_TEST_MAIN(cases)
