/*
 * model.c
 *      Prediction, calibration and the accessors of a router model.
 *
 * Prediction is read-only on the model and keeps its scratch on the
 * stack or the heap of the call, so threads may share a model.
 * Calibration first fits the softmax temperature on the validation rows
 * of known labels by minimising their negative log-likelihood (a golden
 * section search over log T), then sweeps the abstain threshold over the
 * validation rows' confidences and keeps the one with the best
 * out-of-scope recall that costs at most a given drop of in-scope
 * accuracy (the lower threshold on ties).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "route_int.h"

/* Per validation row: what calibration needs after scoring. */
struct val_row {
    double p;                   /* confidence at the temperature */
    int best;                   /* best class */
    int gold;                   /* class of the label, or -1 */
    bool oos;                   /* labelled out-of-scope */
};

static int
argmax(const double *v, size_t n)
{
    size_t best = 0;

    for (size_t k = 1; k < n; k++)
        if (v[k] > v[best])
            best = k;
    return (int)best;
}

static enum tr_err
score_text(const struct tr_route_model *m, const char *text, size_t len,
           double *scores)
{
    struct tr_route__vec v = {0};
    uint64_t *h = NULL;
    size_t n = 0, cap = 0;
    enum tr_err rc;

    rc = tr_route__hashes(&m->spec, text, len, &h, &n, &cap);
    if (rc == TR_OK)
        rc = tr_route__vectorize(m, h, n, &v);
    if (rc == TR_OK)
        tr_route__scores(m, &v, scores);
    free(h);
    tr_route__vec_cleanup(&v);
    return rc;
}

double
tr_route__confidence(const struct tr_route_model *m, const double *probs,
                     int best)
{
    double second = 0;

    if (m->conf != TR_ROUTE_CONF_MARGIN)
        return probs[best];
    for (size_t k = 0; k < m->n_classes; k++)
        if ((int)k != best && probs[k] > second)
            second = probs[k];
    return probs[best] - second;
}

static void
decide(const struct tr_route_model *m, const double *probs,
       struct tr_route_result *res)
{
    int best = argmax(probs, m->n_classes);

    res->best_class = best;
    res->best_label = m->labels[best];
    res->prob = probs[best];
    res->confidence = tr_route__confidence(m, probs, best);
    res->abstain = best == m->oos_class || res->confidence < m->threshold;
    res->label = res->abstain ? m->abstain_label : m->labels[best];
}

enum tr_err
tr_route_predict(const struct tr_route_model *m, const char *text,
                 size_t len, struct tr_route_result *res, double *probs,
                 struct tr_error *err)
{
    double *buf = probs;
    enum tr_err rc;

    if (buf == NULL) {
        buf = malloc(m->n_classes * sizeof(*buf));
        if (buf == NULL)
            return TR_ERROR(err, TR_E_NOMEM, "out of memory for scores");
    }
    rc = score_text(m, text, len, buf);
    if (rc != TR_OK) {
        TR_ERROR(err, rc, "out of memory for features");
        goto out;
    }
    tr_route__softmax(buf, m->n_classes, m->temperature, buf);
    decide(m, buf, res);

out:
    if (buf != probs)
        free(buf);
    return rc;
}

static int
class_of(const struct tr_route_model *m, const char *label)
{
    for (size_t k = 0; k < m->n_classes; k++)
        if (strcmp(m->labels[k], label) == 0)
            return (int)k;
    return -1;
}

/* Mean negative log-likelihood of the rows with a known label at t. */
static double
nll(const struct tr_route_model *m, const double *scores,
    const struct val_row *rows, size_t n, double t, double *work)
{
    double sum = 0;
    size_t used = 0;

    for (size_t i = 0; i < n; i++) {
        if (rows[i].gold < 0)
            continue;
        tr_route__softmax(scores + i * m->n_classes, m->n_classes, t,
                          work);
        sum -= log(work[rows[i].gold] > 1e-300 ? work[rows[i].gold]
                                               : 1e-300);
        used++;
    }
    return used ? sum / (double)used : 0;
}

static double
fit_temperature(const struct tr_route_model *m, const double *scores,
                const struct val_row *rows, size_t n, double *work)
{
    const double phi = (sqrt(5.0) - 1) / 2;
    double a = log(0.01), b = log(100.0);
    double c = b - phi * (b - a), d = a + phi * (b - a);
    double fc = nll(m, scores, rows, n, exp(c), work);
    double fd = nll(m, scores, rows, n, exp(d), work);

    /* The NLL is unimodal in log T for a fixed set of scores. */
    for (int it = 0; it < 60; it++) {
        if (fc < fd) {
            b = d;
            d = c;
            fd = fc;
            c = b - phi * (b - a);
            fc = nll(m, scores, rows, n, exp(c), work);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + phi * (b - a);
            fd = nll(m, scores, rows, n, exp(d), work);
        }
    }
    return exp((a + b) / 2);
}

static int
cmp_row_p(const void *a, const void *b)
{
    double x = ((const struct val_row *)a)->p;
    double y = ((const struct val_row *)b)->p;

    return (x > y) - (x < y);
}

/*
 * Rows sorted by confidence; rejecting the first j of them is the
 * threshold between row j - 1 and row j.  Each step moves one group of
 * equal probabilities from accepted to rejected.  The threshold kept is
 * the lowest one with the highest out-of-scope recall among those that
 * keep in-scope accuracy within `max_drop` of its value at threshold 0.
 */
static void
sweep_threshold(struct tr_route_model *m, struct val_row *rows, size_t n,
                double max_drop, struct tr_route_calibration *cal)
{
    size_t n_in = 0, n_oos = 0, in_ok = 0, oos_ok = 0;
    size_t best_in, best_oos;
    double floor_acc, best_th = 0;

    qsort(rows, n, sizeof(*rows), cmp_row_p);
    for (size_t i = 0; i < n; i++) {
        bool rejected = rows[i].best == m->oos_class;

        if (rows[i].oos) {
            n_oos++;
            oos_ok += rejected;
        } else {
            n_in++;
            in_ok += !rejected && rows[i].best == rows[i].gold;
        }
    }
    best_in = in_ok;
    best_oos = oos_ok;
    floor_acc = (n_in ? (double)in_ok / n_in : 0) - max_drop - 1e-12;

    for (size_t i = 0; i < n && n_oos > 0;) {
        size_t j = i;

        for (; j < n && rows[j].p == rows[i].p; j++) {
            bool rejected = rows[j].best == m->oos_class;

            if (rows[j].oos && !rejected)
                oos_ok++;
            else if (!rows[j].oos && !rejected
                     && rows[j].best == rows[j].gold)
                in_ok--;
        }
        if (n_in && (double)in_ok / n_in < floor_acc)
            break;
        if (oos_ok > best_oos) {
            best_th = j < n ? (rows[j - 1].p + rows[j].p) / 2
                            : rows[j - 1].p + 1e-9;
            best_in = in_ok;
            best_oos = oos_ok;
        }
        i = j;
    }

    m->threshold = n_oos > 0 ? (best_th < 1 ? best_th : 1) : 0;
    cal->threshold = m->threshold;
    cal->val_in_scope_accuracy = n_in ? (double)best_in / n_in : 0;
    cal->val_oos_recall = n_oos ? (double)best_oos / n_oos : -1;
}

static enum tr_err
score_rows(struct tr_route_model *m, const struct tr_route_example *val,
           size_t n_val, double *scores, struct val_row *rows,
           size_t *n_known)
{
    const char *oos = m->abstain_label;
    enum tr_err rc;

    *n_known = 0;
    for (size_t i = 0; i < n_val; i++) {
        rc = score_text(m, val[i].text, strlen(val[i].text),
                        scores + i * m->n_classes);
        if (rc != TR_OK)
            return rc;
        rows[i].gold = class_of(m, val[i].label);
        rows[i].oos = strcmp(val[i].label, oos) == 0;
        *n_known += rows[i].gold >= 0;
    }
    return TR_OK;
}

enum tr_err
tr_route_model_calibrate(struct tr_route_model *m,
                         const struct tr_route_example *val, size_t n_val,
                         double max_drop, struct tr_route_calibration *cal,
                         struct tr_error *err)
{
    struct tr_route_calibration local;
    double *scores = calloc(n_val * m->n_classes + 1, sizeof(*scores));
    double *work = calloc(m->n_classes, sizeof(*work));
    struct val_row *rows = calloc(n_val + 1, sizeof(*rows));
    size_t n_known = 0;
    enum tr_err rc = TR_OK;

    if (cal == NULL)
        cal = &local;
    if (scores == NULL || work == NULL || rows == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory for calibration");
        goto out;
    }
    rc = score_rows(m, val, n_val, scores, rows, &n_known);
    if (rc != TR_OK) {
        TR_ERROR(err, rc, "out of memory for features");
        goto out;
    }
    if (!(max_drop >= 0 && max_drop <= 1)) {
        rc = TR_ERROR(err, TR_E_RANGE,
                      "accuracy drop %g is not between 0 and 1", max_drop);
        goto out;
    }
    if (n_known == 0) {
        rc = TR_ERROR(err, TR_E_INVAL,
                      "no validation row has a label the model knows");
        goto out;
    }

    m->temperature = fit_temperature(m, scores, rows, n_val, work);
    for (size_t i = 0; i < n_val; i++) {
        tr_route__softmax(scores + i * m->n_classes, m->n_classes,
                          m->temperature, work);
        rows[i].best = argmax(work, m->n_classes);
        rows[i].p = tr_route__confidence(m, work, rows[i].best);
    }
    cal->temperature = m->temperature;
    cal->n_val = n_val;
    sweep_threshold(m, rows, n_val, max_drop, cal);

out:
    free(scores);
    free(work);
    free(rows);
    return rc;
}

size_t
tr_route_model_n_classes(const struct tr_route_model *m)
{
    return m->n_classes;
}

const char *
tr_route_model_label(const struct tr_route_model *m, size_t i)
{
    return i < m->n_classes ? m->labels[i] : NULL;
}

size_t
tr_route_model_n_features(const struct tr_route_model *m)
{
    return m->n_feat;
}

const char *
tr_route_model_abstain_label(const struct tr_route_model *m)
{
    return m->abstain_label;
}

double
tr_route_model_threshold(const struct tr_route_model *m)
{
    return m->threshold;
}

double
tr_route_model_temperature(const struct tr_route_model *m)
{
    return m->temperature;
}

enum tr_err
tr_route_model_set_threshold(struct tr_route_model *m, double threshold,
                             struct tr_error *err)
{
    if (!(threshold >= 0 && threshold <= 1))
        return TR_ERROR(err, TR_E_RANGE,
                        "threshold %g is not between 0 and 1", threshold);
    m->threshold = threshold;
    return TR_OK;
}

enum tr_err
tr_route_model_set_temperature(struct tr_route_model *m,
                               double temperature, struct tr_error *err)
{
    if (!(temperature > 0) || isinf(temperature))
        return TR_ERROR(err, TR_E_RANGE,
                        "temperature %g is not positive", temperature);
    m->temperature = temperature;
    return TR_OK;
}

void
tr_route_model_free(struct tr_route_model *m)
{
    if (m == NULL)
        return;
    if (m->labels != NULL)
        for (size_t k = 0; k < m->n_classes; k++)
            free(m->labels[k]);
    free(m->labels);
    free(m->abstain_label);
    free(m->keys);
    free(m->idf);
    free(m->w);
    free(m->bias);
    free(m);
}
