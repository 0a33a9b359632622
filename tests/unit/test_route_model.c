/*
 * test_route_model.c
 *      The router: learning a small fixture, a quality floor on
 *      CLINC150, abstaining, calibration, determinism, model buffers and
 *      bad input.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>

#include "tr_test.h"

#include "route.h"

static struct tr_route_set *
load(const char *rel)
{
    char path[4096];
    struct tr_route_set *set = NULL;
    struct tr_error err = {0};

    snprintf(path, sizeof(path), "%s/%s", getenv("TR_SOURCE_DIR"), rel);
    assert_int_equal(tr_route_set_load(path, &set, &err), TR_OK);
    return set;
}

static struct tr_route_model *
train_fixture(bool train_oos)
{
    struct tr_route_set *set = load("tests/data/route/train.jsonl");
    struct tr_route_params p;
    struct tr_route_model *m = NULL;

    tr_route_params_default(&p);
    p.oos_label = "oos";
    p.train_oos = train_oos;
    assert_int_equal(tr_route_train(&p, set->rows, set->n_rows, &m, NULL),
                     TR_OK);
    tr_route_set_free(set);
    return m;
}

/* Share of in-scope rows of `set` that `m` labels right. */
static double
in_scope_accuracy(const struct tr_route_model *m,
                  const struct tr_route_set *set, const char *oos)
{
    size_t ok = 0, n = 0;
    struct tr_route_result r;

    for (size_t i = 0; i < set->n_rows; i++) {
        if (strcmp(set->rows[i].label, oos) == 0)
            continue;
        assert_int_equal(tr_route_predict(m, set->rows[i].text,
                                          strlen(set->rows[i].text), &r,
                                          NULL, NULL), TR_OK);
        ok += strcmp(r.label, set->rows[i].label) == 0;
        n++;
    }
    return n ? (double)ok / n : 0;
}

static void
route_learns_small_fixture_well_above_chance(void **state)
{
    struct tr_route_model *m = train_fixture(false);
    struct tr_route_set *test = load("tests/data/route/test.jsonl");

    (void)state;
    assert_int_equal(tr_route_model_n_classes(m), 4);
    assert_string_equal(tr_route_model_label(m, 0), "cancel");
    assert_null(tr_route_model_label(m, 4));
    /* Four classes: chance is 0.25. */
    assert_true(in_scope_accuracy(m, test, "oos") >= 0.8);
    tr_route_set_free(test);
    tr_route_model_free(m);
}

static void
route_abstains_under_the_threshold(void **state)
{
    struct tr_route_model *m = train_fixture(false);
    struct tr_route_result r;
    double probs[4], sum = 0;
    const char *t = "please refund my broken laptop";

    (void)state;
    assert_int_equal(tr_route_predict(m, t, strlen(t), &r, probs, NULL),
                     TR_OK);
    assert_string_equal(r.label, "refund");
    assert_false(r.abstain);
    for (int k = 0; k < 4; k++)
        sum += probs[k];
    assert_true(fabs(sum - 1.0) < 1e-9);
    assert_true(fabs(probs[r.best_class] - r.prob) < 1e-12);

    assert_int_equal(tr_route_model_set_threshold(m, r.prob + 1e-6, NULL),
                     TR_OK);
    assert_int_equal(tr_route_predict(m, t, strlen(t), &r, NULL, NULL),
                     TR_OK);
    assert_true(r.abstain);
    assert_string_equal(r.label, "oos");
    assert_string_equal(r.best_label, "refund");
    assert_string_equal(tr_route_model_abstain_label(m), "oos");

    assert_int_equal(tr_route_model_set_threshold(m, 1.5, NULL),
                     TR_E_RANGE);
    assert_int_equal(tr_route_model_set_temperature(m, 0, NULL),
                     TR_E_RANGE);
    tr_route_model_free(m);
}

static void
route_calibration_fits_threshold_on_val(void **state)
{
    struct tr_route_model *m = train_fixture(false);
    struct tr_route_set *val = load("tests/data/route/val.jsonl");
    struct tr_route_calibration cal;

    (void)state;
    assert_int_equal(tr_route_model_calibrate(m, val->rows, val->n_rows,
                                              0.2, &cal, NULL), TR_OK);
    assert_true(cal.temperature > 0);
    assert_true(cal.threshold > 0 && cal.threshold < 1);
    assert_true(fabs(cal.threshold - tr_route_model_threshold(m)) < 1e-12);
    /* At threshold 0 no val oos row is caught; the chosen threshold
     * catches some within the allowed in-scope accuracy drop. */
    assert_true(cal.val_oos_recall > 0);
    assert_true(cal.val_in_scope_accuracy >= 1.0 - 0.2 - 1e-9);

    /* No drop allowed: the threshold may reject no correct row. */
    assert_int_equal(tr_route_model_calibrate(m, val->rows, val->n_rows,
                                              0, &cal, NULL), TR_OK);
    assert_true(cal.val_in_scope_accuracy >= 1.0 - 1e-9);
    assert_int_equal(tr_route_model_calibrate(m, val->rows, val->n_rows,
                                              -1, &cal, NULL), TR_E_RANGE);
    assert_int_equal(cal.n_val, val->n_rows);

    /* Val rows whose labels the model does not know cannot calibrate. */
    {
        struct tr_route_example odd[] = {{"hello there", "greeting"}};
        struct tr_error err = {0};

        assert_int_equal(tr_route_model_calibrate(m, odd, 1, 0.01, NULL,
                                                  &err), TR_E_INVAL);
    }
    tr_route_set_free(val);
    tr_route_model_free(m);
}

static void
route_oos_class_mode_learns_out_of_scope(void **state)
{
    struct tr_route_model *m = train_fixture(true);
    struct tr_route_result r;
    const char *t = "what is the weather tomorrow";

    (void)state;
    assert_int_equal(tr_route_model_n_classes(m), 5);
    assert_int_equal(tr_route_predict(m, t, strlen(t), &r, NULL, NULL),
                     TR_OK);
    assert_true(r.abstain);
    assert_string_equal(r.label, "oos");
    tr_route_model_free(m);
}

static void
route_model_buffer_round_trips(void **state)
{
    struct tr_route_model *m = train_fixture(false), *back = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    double p1[4], p2[4];
    struct tr_route_result r1, r2;
    struct tr_error err = {0};
    const char *t = "where is my parcel, the camera is late";

    (void)state;
    assert_int_equal(tr_route_model_set_temperature(m, 0.7, NULL), TR_OK);
    assert_int_equal(tr_route_model_set_threshold(m, 0.3, NULL), TR_OK);
    assert_int_equal(tr_route_model_save(m, &buf, &len, NULL), TR_OK);
    assert_int_equal(tr_route_model_load(buf, len, &back, NULL), TR_OK);
    assert_int_equal(tr_route_model_n_features(back),
                     tr_route_model_n_features(m));
    assert_true(tr_route_model_threshold(back) == 0.3);
    assert_true(tr_route_model_temperature(back) == 0.7);
    tr_route_predict(m, t, strlen(t), &r1, p1, NULL);
    tr_route_predict(back, t, strlen(t), &r2, p2, NULL);
    assert_memory_equal(p1, p2, sizeof(p1));
    assert_string_equal(r2.label, "shipping");

    /* Truncated, altered or foreign buffers are refused. */
    assert_int_equal(tr_route_model_load(buf, len - 1, &back, &err),
                     TR_E_PARSE);
    assert_null(back);
    assert_int_equal(tr_route_model_load("not a model", 11, &back, &err),
                     TR_E_PARSE);
    buf[8] = 9;
    assert_int_equal(tr_route_model_load(buf, len, &back, &err),
                     TR_E_PARSE);
    free(buf);
    tr_route_model_free(m);
    tr_route_model_free(NULL);
}

static void
route_training_is_deterministic(void **state)
{
    struct tr_route_model *a = train_fixture(false);
    struct tr_route_model *b = train_fixture(false);
    unsigned char *ba, *bb;
    size_t la, lb;

    (void)state;
    assert_int_equal(tr_route_model_save(a, &ba, &la, NULL), TR_OK);
    assert_int_equal(tr_route_model_save(b, &bb, &lb, NULL), TR_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    free(ba);
    free(bb);
    tr_route_model_free(a);
    tr_route_model_free(b);
}

static void
route_bad_input_is_refused(void **state)
{
    struct tr_route_example one[] = {{"a text", "x"}, {"b text", "x"}};
    struct tr_route_params p;
    struct tr_route_model *m = NULL;
    struct tr_route_set *set = NULL;
    struct tr_error err = {0};
    char path[4096];

    (void)state;
    tr_route_params_default(&p);
    assert_int_equal(tr_route_train(&p, one, 2, &m, &err), TR_E_INVAL);
    assert_non_null(strstr(err.msg, "two labels"));
    p.epochs = 0;
    assert_int_equal(tr_route_train(&p, one, 2, &m, &err), TR_E_INVAL);
    assert_null(m);

    snprintf(path, sizeof(path), "%s/tests/data/route/bad.jsonl",
             getenv("TR_SOURCE_DIR"));
    assert_int_equal(tr_route_set_load(path, &set, &err), TR_E_PARSE);
    assert_non_null(strstr(err.msg, "line 3"));
    assert_null(set);
    assert_int_equal(tr_route_set_load("/nonexistent.jsonl", &set, &err),
                     TR_E_IO);
}

/*
 * CLINC150 in-scope training rows, threshold 0: the floor is far above
 * chance (1/150) and below what the model measures (about 92 %), so
 * only a real regression fails it.
 */
static void
route_clinc150_in_scope_accuracy_floor(void **state)
{
    struct tr_route_set *train, *test;
    struct tr_route_params p;
    struct tr_route_model *m = NULL;
    double acc;

    (void)state;
    train = load("../shared/datasets/clinc150/train.jsonl");
    test = load("../shared/datasets/clinc150/test.jsonl");
    tr_route_params_default(&p);
    p.oos_label = "oos";
    assert_int_equal(tr_route_train(&p, train->rows, train->n_rows, &m,
                                    NULL), TR_OK);
    assert_int_equal(tr_route_model_n_classes(m), 150);
    acc = in_scope_accuracy(m, test, "oos");
    print_message("clinc150 in-scope accuracy %.4f\n", acc);
    assert_true(acc >= 0.85);
    tr_route_model_free(m);
    tr_route_set_free(train);
    tr_route_set_free(test);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(route_learns_small_fixture_well_above_chance),
    cmocka_unit_test(route_abstains_under_the_threshold),
    cmocka_unit_test(route_calibration_fits_threshold_on_val),
    cmocka_unit_test(route_oos_class_mode_learns_out_of_scope),
    cmocka_unit_test(route_model_buffer_round_trips),
    cmocka_unit_test(route_training_is_deterministic),
    cmocka_unit_test(route_bad_input_is_refused),
    cmocka_unit_test(route_clinc150_in_scope_accuracy_floor),
};

TR_TEST_MAIN(cases)
