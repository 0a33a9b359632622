/*
 * train.c
 *      Training of the router: labels, vocabulary with IDF, and a softmax
 *      regression fitted with AdaGrad.
 *
 * The vocabulary is every word feature of the training texts plus the
 * character n-grams found in at least min_df of them.  IDF is smoothed,
 * ln((1 + N) / (1 + df)) + 1, over the N training texts.  AdaGrad keeps
 * one squared-gradient sum per weight, so rare and frequent features get
 * fitting step sizes without a schedule.  L2 is applied to the rows a
 * text touches when it is seen (the usual lazy form for sparse data), so
 * a feature is regularised in proportion to how often it occurs.  The
 * example order of each epoch is a Fisher-Yates shuffle of a xorshift
 * generator seeded from the parameters: training is deterministic.
 * Runs on the calling thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "route_int.h"

/* Training texts turned into vectors, stored row after row. */
struct corpus {
    size_t n_docs;
    size_t *start;              /* n_docs + 1 offsets into idx/val */
    uint32_t *idx;
    float *val;
    int *y;                     /* class of each text */
};

void
tr_route_params_default(struct tr_route_params *p)
{
    memset(p, 0, sizeof(*p));
    p->epochs = 24;
    p->avg_epochs = 1;
    p->runs = 1;
    p->eta = 0.1;
    p->l2 = 1e-5;
    p->seed = 1;
    p->char_min = 2;
    p->char_max = 5;
    p->word_ngrams = 2;
    p->min_df = 2;
    p->char_weight = 0.5;
    p->oos_label = NULL;
    p->train_oos = false;
    p->confidence = TR_ROUTE_CONF_PROB;
    p->oos_weight = 1.0;
    p->dropout = 0.4;
    p->unseen_weight = 1.0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

static bool
row_kept(const struct tr_route_params *p, const struct tr_route_example *r)
{
    if (p->oos_label == NULL || p->train_oos)
        return true;
    return strcmp(r->label, p->oos_label) != 0;
}

static int
class_of(const struct tr_route_model *m, const char *label)
{
    char *const *hit = bsearch(&label, m->labels, m->n_classes,
                               sizeof(*m->labels), cmp_str);

    return hit ? (int)(hit - m->labels) : -1;
}

/*
 * The classes are the distinct labels of the kept rows in byte order, so
 * that the same data always numbers them alike.
 */
static enum tr_err
build_labels(struct tr_route_model *m, const struct tr_route_params *p,
             const struct tr_route_example *rows, size_t n_rows,
             struct tr_error *err)
{
    const char **all = malloc((n_rows ? n_rows : 1) * sizeof(*all));
    size_t n = 0, u = 0;

    if (all == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory for labels");
    for (size_t i = 0; i < n_rows; i++)
        if (row_kept(p, &rows[i]))
            all[n++] = rows[i].label;
    qsort(all, n, sizeof(*all), cmp_str);
    for (size_t i = 0; i < n; i++)
        if (u == 0 || strcmp(all[u - 1], all[i]) != 0)
            all[u++] = all[i];

    m->labels = calloc(u ? u : 1, sizeof(*m->labels));
    if (m->labels == NULL) {
        free(all);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory for labels");
    }
    for (size_t i = 0; i < u; i++) {
        m->labels[i] = strdup(all[i]);
        if (m->labels[i] == NULL) {
            free(all);
            return TR_ERROR(err, TR_E_NOMEM, "out of memory for labels");
        }
        m->n_classes++;
    }
    free(all);
    if (u < 2)
        return TR_ERROR(err, TR_E_INVAL,
                        "training needs at least two labels, got %zu", u);
    m->oos_class = p->oos_label ? class_of(m, p->oos_label) : -1;
    return TR_OK;
}

/*
 * Unique hashes of one text, sorted.  *hashes, *n and *cap are the
 * caller's growing scratch array.
 */
static enum tr_err
unique_hashes(const struct tr_route__fspec *spec, const char *text,
              uint64_t **hashes, size_t *n, size_t *cap)
{
    size_t u = 0;
    enum tr_err rc;

    *n = 0;
    rc = tr_route__hashes(spec, text, strlen(text), hashes, n, cap);
    if (rc != TR_OK)
        return rc;
    qsort(*hashes, *n, sizeof(**hashes), cmp_u64);
    for (size_t i = 0; i < *n; i++)
        if (u == 0 || (*hashes)[u - 1] != (*hashes)[i])
            (*hashes)[u++] = (*hashes)[i];
    *n = u;
    return TR_OK;
}

static enum tr_err
append_all(uint64_t **all, size_t *n_all, size_t *cap_all,
           const uint64_t *h, size_t n)
{
    if (*n_all + n > *cap_all) {
        size_t cap = *cap_all ? *cap_all : 4096;
        uint64_t *p;

        while (cap < *n_all + n)
            cap *= 2;
        p = realloc(*all, cap * sizeof(*p));
        if (p == NULL)
            return TR_E_NOMEM;
        *all = p;
        *cap_all = cap;
    }
    memcpy(*all + *n_all, h, n * sizeof(*h));
    *n_all += n;
    return TR_OK;
}

/*
 * Document frequencies: the unique hashes of every kept text go into one
 * array, which sorted gives each feature as a run as long as its df.
 */
static enum tr_err
build_vocab(struct tr_route_model *m, const struct tr_route_params *p,
            const struct tr_route_example *rows, size_t n_rows,
            size_t n_docs, struct tr_error *err)
{
    uint64_t *all = NULL, *h = NULL;
    size_t n_all = 0, cap_all = 0, n_h = 0, cap_h = 0, n_keep = 0;
    enum tr_err rc = TR_OK;

    for (size_t i = 0; i < n_rows && rc == TR_OK; i++) {
        if (!row_kept(p, &rows[i]))
            continue;
        rc = unique_hashes(&m->spec, rows[i].text, &h, &n_h, &cap_h);
        if (rc == TR_OK)
            rc = append_all(&all, &n_all, &cap_all, h, n_h);
    }
    free(h);
    if (rc != TR_OK)
        goto out;
    qsort(all, n_all, sizeof(*all), cmp_u64);

    m->keys = malloc((n_all ? n_all : 1) * sizeof(*m->keys));
    m->idf = malloc((n_all ? n_all : 1) * sizeof(*m->idf));
    if (m->keys == NULL || m->idf == NULL) {
        rc = TR_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n_all;) {
        size_t j = i;
        bool is_char;

        while (j < n_all && all[j] == all[i])
            j++;
        is_char = (all[i] >> TR_ROUTE_KIND_SHIFT) == TR_ROUTE_KIND_CHAR;
        if (!is_char || (int)(j - i) >= p->min_df) {
            m->keys[n_keep] = all[i];
            m->idf[n_keep] = (float)(log((1.0 + (double)n_docs)
                                         / (1.0 + (double)(j - i))) + 1.0);
            n_keep++;
        }
        i = j;
    }
    m->n_feat = n_keep;

    /* An unseen feature weighs like one found in a single text. */
    m->spec.idf_unseen = (float)(p->unseen_weight
                                 * (log((1.0 + (double)n_docs) / 2.0)
                                    + 1.0));

out:
    free(all);
    if (rc != TR_OK)
        return TR_ERROR(err, rc, "out of memory building the vocabulary");
    if (n_keep == 0)
        return TR_ERROR(err, TR_E_INVAL, "training texts have no words");
    return TR_OK;
}

static void
corpus_cleanup(struct corpus *c)
{
    free(c->start);
    free(c->idx);
    free(c->val);
    free(c->y);
}

static enum tr_err
corpus_add(struct corpus *c, size_t *cap, const struct tr_route__vec *v)
{
    size_t at = c->start[c->n_docs];

    if (at + v->n > *cap) {
        size_t ncap = *cap ? *cap * 2 : 65536;
        uint32_t *idx;
        float *val;

        while (ncap < at + v->n)
            ncap *= 2;
        idx = realloc(c->idx, ncap * sizeof(*idx));
        if (idx == NULL)
            return TR_E_NOMEM;
        c->idx = idx;
        val = realloc(c->val, ncap * sizeof(*val));
        if (val == NULL)
            return TR_E_NOMEM;
        c->val = val;
        *cap = ncap;
    }
    memcpy(c->idx + at, v->idx, v->n * sizeof(*v->idx));
    memcpy(c->val + at, v->val, v->n * sizeof(*v->val));
    c->start[c->n_docs + 1] = at + v->n;
    c->n_docs++;
    return TR_OK;
}

static enum tr_err
build_corpus(const struct tr_route_model *m,
             const struct tr_route_params *p,
             const struct tr_route_example *rows, size_t n_rows,
             struct corpus *c, struct tr_error *err)
{
    struct tr_route__vec v = {0};
    uint64_t *h = NULL;
    size_t n_h, cap_h = 0, cap = 0;
    enum tr_err rc = TR_OK;

    c->start = calloc(n_rows + 1, sizeof(*c->start));
    c->y = calloc(n_rows ? n_rows : 1, sizeof(*c->y));
    if (c->start == NULL || c->y == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory for vectors");

    for (size_t i = 0; i < n_rows && rc == TR_OK; i++) {
        if (!row_kept(p, &rows[i]))
            continue;
        n_h = 0;
        rc = tr_route__hashes(&m->spec, rows[i].text, strlen(rows[i].text),
                              &h, &n_h, &cap_h);
        if (rc == TR_OK)
            rc = tr_route__vectorize(m, h, n_h, &v);
        if (rc == TR_OK) {
            c->y[c->n_docs] = class_of(m, rows[i].label);
            rc = corpus_add(c, &cap, &v);
        }
    }
    free(h);
    tr_route__vec_cleanup(&v);
    if (rc != TR_OK)
        return TR_ERROR(err, rc, "out of memory for vectors");
    return TR_OK;
}

static uint64_t
next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* What the steps of one training run share besides the model. */
struct scratch {
    float *g2;                  /* squared gradient sums of w */
    float *gb2;                 /* and of the bias */
    double *buf;                /* n_classes scores, then gradients */
    float *gk;                  /* the gradients in single precision */
    uint32_t *idx;              /* the kept features of a text */
    float *val;
    uint64_t rng;               /* for feature dropout */
};

/*
 * The features of text `d` that feature dropout keeps, scaled by
 * 1 / (1 - dropout) so that their expected sum stays the same.  Without
 * dropout, the text's own vector.
 */
static struct tr_route__vec
kept_features(const struct tr_route_params *p, const struct corpus *c,
              size_t d, struct scratch *sc)
{
    struct tr_route__vec v = {
        .idx = c->idx + c->start[d],
        .val = c->val + c->start[d],
        .n = c->start[d + 1] - c->start[d],
    };
    float scale = (float)(1.0 / (1.0 - p->dropout));
    size_t n = 0;

    if (p->dropout == 0)
        return v;
    for (size_t i = 0; i < v.n; i++) {
        double u = (double)(next_rand(&sc->rng) >> 11) * 0x1p-53;

        if (u < p->dropout)
            continue;
        sc->idx[n] = v.idx[i];
        sc->val[n] = v.val[i] * scale;
        n++;
    }
    v.idx = sc->idx;
    v.val = sc->val;
    v.n = n;
    return v;
}

/*
 * One AdaGrad step on one text: softmax gradient g = p - onehot(y), then
 * for every feature row it touches and every class, the gradient with
 * its L2 part, its squared sum and the scaled step.
 */
static void
step(struct tr_route_model *m, const struct tr_route_params *p,
     const struct corpus *c, size_t d, struct scratch *sc)
{
    size_t k_n = m->n_classes;
    struct tr_route__vec v = kept_features(p, c, d, sc);
    double eta = p->eta, *buf = sc->buf;
    float eta_f = (float)p->eta, l2 = (float)p->l2;

    tr_route__scores(m, &v, buf);
    tr_route__softmax(buf, k_n, 1.0, buf);
    buf[c->y[d]] -= 1.0;

    /* Out-of-scope rows are few and varied; their weight scales their
     * whole gradient, as if each were seen that many times. */
    if (c->y[d] == m->oos_class && p->oos_weight != 1.0)
        for (size_t k = 0; k < k_n; k++)
            buf[k] *= p->oos_weight;

    for (size_t k = 0; k < k_n; k++) {
        sc->gb2[k] += (float)(buf[k] * buf[k]);
        m->bias[k] -= (float)(eta * buf[k] / (sqrt(sc->gb2[k]) + 1e-8));
        sc->gk[k] = (float)buf[k];
    }
    for (size_t i = 0; i < v.n; i++) {
        size_t row = (size_t)v.idx[i] * k_n;
        float *w = m->w + row, *s = sc->g2 + row, *gk = sc->gk;
        float x = v.val[i];

        /* Single precision, one class per lane: the compiler vectorises
         * this loop and the order of operations stays fixed. */
        for (size_t k = 0; k < k_n; k++) {
            float g = gk[k] * x + l2 * w[k];

            s[k] += g * g;
            w[k] -= eta_f * g / (sqrtf(s[k]) + 1e-8f);
        }
    }
}

/*
 * Fold the weights at the end of an epoch into the running mean `acc`
 * (bias last), `n` snapshots having been folded in before.
 */
static void
fold_snapshot(const struct tr_route_model *m, float *acc, int n)
{
    size_t n_w = m->n_feat * m->n_classes;
    float keep = (float)n / (float)(n + 1), add = 1.0f / (float)(n + 1);

    for (size_t i = 0; i < n_w; i++)
        acc[i] = keep * acc[i] + add * m->w[i];
    for (size_t k = 0; k < m->n_classes; k++)
        acc[n_w + k] = keep * acc[n_w + k] + add * m->bias[k];
}

static void
scratch_cleanup(struct scratch *sc)
{
    free(sc->g2);
    free(sc->gb2);
    free(sc->buf);
    free(sc->gk);
    free(sc->idx);
    free(sc->val);
}

static bool
scratch_init(struct scratch *sc, const struct tr_route_model *m,
             const struct tr_route_params *p, const struct corpus *c)
{
    size_t k_n = m->n_classes, longest = 1;

    for (size_t d = 0; d < c->n_docs; d++)
        if (c->start[d + 1] - c->start[d] > longest)
            longest = c->start[d + 1] - c->start[d];
    memset(sc, 0, sizeof(*sc));
    sc->g2 = calloc(m->n_feat * k_n, sizeof(*sc->g2));
    sc->gb2 = calloc(k_n, sizeof(*sc->gb2));
    sc->buf = calloc(k_n, sizeof(*sc->buf));
    sc->gk = calloc(k_n, sizeof(*sc->gk));
    sc->idx = malloc(longest * sizeof(*sc->idx));
    sc->val = malloc(longest * sizeof(*sc->val));

    /* Dropout draws from its own generator, so that it leaves the
     * example order of a seed as it is. */
    sc->rng = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)p->seed << 1);
    return sc->g2 && sc->gb2 && sc->buf && sc->gk && sc->idx && sc->val;
}

static enum tr_err
fit(struct tr_route_model *m, const struct tr_route_params *p,
    const struct corpus *c, struct tr_error *err)
{
    size_t k_n = m->n_classes, n = c->n_docs, n_w = m->n_feat * k_n;
    size_t *order = calloc(n ? n : 1, sizeof(*order));
    float *acc = NULL;
    struct scratch sc;
    uint64_t s = 0x2545f4914f6cdd1dULL ^ ((uint64_t)p->seed << 1);
    int n_snap = 0;
    enum tr_err rc = TR_OK;

    if (p->avg_epochs > 1)
        acc = calloc(n_w + k_n, sizeof(*acc));
    if (!scratch_init(&sc, m, p, c) || order == NULL
        || (p->avg_epochs > 1 && acc == NULL)) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory for training");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;

    for (int e = 0; e < p->epochs; e++) {
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)(next_rand(&s) % i), t = order[i - 1];

            order[i - 1] = order[j];
            order[j] = t;
        }
        for (size_t i = 0; i < n; i++)
            step(m, p, c, order[i], &sc);
        if (acc != NULL && e >= p->epochs - p->avg_epochs)
            fold_snapshot(m, acc, n_snap++);
    }

    /* The mean of the last epochs' weights wanders less than the last
     * weights alone. */
    if (acc != NULL) {
        memcpy(m->w, acc, n_w * sizeof(*acc));
        memcpy(m->bias, acc + n_w, k_n * sizeof(*acc));
    }

out:
    scratch_cleanup(&sc);
    free(order);
    free(acc);
    return rc;
}

/*
 * Fit `p->runs` times from zero weights, with seeds p->seed,
 * p->seed + 1, ..., and keep the mean of their weights.  The runs share
 * features and vocabulary, so the mean model's scores are the mean of
 * the runs' scores: an ensemble at the cost of one model.
 */
static enum tr_err
fit_runs(struct tr_route_model *m, const struct tr_route_params *p,
         const struct corpus *c, struct tr_error *err)
{
    size_t k_n = m->n_classes, n_w = m->n_feat * k_n;
    struct tr_route_params q = *p;
    float *acc;
    enum tr_err rc = TR_OK;

    if (p->runs == 1)
        return fit(m, p, c, err);
    acc = calloc(n_w + k_n, sizeof(*acc));
    if (acc == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory for training");
    for (int r = 0; r < p->runs && rc == TR_OK; r++) {
        memset(m->w, 0, n_w * sizeof(*m->w));
        memset(m->bias, 0, k_n * sizeof(*m->bias));
        q.seed = p->seed + (uint32_t)r;
        rc = fit(m, &q, c, err);
        if (rc == TR_OK)
            fold_snapshot(m, acc, r);
    }
    if (rc == TR_OK) {
        memcpy(m->w, acc, n_w * sizeof(*acc));
        memcpy(m->bias, acc + n_w, k_n * sizeof(*acc));
    }
    free(acc);
    return rc;
}

static enum tr_err
check_params(const struct tr_route_params *p, size_t n_rows,
             struct tr_error *err)
{
    if (p->epochs < 1 || p->epochs > 1000)
        return TR_ERROR(err, TR_E_INVAL, "epochs must be 1 to 1000");
    if (p->runs < 1 || p->runs > 16)
        return TR_ERROR(err, TR_E_INVAL, "runs must be 1 to 16");
    if (p->avg_epochs < 1 || p->avg_epochs > p->epochs)
        return TR_ERROR(err, TR_E_INVAL,
                        "averaged epochs must be 1 to the number of "
                        "epochs");
    if (!(p->eta > 0) || !(p->l2 >= 0))
        return TR_ERROR(err, TR_E_INVAL,
                        "eta must be positive and l2 not negative");
    if (p->char_min < 0 || p->char_max < p->char_min || p->char_max > 8
        || (p->char_min == 0 && p->char_max != 0))
        return TR_ERROR(err, TR_E_INVAL,
                        "character n-gram sizes must satisfy "
                        "1 <= min <= max <= 8, or both be 0");
    if (p->word_ngrams < 1 || p->word_ngrams > 3)
        return TR_ERROR(err, TR_E_INVAL, "word n-grams must be 1 to 3");
    if (!(p->char_weight >= 0 && p->char_weight <= 1))
        return TR_ERROR(err, TR_E_INVAL, "char weight must be 0 to 1");
    if (!(p->unseen_weight >= 0 && p->unseen_weight <= 10))
        return TR_ERROR(err, TR_E_INVAL, "unseen weight must be 0 to 10");
    if (!(p->dropout >= 0 && p->dropout <= 0.9))
        return TR_ERROR(err, TR_E_INVAL, "dropout must be 0 to 0.9");
    if (!(p->oos_weight > 0 && p->oos_weight <= 100))
        return TR_ERROR(err, TR_E_INVAL,
                        "out-of-scope weight must be above 0 and at most "
                        "100");
    if (p->confidence != TR_ROUTE_CONF_PROB
        && p->confidence != TR_ROUTE_CONF_MARGIN)
        return TR_ERROR(err, TR_E_INVAL, "unknown confidence kind %d",
                        (int)p->confidence);
    if (n_rows == 0)
        return TR_ERROR(err, TR_E_INVAL, "no training rows");
    return TR_OK;
}

enum tr_err
tr_route_train(const struct tr_route_params *p,
               const struct tr_route_example *rows, size_t n_rows,
               struct tr_route_model **out, struct tr_error *err)
{
    struct tr_route_model *m;
    struct corpus c = {0};
    size_t n_kept = 0;
    enum tr_err rc;

    *out = NULL;
    rc = check_params(p, n_rows, err);
    if (rc != TR_OK)
        return rc;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory for a model");
    m->spec.char_min = p->char_min;
    m->spec.char_max = p->char_max;
    m->spec.word_ngrams = p->word_ngrams;
    m->spec.char_weight = (float)p->char_weight;
    m->temperature = 1.0;
    m->threshold = 0.0;
    m->conf = p->confidence;

    m->abstain_label = strdup(p->oos_label ? p->oos_label : "oos");
    if (m->abstain_label == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory for a model");
        goto fail;
    }
    for (size_t i = 0; i < n_rows; i++)
        n_kept += row_kept(p, &rows[i]);
    rc = build_labels(m, p, rows, n_rows, err);
    if (rc == TR_OK)
        rc = build_vocab(m, p, rows, n_rows, n_kept, err);
    if (rc == TR_OK)
        rc = build_corpus(m, p, rows, n_rows, &c, err);
    if (rc != TR_OK)
        goto fail;

    m->w = calloc(m->n_feat * m->n_classes, sizeof(*m->w));
    m->bias = calloc(m->n_classes, sizeof(*m->bias));
    if (m->w == NULL || m->bias == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory for weights");
        goto fail;
    }
    rc = fit_runs(m, p, &c, err);
    if (rc != TR_OK)
        goto fail;
    corpus_cleanup(&c);
    *out = m;
    return TR_OK;

fail:
    corpus_cleanup(&c);
    tr_route_model_free(m);
    return rc;
}
