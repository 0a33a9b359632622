/*
 * test_route_model.c
 *      The router: learning a small fixture, a quality floor on
 *      CLINC150, abstaining on probability or margin, calibration,
 *      determinism, weight averaging, feature dropout, runs over
 *      several seeds, unseen features, out-of-scope weight, model
 *      buffers of every version and bad input.
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
train_fixture_with(const struct tr_route_params *p)
{
    struct tr_route_set *set = load("tests/data/route/train.jsonl");
    struct tr_route_model *m = NULL;

    assert_int_equal(tr_route_train(p, set->rows, set->n_rows, &m, NULL),
                     TR_OK);
    tr_route_set_free(set);
    return m;
}

static struct tr_route_model *
train_fixture(bool train_oos)
{
    struct tr_route_params p;

    tr_route_params_default(&p);
    p.oos_label = "oos";
    p.train_oos = train_oos;
    return train_fixture_with(&p);
}

/* Mean probability `m` gives its out-of-scope class on the oos val rows. */
static double
mean_oos_prob(const struct tr_route_model *m)
{
    struct tr_route_set *val = load("tests/data/route/val.jsonl");
    struct tr_route_result r;
    double probs[8], sum = 0;
    size_t oos = SIZE_MAX, n = 0;

    assert_true(tr_route_model_n_classes(m) <= 8);
    for (size_t k = 0; k < tr_route_model_n_classes(m); k++)
        if (strcmp(tr_route_model_label(m, k), "oos") == 0)
            oos = k;
    assert_true(oos != SIZE_MAX);
    for (size_t i = 0; i < val->n_rows; i++) {
        if (strcmp(val->rows[i].label, "oos") != 0)
            continue;
        assert_int_equal(tr_route_predict(m, val->rows[i].text,
                                          strlen(val->rows[i].text), &r,
                                          probs, NULL), TR_OK);
        sum += probs[oos];
        n++;
    }
    tr_route_set_free(val);
    assert_true(n > 0);
    return sum / (double)n;
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
    tr_route_params_default(&p);
    p.avg_epochs = p.epochs + 1;
    assert_int_equal(tr_route_train(&p, one, 2, &m, &err), TR_E_INVAL);
    assert_non_null(strstr(err.msg, "averaged epochs"));
    tr_route_params_default(&p);
    p.oos_weight = 0;
    assert_int_equal(tr_route_train(&p, one, 2, &m, &err), TR_E_INVAL);
    tr_route_params_default(&p);
    p.confidence = (enum tr_route_conf)5;
    assert_int_equal(tr_route_train(&p, one, 2, &m, &err), TR_E_INVAL);
    tr_route_params_default(&p);
    p.word_ngrams = 4;
    assert_int_equal(tr_route_train(&p, one, 2, &m, &err), TR_E_INVAL);
    tr_route_params_default(&p);
    p.dropout = 0.95;
    assert_int_equal(tr_route_train(&p, one, 2, &m, &err), TR_E_INVAL);
    assert_non_null(strstr(err.msg, "dropout"));
    tr_route_params_default(&p);
    p.runs = 0;
    assert_int_equal(tr_route_train(&p, one, 2, &m, &err), TR_E_INVAL);
    tr_route_params_default(&p);
    p.unseen_weight = -1;
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

static void
route_margin_confidence_abstains_on_close_calls(void **state)
{
    struct tr_route_params p;
    struct tr_route_model *m;
    struct tr_route_result r;
    double probs[4], second = 0;
    const char *t = "refund the password of my parcel";

    (void)state;
    tr_route_params_default(&p);
    p.confidence = TR_ROUTE_CONF_MARGIN;
    m = train_fixture_with(&p);
    assert_int_equal(tr_route_predict(m, t, strlen(t), &r, probs, NULL),
                     TR_OK);
    for (int k = 0; k < 4; k++)
        if (k != r.best_class && probs[k] > second)
            second = probs[k];
    assert_true(fabs(r.confidence - (r.prob - second)) < 1e-12);
    assert_true(r.confidence < r.prob);

    /* A threshold between the margin and the top probability abstains
     * under the margin although the top probability is above it. */
    assert_int_equal(tr_route_model_set_threshold(m, (r.confidence
                                                      + r.prob) / 2,
                                                  NULL), TR_OK);
    assert_int_equal(tr_route_predict(m, t, strlen(t), &r, NULL, NULL),
                     TR_OK);
    assert_true(r.abstain);
    assert_true(r.prob > tr_route_model_threshold(m));
    tr_route_model_free(m);
}

static void
route_default_confidence_is_the_top_probability(void **state)
{
    struct tr_route_model *m = train_fixture(false);
    struct tr_route_result r;
    const char *t = "please refund my broken laptop";

    (void)state;
    assert_int_equal(tr_route_predict(m, t, strlen(t), &r, NULL, NULL),
                     TR_OK);
    assert_true(r.confidence == r.prob);
    tr_route_model_free(m);
}

/*
 * Older buffers are the version 3 one without its newer fields, which
 * follow the threshold (offset 8 + 4 * 5 + 8 * 2 = 44): the confidence
 * kind (version 2 on) and the unseen IDF (version 3, at 48).  They load
 * and give the same probabilities when the unseen IDF was 0; version 1
 * ones compare their threshold with the top probability.
 */
static void
route_older_buffers_still_load(void **state)
{
    struct tr_route_params p;
    struct tr_route_model *m, *back = NULL;
    struct tr_route_result r, r_old;
    unsigned char *buf = NULL, *old;
    size_t len = 0;
    const char *t = "where is my parcel";

    (void)state;
    tr_route_params_default(&p);
    p.confidence = TR_ROUTE_CONF_MARGIN;
    p.unseen_weight = 0;
    m = train_fixture_with(&p);
    assert_int_equal(tr_route_predict(m, t, strlen(t), &r, NULL, NULL),
                     TR_OK);
    assert_int_equal(tr_route_model_save(m, &buf, &len, NULL), TR_OK);
    assert_int_equal(buf[8], 3);
    assert_int_equal(buf[44], TR_ROUTE_CONF_MARGIN);
    old = malloc(len);
    assert_non_null(old);

    memcpy(old, buf, 48);
    memcpy(old + 48, buf + 52, len - 52);
    old[8] = 2;
    assert_int_equal(tr_route_model_load(old, len - 4, &back, NULL),
                     TR_OK);
    assert_int_equal(tr_route_predict(back, t, strlen(t), &r_old, NULL,
                                      NULL), TR_OK);
    assert_true(r_old.prob == r.prob);
    assert_true(r_old.confidence == r.confidence);
    tr_route_model_free(back);

    memcpy(old + 44, buf + 52, len - 52);
    old[8] = 1;
    assert_int_equal(tr_route_model_load(old, len - 8, &back, NULL),
                     TR_OK);
    assert_int_equal(tr_route_predict(back, t, strlen(t), &r_old, NULL,
                                      NULL), TR_OK);
    assert_true(r_old.prob == r.prob);
    assert_true(r_old.confidence == r_old.prob);
    assert_true(r.confidence < r.prob);
    tr_route_model_free(back);

    /* An unknown confidence kind or a negative unseen IDF is refused. */
    buf[44] = 7;
    assert_int_equal(tr_route_model_load(buf, len, &back, NULL),
                     TR_E_PARSE);
    buf[44] = TR_ROUTE_CONF_MARGIN;
    buf[51] = 0xbf;
    assert_int_equal(tr_route_model_load(buf, len, &back, NULL),
                     TR_E_PARSE);
    assert_null(back);
    free(old);
    free(buf);
    tr_route_model_free(m);
}

/*
 * A text made mostly of words no training text has keeps a short known
 * part when unseen features count in its length, so the model is less
 * sure of it.
 */
static void
route_unseen_features_lower_the_probability(void **state)
{
    struct tr_route_params p;
    struct tr_route_model *with, *without;
    struct tr_route_result r_with, r_without;
    const char *t = "refund qwzx vlorp frindle skabbo trelk";

    (void)state;
    tr_route_params_default(&p);
    assert_true(p.unseen_weight > 0);
    with = train_fixture_with(&p);
    p.unseen_weight = 0;
    without = train_fixture_with(&p);
    assert_int_equal(tr_route_predict(with, t, strlen(t), &r_with, NULL,
                                      NULL), TR_OK);
    assert_int_equal(tr_route_predict(without, t, strlen(t), &r_without,
                                      NULL, NULL), TR_OK);
    assert_true(r_with.prob < r_without.prob);
    tr_route_model_free(with);
    tr_route_model_free(without);
}

static void
route_oos_weight_raises_out_of_scope_probability(void **state)
{
    struct tr_route_params p;
    struct tr_route_model *plain, *heavy;

    (void)state;
    tr_route_params_default(&p);
    p.oos_label = "oos";
    p.train_oos = true;
    plain = train_fixture_with(&p);
    p.oos_weight = 5;
    heavy = train_fixture_with(&p);
    assert_true(mean_oos_prob(heavy) > mean_oos_prob(plain));
    tr_route_model_free(plain);
    tr_route_model_free(heavy);
}

static void
route_averaged_weights_learn_and_differ(void **state)
{
    struct tr_route_params p;
    struct tr_route_model *last, *avg;
    struct tr_route_set *test = load("tests/data/route/test.jsonl");
    unsigned char *b1, *b2;
    size_t l1, l2;

    (void)state;
    tr_route_params_default(&p);
    last = train_fixture_with(&p);
    p.avg_epochs = p.epochs / 2;
    avg = train_fixture_with(&p);
    assert_true(in_scope_accuracy(avg, test, "oos") >= 0.8);
    assert_int_equal(tr_route_model_save(last, &b1, &l1, NULL), TR_OK);
    assert_int_equal(tr_route_model_save(avg, &b2, &l2, NULL), TR_OK);
    assert_int_equal(l1, l2);
    assert_true(memcmp(b1, b2, l1) != 0);
    free(b1);
    free(b2);
    tr_route_set_free(test);
    tr_route_model_free(last);
    tr_route_model_free(avg);
}

static void
route_dropout_is_deterministic_and_learns(void **state)
{
    struct tr_route_params p;
    struct tr_route_model *plain, *a, *b;
    struct tr_route_set *test = load("tests/data/route/test.jsonl");
    unsigned char *bp, *ba, *bb;
    size_t lp, la, lb;

    (void)state;
    /* Dropout is on by default. */
    tr_route_params_default(&p);
    assert_true(p.dropout > 0);
    a = train_fixture_with(&p);
    b = train_fixture_with(&p);
    p.dropout = 0;
    plain = train_fixture_with(&p);
    assert_true(in_scope_accuracy(a, test, "oos") >= 0.8);
    assert_int_equal(tr_route_model_save(plain, &bp, &lp, NULL), TR_OK);
    assert_int_equal(tr_route_model_save(a, &ba, &la, NULL), TR_OK);
    assert_int_equal(tr_route_model_save(b, &bb, &lb, NULL), TR_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    assert_int_equal(la, lp);
    assert_true(memcmp(ba, bp, la) != 0);
    free(bp);
    free(ba);
    free(bb);
    tr_route_set_free(test);
    tr_route_model_free(plain);
    tr_route_model_free(a);
    tr_route_model_free(b);
}

/* The little-endian f32 at `p`. */
static float
f32_at(const unsigned char *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8
                 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;

    memcpy(&f, &v, sizeof(f));
    return f;
}

/*
 * Two runs keep the mean of the weights of the runs with seeds 1 and 2:
 * the bias and weights end every buffer, so their f32 values compare
 * one by one.
 */
static void
route_runs_keep_the_mean_of_the_seeds(void **state)
{
    struct tr_route_params p;
    struct tr_route_model *s1, *s2, *both;
    unsigned char *b1, *b2, *bb;
    size_t l1, l2, lb, n_tail;

    (void)state;
    tr_route_params_default(&p);
    s1 = train_fixture_with(&p);
    p.seed = 2;
    s2 = train_fixture_with(&p);
    p.seed = 1;
    p.runs = 2;
    both = train_fixture_with(&p);
    assert_int_equal(tr_route_model_save(s1, &b1, &l1, NULL), TR_OK);
    assert_int_equal(tr_route_model_save(s2, &b2, &l2, NULL), TR_OK);
    assert_int_equal(tr_route_model_save(both, &bb, &lb, NULL), TR_OK);
    assert_int_equal(l1, lb);
    assert_int_equal(l2, lb);
    n_tail = tr_route_model_n_classes(both)
             * (tr_route_model_n_features(both) + 1);
    assert_true(memcmp(b1 + lb - 4 * n_tail, b2 + lb - 4 * n_tail,
                       4 * n_tail) != 0);
    for (size_t i = lb - 4 * n_tail; i < lb; i += 4) {
        double mean = ((double)f32_at(b1 + i) + f32_at(b2 + i)) / 2;

        assert_true(fabs(f32_at(bb + i) - mean) <= 1e-6 * (1 + fabs(mean)));
    }
    free(b1);
    free(b2);
    free(bb);
    tr_route_model_free(s1);
    tr_route_model_free(s2);
    tr_route_model_free(both);
}

static void
route_word_trigrams_add_features(void **state)
{
    struct tr_route_params p;
    struct tr_route_model *bi, *tri;

    (void)state;
    tr_route_params_default(&p);
    bi = train_fixture_with(&p);
    p.word_ngrams = 3;
    tri = train_fixture_with(&p);
    assert_true(tr_route_model_n_features(tri)
                > tr_route_model_n_features(bi));
    tr_route_model_free(bi);
    tr_route_model_free(tri);
}

/*
 * CLINC150 in-scope training rows, threshold 0: the floor is just below
 * what the model measures with the default settings (93.0 %), so a
 * change that costs accuracy fails it.
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
    assert_true(acc >= 0.925);
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
    cmocka_unit_test(route_margin_confidence_abstains_on_close_calls),
    cmocka_unit_test(route_default_confidence_is_the_top_probability),
    cmocka_unit_test(route_older_buffers_still_load),
    cmocka_unit_test(route_unseen_features_lower_the_probability),
    cmocka_unit_test(route_oos_weight_raises_out_of_scope_probability),
    cmocka_unit_test(route_averaged_weights_learn_and_differ),
    cmocka_unit_test(route_dropout_is_deterministic_and_learns),
    cmocka_unit_test(route_runs_keep_the_mean_of_the_seeds),
    cmocka_unit_test(route_word_trigrams_add_features),
    cmocka_unit_test(route_clinc150_in_scope_accuracy_floor),
};

TR_TEST_MAIN(cases)
