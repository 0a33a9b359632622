/*
 * route_int.h
 *      Layouts shared by the files of the router: the model, the feature
 *      vocabulary and sparse vectors.
 *
 * A feature is a 64-bit hash whose top two bits say its kind (word
 * unigram, word bigram or trigram, character n-gram).  The vocabulary
 * keeps the hashes seen in training, sorted, with their IDF; a feature's
 * row in the weight matrix is its position there.  Weights are stored
 * row by row: w[f * n_classes + k].
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_ROUTE_INT_H
#define TR_ROUTE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "route.h"

/* Kinds of feature, kept in the top two bits of the hash. */
#define TR_ROUTE_KIND_WORD1 1u
#define TR_ROUTE_KIND_WORD2 2u     /* bigrams and trigrams */
#define TR_ROUTE_KIND_CHAR 3u
#define TR_ROUTE_KIND_SHIFT 62

/* Longest text prefix that is looked at, in bytes. */
#define TR_ROUTE_TEXT_MAX 4096

/* Settings that change how a text becomes a vector; saved with a model. */
struct tr_route__fspec {
    int char_min;
    int char_max;
    int word_ngrams;
    float char_weight;
    float idf_unseen;           /* weight of a feature not in the
                                 * vocabulary, 0 to leave it out */
};

struct tr_route_model {
    struct tr_route__fspec spec;
    size_t n_classes;
    char **labels;              /* n_classes strings */
    int oos_class;              /* class of the out-of-scope label or -1 */
    char *abstain_label;
    size_t n_feat;
    uint64_t *keys;             /* sorted feature hashes */
    float *idf;                 /* n_feat */
    float *w;                   /* n_feat * n_classes */
    float *bias;                /* n_classes */
    double temperature;
    double threshold;
    enum tr_route_conf conf;    /* what threshold is compared with */
};

/* A sparse vector: feature rows and their values. */
struct tr_route__vec {
    uint32_t *idx;
    float *val;
    size_t n;
    size_t cap;
};

/*
 * Append the raw feature hashes of `text` to *hashes (grown with
 * realloc; *n and *cap track it).  Returns TR_E_NOMEM.
 */
enum tr_err tr_route__hashes(const struct tr_route__fspec *spec,
                             const char *text, size_t len,
                             uint64_t **hashes, size_t *n, size_t *cap);

/*
 * Turn the hashes of one text (sorted in place) into the weighted,
 * normalised vector `v` over the vocabulary of `m` (keys and idf only
 * are used).  Returns TR_E_NOMEM.
 */
enum tr_err tr_route__vectorize(const struct tr_route_model *m,
                                uint64_t *hashes, size_t n_hashes,
                                struct tr_route__vec *v);

/*
 * The confidence of `m` in class `best` given its calibrated `probs`.
 */
double tr_route__confidence(const struct tr_route_model *m,
                            const double *probs, int best);

/*
 * Scores of `v` for every class, then softmax at temperature `t` into
 * `probs` (n_classes).  `scores` may alias `probs`.
 */
void tr_route__scores(const struct tr_route_model *m,
                      const struct tr_route__vec *v, double *scores);
void tr_route__softmax(const double *scores, size_t n, double t,
                       double *probs);

/* Free the arrays of a vector. */
void tr_route__vec_cleanup(struct tr_route__vec *v);

#endif /* TR_ROUTE_INT_H */
