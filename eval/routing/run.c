/*
 * run.c
 *      The routing evaluation runner: load a dataset directory, train,
 *      calibrate on validation rows, score the test rows, and write the
 *      report as a table or JSON.
 *
 * The model that scores the test rows is the one read back from its
 * serialised buffer, so every run also checks the save/load round trip
 * on real data.  With the automatic out-of-scope mode both ways of
 * learning out-of-scope are trained and the one with the better
 * validation criterion (in-scope accuracy plus out-of-scope recall) is
 * kept; test rows play no part in any choice.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evalroute.h"

struct sets {
    struct tr_route_set *train;
    struct tr_route_set *val;
    struct tr_route_set *test;
    struct tr_route_example *fit;   /* training rows after a holdout */
    struct tr_route_example *hold;  /* validation rows of a holdout */
    size_t n_fit;
    size_t n_hold;
};

static double
now_secs(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void
tr_evalroute_opts_default(struct tr_evalroute_opts *o)
{
    memset(o, 0, sizeof(*o));
    tr_route_params_default(&o->params);
    o->oos_label = "oos";
    o->oos_mode = TR_EVALROUTE_OOS_CLASS;
    o->holdout = 0;
    o->on_val = false;
    o->threshold = -1;
    o->max_drop = TR_ROUTE_MAX_DROP;
}

static enum tr_err
load_one(const char *dir, const char *name, bool optional,
         struct tr_route_set **out, struct tr_error *err)
{
    char path[4096];
    FILE *f;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name)
        >= sizeof(path))
        return TR_ERROR(err, TR_E_INVAL, "dataset path is too long");
    if (optional) {
        f = fopen(path, "rb");
        if (f == NULL) {
            *out = NULL;
            return TR_OK;
        }
        fclose(f);
    }
    return tr_route_set_load(path, out, err);
}

static void
sets_cleanup(struct sets *s)
{
    tr_route_set_free(s->train);
    tr_route_set_free(s->val);
    tr_route_set_free(s->test);
    free(s->fit);
    free(s->hold);
}

/*
 * Every k-th train row (k = round(1 / holdout)) goes to validation, the
 * rest to training: deterministic, and every label keeps its share
 * because rows of one label are usually adjacent.
 */
static enum tr_err
split_holdout(struct sets *s, double holdout, struct tr_error *err)
{
    size_t k = (size_t)lround(1.0 / holdout), n = s->train->n_rows;

    s->fit = malloc(n * sizeof(*s->fit));
    s->hold = malloc((n / k + 1) * sizeof(*s->hold));
    if (s->fit == NULL || s->hold == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory for a holdout");
    for (size_t i = 0; i < n; i++) {
        if (i % k == k - 1)
            s->hold[s->n_hold++] = s->train->rows[i];
        else
            s->fit[s->n_fit++] = s->train->rows[i];
    }
    return TR_OK;
}

static enum tr_err
load_sets(const struct tr_evalroute_opts *o, struct sets *s,
          struct tr_error *err)
{
    enum tr_err rc;

    if (o->holdout < 0 || o->holdout > 0.5)
        return TR_ERROR(err, TR_E_INVAL,
                        "holdout %g is not in (0, 0.5]", o->holdout);
    rc = load_one(o->dataset_dir, "train.jsonl", false, &s->train, err);
    if (rc == TR_OK && !o->on_val)
        rc = load_one(o->dataset_dir, "test.jsonl", false, &s->test, err);
    if (rc == TR_OK && o->holdout == 0)
        rc = load_one(o->dataset_dir, "val.jsonl", true, &s->val, err);
    if (rc != TR_OK)
        return rc;

    if (o->holdout > 0)
        return split_holdout(s, o->holdout, err);
    s->fit = malloc((s->train->n_rows + 1) * sizeof(*s->fit));
    if (s->fit == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory for rows");
    memcpy(s->fit, s->train->rows, s->train->n_rows * sizeof(*s->fit));
    s->n_fit = s->train->n_rows;
    if (s->val != NULL) {
        s->hold = malloc((s->val->n_rows + 1) * sizeof(*s->hold));
        if (s->hold == NULL)
            return TR_ERROR(err, TR_E_NOMEM, "out of memory for rows");
        memcpy(s->hold, s->val->rows, s->val->n_rows * sizeof(*s->hold));
        s->n_hold = s->val->n_rows;
    }
    return TR_OK;
}

/* Train one model in the given mode and calibrate it when there is val. */
static enum tr_err
train_mode(const struct tr_evalroute_opts *o, const struct sets *s,
           bool train_oos, struct tr_route_model **out,
           struct tr_route_calibration *cal, struct tr_error *err)
{
    struct tr_route_params p = o->params;
    enum tr_err rc;

    p.oos_label = o->oos_label;
    p.train_oos = train_oos;
    memset(cal, 0, sizeof(*cal));
    cal->temperature = 1;
    cal->val_in_scope_accuracy = -1;
    cal->val_oos_recall = -1;
    rc = tr_route_train(&p, s->fit, s->n_fit, out, err);
    if (rc == TR_OK && s->n_hold > 0)
        rc = tr_route_model_calibrate(*out, s->hold, s->n_hold,
                                      o->max_drop, cal, err);
    if (rc == TR_OK && o->threshold >= 0)
        rc = tr_route_model_set_threshold(*out, o->threshold, err);
    if (rc != TR_OK) {
        tr_route_model_free(*out);
        *out = NULL;
    }
    return rc;
}

static double
val_score(const struct tr_route_calibration *cal)
{
    return cal->val_in_scope_accuracy
           + (cal->val_oos_recall >= 0 ? cal->val_oos_recall : 0);
}

/*
 * Train in the chosen mode, or in both and keep the better one on val.
 * Without an out-of-scope label, or without val to judge, only the
 * threshold mode applies.
 */
static enum tr_err
train_best(const struct tr_evalroute_opts *o, const struct sets *s,
           struct tr_route_model **out, struct tr_evalroute_report *rep,
           struct tr_error *err)
{
    enum tr_evalroute_oos_mode mode = o->oos_mode;
    struct tr_route_calibration cal, cal2;
    struct tr_route_model *other = NULL;
    enum tr_err rc;

    if (o->oos_label == NULL
        || (mode == TR_EVALROUTE_OOS_AUTO && s->n_hold == 0))
        mode = TR_EVALROUTE_OOS_THRESHOLD;
    rc = train_mode(o, s, mode == TR_EVALROUTE_OOS_CLASS, out, &cal, err);
    rep->trained_oos_class = mode == TR_EVALROUTE_OOS_CLASS;
    if (rc == TR_OK && mode == TR_EVALROUTE_OOS_AUTO) {
        rc = train_mode(o, s, true, &other, &cal2, err);
        if (rc == TR_OK && val_score(&cal2) > val_score(&cal)) {
            tr_route_model_free(*out);
            *out = other;
            other = NULL;
            cal = cal2;
            rep->trained_oos_class = true;
        }
        tr_route_model_free(other);
    }
    if (rc != TR_OK)
        return rc;

    rep->temperature = tr_route_model_temperature(*out);
    rep->threshold = tr_route_model_threshold(*out);
    rep->val_in_scope_accuracy = cal.val_in_scope_accuracy;
    rep->val_oos_recall = cal.val_oos_recall;
    return TR_OK;
}

/* Save and load back, so that the scored model is the stored one. */
static enum tr_err
round_trip(struct tr_route_model **m, struct tr_evalroute_report *rep,
           struct tr_error *err)
{
    struct tr_route_model *back = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    enum tr_err rc;

    rc = tr_route_model_save(*m, &buf, &len, err);
    if (rc == TR_OK)
        rc = tr_route_model_load(buf, len, &back, err);
    free(buf);
    if (rc != TR_OK)
        return rc;
    tr_route_model_free(*m);
    *m = back;
    rep->model_bytes = len;
    return TR_OK;
}

static enum tr_err
score(const struct tr_route_model *m, const struct tr_route_example *rows,
      size_t n, const char *oos_label, struct tr_evalroute_report *rep,
      struct tr_error *err)
{
    const char **gold = malloc((n + 1) * sizeof(*gold));
    const char **pred = malloc((n + 1) * sizeof(*pred));
    struct tr_route_result res;
    enum tr_err rc = TR_OK;
    double t0 = now_secs();

    if (gold == NULL || pred == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory for predictions");
        goto out;
    }
    for (size_t i = 0; i < n && rc == TR_OK; i++) {
        rc = tr_route_predict(m, rows[i].text, strlen(rows[i].text), &res,
                              NULL, err);
        gold[i] = rows[i].label;
        pred[i] = res.label;
    }
    rep->predict_secs = now_secs() - t0;
    if (rc == TR_OK)
        rc = tr_evalroute_metrics_compute(gold, pred, n, oos_label,
                                          &rep->metrics, err);

out:
    free(gold);
    free(pred);
    return rc;
}

enum tr_err
tr_evalroute_run(const struct tr_evalroute_opts *o,
                 struct tr_evalroute_report *rep, struct tr_error *err)
{
    struct sets s = {0};
    struct tr_route_model *m = NULL;
    const struct tr_route_example *eval_rows;
    size_t n_eval;
    double t0;
    enum tr_err rc;

    memset(rep, 0, sizeof(*rep));
    rc = load_sets(o, &s, err);
    if (rc != TR_OK)
        goto out;
    if (o->on_val && s.n_hold == 0) {
        rc = TR_ERROR(err, TR_E_INVAL,
                      "no validation rows: give val.jsonl or a holdout");
        goto out;
    }

    t0 = now_secs();
    rc = train_best(o, &s, &m, rep, err);
    rep->train_secs = now_secs() - t0;
    if (rc == TR_OK)
        rc = round_trip(&m, rep, err);
    if (rc != TR_OK)
        goto out;

    rep->split = o->on_val ? "val" : "test";
    eval_rows = o->on_val ? s.hold : s.test->rows;
    n_eval = o->on_val ? s.n_hold : s.test->n_rows;
    rep->n_train = s.n_fit;
    rep->n_val = s.n_hold;
    rep->n_test = s.test ? s.test->n_rows : 0;
    rep->n_features = tr_route_model_n_features(m);
    rep->n_classes = tr_route_model_n_classes(m);
    rc = score(m, eval_rows, n_eval, o->oos_label, rep, err);

out:
    tr_route_model_free(m);
    sets_cleanup(&s);
    if (rc != TR_OK)
        tr_evalroute_report_cleanup(rep);
    return rc;
}

void
tr_evalroute_report_cleanup(struct tr_evalroute_report *rep)
{
    tr_evalroute_metrics_cleanup(&rep->metrics);
}
