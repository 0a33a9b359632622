/*
 * metrics.c
 *      Routing metrics: accuracy, in-scope accuracy, out-of-scope recall
 *      and precision, macro-F1 and the per-label table.
 *
 * Labels are gathered from the gold and predicted arrays, sorted and
 * de-duplicated; each row then adds to its gold label's support, its
 * predicted label's count and, when they match, the true positives.
 * Definitions are in evalroute.h.  Pure function of its inputs.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evalroute.h"

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static size_t
find(const struct tr_evalroute_metrics *m, const char *label)
{
    size_t lo = 0, hi = m->n_classes;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (strcmp(m->classes[mid].label, label) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The sorted distinct labels of gold and pred become the classes. */
static enum tr_err
gather_labels(const char *const *gold, const char *const *pred, size_t n,
              struct tr_evalroute_metrics *m)
{
    const char **all = malloc(2 * n * sizeof(*all));
    size_t u = 0;

    if (all == NULL)
        return TR_E_NOMEM;
    memcpy(all, gold, n * sizeof(*all));
    memcpy(all + n, pred, n * sizeof(*all));
    qsort(all, 2 * n, sizeof(*all), cmp_str);
    for (size_t i = 0; i < 2 * n; i++)
        if (u == 0 || strcmp(all[u - 1], all[i]) != 0)
            all[u++] = all[i];

    m->classes = calloc(u, sizeof(*m->classes));
    if (m->classes == NULL) {
        free(all);
        return TR_E_NOMEM;
    }
    for (size_t i = 0; i < u; i++) {
        m->classes[i].label = strdup(all[i]);
        if (m->classes[i].label == NULL) {
            free(all);
            return TR_E_NOMEM;
        }
        m->n_classes++;
    }
    free(all);
    return TR_OK;
}

static void
finish_classes(struct tr_evalroute_metrics *m)
{
    double sum = 0;

    for (size_t k = 0; k < m->n_classes; k++) {
        struct tr_evalroute_class *c = &m->classes[k];

        c->precision = c->n_pred ? (double)c->tp / c->n_pred : 0;
        c->recall = c->support ? (double)c->tp / c->support : 0;
        c->f1 = c->precision + c->recall > 0
                    ? 2 * c->precision * c->recall
                          / (c->precision + c->recall)
                    : 0;
        sum += c->f1;
    }
    m->macro_f1 = m->n_classes ? sum / m->n_classes : 0;
}

enum tr_err
tr_evalroute_metrics_compute(const char *const *gold,
                             const char *const *pred, size_t n,
                             const char *oos_label,
                             struct tr_evalroute_metrics *out,
                             struct tr_error *err)
{
    size_t ok = 0, in_ok = 0, oos_hit = 0, oos_pred = 0;

    memset(out, 0, sizeof(*out));
    if (n == 0)
        return TR_ERROR(err, TR_E_INVAL, "no predictions to score");
    for (size_t i = 0; i < n; i++)
        if (gold[i] == NULL || pred[i] == NULL)
            return TR_ERROR(err, TR_E_INVAL, "row %zu has no label", i);
    if (gather_labels(gold, pred, n, out) != TR_OK) {
        tr_evalroute_metrics_cleanup(out);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory for metrics");
    }

    out->n = n;
    for (size_t i = 0; i < n; i++) {
        bool hit = strcmp(gold[i], pred[i]) == 0;
        bool is_oos = oos_label && strcmp(gold[i], oos_label) == 0;
        bool said_oos = oos_label && strcmp(pred[i], oos_label) == 0;

        out->classes[find(out, gold[i])].support++;
        out->classes[find(out, pred[i])].n_pred++;
        if (hit)
            out->classes[find(out, gold[i])].tp++;
        ok += hit;
        out->n_oos += is_oos;
        out->n_in_scope += !is_oos;
        in_ok += !is_oos && hit;
        oos_hit += is_oos && said_oos;
        oos_pred += said_oos;
    }

    out->accuracy = (double)ok / n;
    out->in_scope_accuracy = out->n_in_scope
                                 ? (double)in_ok / out->n_in_scope : 0;
    out->oos_recall = out->n_oos ? (double)oos_hit / out->n_oos : NAN;
    out->oos_precision = !out->n_oos ? NAN
                         : oos_pred  ? (double)oos_hit / oos_pred
                                     : 0;
    finish_classes(out);
    return TR_OK;
}

void
tr_evalroute_metrics_cleanup(struct tr_evalroute_metrics *m)
{
    for (size_t k = 0; k < m->n_classes; k++)
        free(m->classes[k].label);
    free(m->classes);
    memset(m, 0, sizeof(*m));
}
