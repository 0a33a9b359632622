/*
 * evalroute.h
 *      Offline evaluation of routing: classification metrics with an
 *      out-of-scope class, and the runner that trains the router on a
 *      dataset directory and measures it.
 *
 * A dataset directory holds train.jsonl and test.jsonl, and optionally
 * val.jsonl, each with {"text","label"} lines.  The runner trains on
 * train, fits the temperature and the abstain threshold on val (never on
 * test), and scores test.  Metrics, with `oos` the out-of-scope label:
 *   accuracy           predicted label equals the gold one, all rows;
 *   in_scope_accuracy  the same over rows whose gold label is not oos
 *                      (predicting oos for them is an error);
 *   oos_recall         share of gold-oos rows predicted oos;
 *   oos_precision      share of rows predicted oos that are gold oos
 *                      (0 when none is predicted oos);
 *   macro_f1           unweighted mean of per-label F1 over every label
 *                      that occurs in the gold or the predicted labels,
 *                      oos included.
 * oos_recall and oos_precision are NAN when no out-of-scope label is
 * given or no gold row carries it.  Everything here runs on the calling
 * thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_EVALROUTE_H
#define TR_EVALROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"
#include "route.h"

/* One row of the per-label table. */
struct tr_evalroute_class {
    char *label;
    size_t support;             /* gold rows with this label */
    size_t n_pred;              /* rows predicted with this label */
    size_t tp;
    double precision;           /* 0 when n_pred is 0 */
    double recall;              /* 0 when support is 0 */
    double f1;
};

struct tr_evalroute_metrics {
    size_t n;
    size_t n_in_scope;
    size_t n_oos;
    double accuracy;
    double in_scope_accuracy;
    double oos_recall;
    double oos_precision;
    double macro_f1;
    size_t n_classes;
    struct tr_evalroute_class *classes;     /* sorted by label */
};

/* How out-of-scope is learnt when the data has an out-of-scope label. */
enum tr_evalroute_oos_mode {
    TR_EVALROUTE_OOS_THRESHOLD,     /* in-scope rows only, threshold */
    TR_EVALROUTE_OOS_CLASS,         /* one more class, and threshold */
    TR_EVALROUTE_OOS_AUTO           /* both, keep the better on val */
};

struct tr_evalroute_opts {
    const char *dataset_dir;
    const char *oos_label;          /* NULL: the data has none */
    struct tr_route_params params;  /* oos_label/train_oos are set */
    enum tr_evalroute_oos_mode oos_mode;
    double holdout;                 /* > 0: val is every 1/holdout-th
                                     * train row instead of val.jsonl */
    bool on_val;                    /* score val instead of test (for
                                     * tuning; test stays unread) */
    double threshold;               /* >= 0: use it instead of fitting */
    double max_drop;                /* in-scope accuracy the threshold
                                     * may cost on val, see route.h */
};

struct tr_evalroute_report {
    struct tr_evalroute_metrics metrics;
    const char *split;              /* "test" or "val" */
    size_t n_train;
    size_t n_val;
    size_t n_test;
    bool trained_oos_class;
    double temperature;
    double threshold;
    double val_in_scope_accuracy;   /* at the threshold, -1 without val */
    double val_oos_recall;          /* -1 without oos rows in val */
    size_t n_features;
    size_t n_classes;
    size_t model_bytes;
    double train_secs;              /* all training, both modes in auto */
    double predict_secs;
};

/*
 * Compute the metrics of `n` predictions `pred` against `gold` (arrays of
 * borrowed strings).  `oos_label` may be NULL.  On success `out` holds
 * the metrics; the caller releases them with
 * tr_evalroute_metrics_cleanup().  Returns TR_E_INVAL for n == 0 or a
 * NULL label, TR_E_NOMEM.
 */
enum tr_err tr_evalroute_metrics_compute(const char *const *gold,
                                         const char *const *pred, size_t n,
                                         const char *oos_label,
                                         struct tr_evalroute_metrics *out,
                                         struct tr_error *err);

/*
 * Free what the metrics hold and zero them.  Safe on zeroed metrics.
 */
void tr_evalroute_metrics_cleanup(struct tr_evalroute_metrics *m);

/*
 * Fill `o` with the defaults: tr_route_params_default(), oos label
 * "oos", the out-of-scope mode that won on the CLINC150 validation
 * split (class), no holdout, test split, fitted threshold with
 * TR_ROUTE_MAX_DROP.
 */
void tr_evalroute_opts_default(struct tr_evalroute_opts *o);

/*
 * Train, calibrate and score as described at the top of this file.  On
 * success `rep` is filled; release it with tr_evalroute_report_cleanup().
 * Returns the codes of tr_route_set_load() (a missing train.jsonl or
 * test.jsonl is TR_E_IO naming the file), of tr_route_train() and of
 * the metrics, TR_E_INVAL for a holdout outside (0, 0.5].
 */
enum tr_err tr_evalroute_run(const struct tr_evalroute_opts *o,
                             struct tr_evalroute_report *rep,
                             struct tr_error *err);

/*
 * Release what `rep` holds.  Safe on a zeroed report.
 */
void tr_evalroute_report_cleanup(struct tr_evalroute_report *rep);

/*
 * Write `rep` to `f`: a text table, or with `json` one JSON object with
 * "dataset", "split", "metrics" (exactly accuracy, in_scope_accuracy,
 * oos_recall, oos_precision, macro_f1; null where not defined),
 * "per_class" (label, support, predicted, precision, recall, f1),
 * "model" and "timing".  Returns TR_E_IO when writing fails.
 */
enum tr_err tr_evalroute_report_write(const struct tr_evalroute_report *rep,
                                      const char *dataset, bool json,
                                      FILE *f, struct tr_error *err);

struct tr_cli;

/*
 * `triage eval routing --dataset DIR [--oos-label L] [--json] ...`:
 * the command for service/main.c.  `argv` starts at "eval" (followed by
 * "routing") or at "routing".  Returns an exit code (TR_EXIT_*).  Main
 * thread only; its tr_cli_* calls resolve in the triage binary.
 */
int tr_cli_cmd_eval_routing(struct tr_cli *cli, int argc, char **argv);

#endif /* TR_EVALROUTE_H */
