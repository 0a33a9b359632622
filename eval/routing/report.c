/*
 * report.c
 *      Writing a routing evaluation report as a text table or as one
 *      JSON object.
 *
 * Undefined figures (out-of-scope metrics without out-of-scope rows) are
 * "-" in the table and null in JSON.  Labels are escaped with the base
 * buffer's JSON escaping, since they come from the data files.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdio.h>

#include "evalroute.h"
#include "mem.h"

static void
json_num(struct tr_buf *b, const char *key, double v, bool last)
{
    if (isnan(v))
        tr_buf_printf(b, "\"%s\": null%s", key, last ? "" : ", ");
    else
        tr_buf_printf(b, "\"%s\": %.6f%s", key, v, last ? "" : ", ");
}

static void
json_classes(struct tr_buf *b, const struct tr_evalroute_metrics *m)
{
    tr_buf_puts(b, "\"per_class\": [");
    for (size_t k = 0; k < m->n_classes; k++) {
        const struct tr_evalroute_class *c = &m->classes[k];

        tr_buf_puts(b, k ? ", {\"label\": " : "{\"label\": ");
        tr_buf_json_str(b, c->label);
        tr_buf_printf(b, ", \"support\": %zu, \"predicted\": %zu, ",
                      c->support, c->n_pred);
        json_num(b, "precision", c->precision, false);
        json_num(b, "recall", c->recall, false);
        json_num(b, "f1", c->f1, true);
        tr_buf_puts(b, "}");
    }
    tr_buf_puts(b, "], ");
}

static void
write_json(struct tr_buf *b, const struct tr_evalroute_report *r,
           const char *dataset)
{
    const struct tr_evalroute_metrics *m = &r->metrics;

    tr_buf_puts(b, "{\"dataset\": ");
    tr_buf_json_str(b, dataset);
    tr_buf_printf(b, ", \"split\": \"%s\", \"metrics\": {", r->split);
    json_num(b, "accuracy", m->accuracy, false);
    json_num(b, "in_scope_accuracy", m->in_scope_accuracy, false);
    json_num(b, "oos_recall", m->oos_recall, false);
    json_num(b, "oos_precision", m->oos_precision, false);
    json_num(b, "macro_f1", m->macro_f1, true);
    tr_buf_puts(b, "}, ");
    json_classes(b, m);

    tr_buf_printf(b, "\"model\": {\"classes\": %zu, \"features\": %zu, "
                  "\"bytes\": %zu, \"oos_class\": %s, ",
                  r->n_classes, r->n_features, r->model_bytes,
                  r->trained_oos_class ? "true" : "false");
    json_num(b, "temperature", r->temperature, false);
    json_num(b, "threshold", r->threshold, true);
    tr_buf_printf(b, "}, \"rows\": {\"train\": %zu, \"val\": %zu, "
                  "\"test\": %zu, \"scored\": %zu}, \"timing\": {",
                  r->n_train, r->n_val, r->n_test, m->n);
    json_num(b, "train_secs", r->train_secs, false);
    json_num(b, "predict_secs", r->predict_secs, true);
    tr_buf_puts(b, "}}\n");
}

static void
pct(struct tr_buf *b, const char *name, double v)
{
    if (isnan(v))
        tr_buf_printf(b, "%-20s %8s\n", name, "-");
    else
        tr_buf_printf(b, "%-20s %8.2f\n", name, 100 * v);
}

static void
write_text(struct tr_buf *b, const struct tr_evalroute_report *r,
           const char *dataset)
{
    const struct tr_evalroute_metrics *m = &r->metrics;

    tr_buf_printf(b, "routing evaluation of %s (%s split, %zu rows)\n",
                  dataset, r->split, m->n);
    tr_buf_printf(b, "train %zu rows in %.1f s, %zu classes, %zu "
                  "features, model %zu bytes%s\n", r->n_train,
                  r->train_secs, r->n_classes, r->n_features,
                  r->model_bytes,
                  r->trained_oos_class ? ", out-of-scope class" : "");
    tr_buf_printf(b, "temperature %.3f, threshold %.4f (fitted on %zu "
                  "val rows)\n\n", r->temperature, r->threshold, r->n_val);
    pct(b, "accuracy", m->accuracy);
    pct(b, "in_scope_accuracy", m->in_scope_accuracy);
    pct(b, "oos_recall", m->oos_recall);
    pct(b, "oos_precision", m->oos_precision);
    pct(b, "macro_f1", m->macro_f1);

    tr_buf_printf(b, "\n%-40s %7s %7s %6s %6s %6s\n", "label", "support",
                  "pred", "prec", "rec", "f1");
    for (size_t k = 0; k < m->n_classes; k++) {
        const struct tr_evalroute_class *c = &m->classes[k];

        tr_buf_printf(b, "%-40.40s %7zu %7zu %6.1f %6.1f %6.1f\n",
                      c->label, c->support, c->n_pred, 100 * c->precision,
                      100 * c->recall, 100 * c->f1);
    }
}

enum tr_err
tr_evalroute_report_write(const struct tr_evalroute_report *rep,
                          const char *dataset, bool json, FILE *f,
                          struct tr_error *err)
{
    struct tr_buf b;
    enum tr_err rc = TR_OK;

    /* A few hundred bytes per label; 64 MiB holds any real label set. */
    tr_buf_init(&b, 64u << 20);
    if (json)
        write_json(&b, rep, dataset);
    else
        write_text(&b, rep, dataset);
    if (b.len > 0 && fwrite(b.data, 1, b.len, f) != b.len)
        rc = TR_ERROR(err, TR_E_IO, "could not write the report");
    else if (fflush(f) != 0)
        rc = TR_ERROR(err, TR_E_IO, "could not write the report");
    tr_buf_cleanup(&b);
    return rc;
}
