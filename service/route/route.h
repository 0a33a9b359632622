/*
 * route.h
 *      The learned router: a linear text classifier with calibrated
 *      probabilities and an out-of-scope (abstain) decision.
 *
 * Texts become sparse vectors of hashed word unigrams and bigrams and of
 * character n-grams inside word boundaries, weighted by sublinear term
 * frequency and inverse document frequency and normalised to unit length
 * (features missing from the vocabulary count in that length).  A
 * multinomial logistic regression (softmax) over those vectors is
 * trained with AdaGrad, L2 regularisation and feature dropout in a fixed
 * order drawn from a seed, optionally over several seeds or keeping the
 * mean of the last epochs' weights, so the same data and parameters give
 * the same model.
 *
 * A model carries a temperature that scales its scores before the softmax
 * and a threshold on its confidence (the top probability, or its margin
 * over the second) under which it abstains; both are fitted on a
 * validation split by tr_route_model_calibrate().  Models
 * serialise to a byte buffer (stored in PostgreSQL) and load back.
 *
 * A trained or loaded model is read-only: any number of threads may call
 * tr_route_predict() on it at once.  Training, calibration and the
 * setters belong to one thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_ROUTE_H
#define TR_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Largest training or evaluation file that is read, in bytes. */
#define TR_ROUTE_FILE_MAX (256u * 1024 * 1024)

/* Longest label, in bytes, without its terminating NUL. */
#define TR_ROUTE_LABEL_MAX 127

struct tr_route_model;

/*
 * What the abstain threshold is compared with: the calibrated
 * probability of the best class, or its margin over the second best
 * (which also abstains when two intents are about as likely).
 */
enum tr_route_conf {
    TR_ROUTE_CONF_PROB = 0,
    TR_ROUTE_CONF_MARGIN = 1
};

/* One labelled text.  Both strings are borrowed. */
struct tr_route_example {
    const char *text;
    const char *label;
};

/* A loaded JSONL file: rows and the memory that holds them. */
struct tr_route_set {
    struct tr_route_example *rows;
    size_t n_rows;
    struct tr_arena *arena;     /* owns rows and every string */
};

/*
 * Training settings.  Fill with tr_route_params_default() and change what
 * is needed; the default of each field is given in brackets (measured on
 * the CLINC150 validation split, see docs/routing.md).  `oos_label` names
 * the out-of-scope label of the data (NULL when there is none); with
 * `train_oos` false its rows are left out of training and out-of-scope
 * is only decided by the threshold, with `train_oos` true it is learnt
 * as one more class as well.
 */
struct tr_route_params {
    int epochs;                 /* passes over the training rows [24] */
    int avg_epochs;             /* keep the mean of the weights at the
                                 * end of the last this many epochs;
                                 * 1 keeps the final weights [1] */
    double eta;                 /* AdaGrad base step [0.1] */
    double l2;                  /* L2 weight per example seen [1e-5] */
    double dropout;             /* share of a text's features left out
                                 * at random at each step, 0..0.9 [0.4] */
    uint32_t seed;              /* order of the examples [1] */
    int runs;                   /* train this many times, with seeds
                                 * seed, seed + 1, ..., and keep the
                                 * mean weights, 1..16 [1] */
    int char_min;               /* character n-gram sizes, 0 0 for none */
    int char_max;               /* [2 and 5] */
    int word_ngrams;            /* 1: unigrams, 2: and bigrams, 3: and
                                 * trigrams [2] */
    int min_df;                 /* drop character n-grams found in fewer
                                 * training texts than this [2] */
    double char_weight;         /* share of the character block in the
                                 * squared norm, 0..1 [0.5] */
    double unseen_weight;       /* features of a text that are not in
                                 * the vocabulary count in its norm
                                 * with this many times the IDF of a
                                 * feature found in one training text;
                                 * 0 leaves them out, up to 10 [1] */
    const char *oos_label;      /* borrowed [NULL] */
    bool train_oos;             /* [false] */
    double oos_weight;          /* loss weight of out-of-scope rows when
                                 * they are learnt as a class, above 0
                                 * and at most 100 [1] */
    enum tr_route_conf confidence;  /* what the threshold is compared
                                     * with; saved with the model
                                     * [TR_ROUTE_CONF_PROB] */
};

/* What tr_route_predict() decided for one text. */
struct tr_route_result {
    const char *label;          /* best label, or the abstain label */
    const char *best_label;     /* best label even when abstaining */
    int best_class;             /* index of best_label */
    double prob;                /* calibrated probability of best_label */
    double confidence;          /* prob, or prob minus the second best
                                 * probability, as the model says */
    bool abstain;               /* confidence under the threshold, or
                                 * the best class is the out-of-scope
                                 * one */
};

/* What tr_route_model_calibrate() fitted and saw. */
struct tr_route_calibration {
    double temperature;
    double threshold;
    double val_in_scope_accuracy;   /* at the threshold */
    double val_oos_recall;          /* at the threshold, -1 without oos */
    size_t n_val;
};

/*
 * Fill `p` with the defaults (tuned on the CLINC150 validation split).
 */
void tr_route_params_default(struct tr_route_params *p);

/*
 * Read a JSONL file of {"text": ..., "label": ...} lines (other keys are
 * ignored, blank lines skipped).  On success *out holds the rows; the
 * caller owns it and frees it with tr_route_set_free().  Returns
 * TR_E_IO when the file cannot be read, TR_E_TOOBIG past
 * TR_ROUTE_FILE_MAX, TR_E_PARSE naming the file and line of a malformed
 * line or one without a string text and label, TR_E_NOMEM.
 */
enum tr_err tr_route_set_load(const char *path, struct tr_route_set **out,
                              struct tr_error *err);

/*
 * Free a set from tr_route_set_load().  NULL is a no-op.
 */
void tr_route_set_free(struct tr_route_set *set);

/*
 * Train a model on `n_rows` examples (borrowed for the call only).  On
 * success *out is a new model with temperature 1 and threshold 0; the
 * caller owns it and frees it with tr_route_model_free().  Returns
 * TR_E_INVAL for bad parameters, fewer than two classes or an empty
 * text set, TR_E_NOMEM.  Runs on the calling thread only.
 */
enum tr_err tr_route_train(const struct tr_route_params *p,
                           const struct tr_route_example *rows,
                           size_t n_rows, struct tr_route_model **out,
                           struct tr_error *err);

/*
 * Fit the temperature on the validation rows whose label the model knows
 * (minimum negative log-likelihood), then choose the abstain threshold on
 * all validation rows.  Criterion: the highest out-of-scope recall whose
 * in-scope accuracy is at most `max_drop` (a fraction, e.g. 0.01 for one
 * point) below the in-scope accuracy without a threshold; the lowest
 * such threshold.  So abstaining may cost at most that share of
 * correctly routed in-scope texts, and catches as many out-of-scope
 * texts as it can within that budget.  Rows labelled with the model's
 * abstain label are the out-of-scope ones; without any the threshold
 * stays 0.  Rows with a label the model does not know (and not the
 * abstain label) count as in-scope errors.  Fills `cal` when not NULL.
 * Returns TR_E_RANGE for `max_drop` outside 0..1, TR_E_INVAL when no row
 * has a known label, TR_E_NOMEM.
 */
enum tr_err tr_route_model_calibrate(struct tr_route_model *m,
                                     const struct tr_route_example *val,
                                     size_t n_val, double max_drop,
                                     struct tr_route_calibration *cal,
                                     struct tr_error *err);

/* The accuracy drop that tr_route_model_calibrate() callers use by
 * default: one point. */
#define TR_ROUTE_MAX_DROP 0.01

/*
 * Classify `text` (`len` bytes, UTF-8; need not be NUL-terminated).
 * Fills `res`; its strings are borrowed from the model.  When `probs` is
 * not NULL it receives tr_route_model_n_classes() calibrated
 * probabilities.  Returns TR_E_NOMEM.  Thread-safe on a shared model.
 */
enum tr_err tr_route_predict(const struct tr_route_model *m,
                             const char *text, size_t len,
                             struct tr_route_result *res, double *probs,
                             struct tr_error *err);

/*
 * Number of classes of `m`, and the label of class `i` (borrowed from
 * the model, NULL when `i` is out of range).
 */
size_t tr_route_model_n_classes(const struct tr_route_model *m);
const char *tr_route_model_label(const struct tr_route_model *m, size_t i);

/*
 * Number of features kept in the vocabulary of `m`.
 */
size_t tr_route_model_n_features(const struct tr_route_model *m);

/*
 * The label reported when the model abstains: the out-of-scope label it
 * was trained with, else "oos".  Borrowed from the model.
 */
const char *tr_route_model_abstain_label(const struct tr_route_model *m);

/*
 * Read and set the temperature (> 0) and threshold (0..1).  The setters
 * return TR_E_RANGE for values outside those ranges.
 */
double tr_route_model_threshold(const struct tr_route_model *m);
double tr_route_model_temperature(const struct tr_route_model *m);
enum tr_err tr_route_model_set_threshold(struct tr_route_model *m,
                                         double threshold,
                                         struct tr_error *err);
enum tr_err tr_route_model_set_temperature(struct tr_route_model *m,
                                           double temperature,
                                           struct tr_error *err);

/*
 * Serialise `m` into a new buffer.  On success *buf (caller-owned, freed
 * with free()) holds *buf_len bytes that tr_route_model_load() reads back
 * on any machine.  Returns TR_E_NOMEM.
 */
enum tr_err tr_route_model_save(const struct tr_route_model *m,
                                unsigned char **buf, size_t *buf_len,
                                struct tr_error *err);

/*
 * Build a model from `buf_len` bytes of `buf` (borrowed; nothing points
 * into it afterwards).  On success *out is owned by the caller and freed
 * with tr_route_model_free().  Returns TR_E_PARSE for a buffer that is
 * not a model of this version or is truncated or inconsistent,
 * TR_E_NOMEM.
 */
enum tr_err tr_route_model_load(const void *buf, size_t buf_len,
                                struct tr_route_model **out,
                                struct tr_error *err);

/*
 * Free `m`.  NULL is a no-op.
 */
void tr_route_model_free(struct tr_route_model *m);

#endif /* TR_ROUTE_H */
