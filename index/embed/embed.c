/*
 * embed.c
 *      The embedder interface: batching, dimension check, normalisation.
 *
 * struct tr_embedder only dispatches to its implementation; it holds no
 * mutable state, so concurrent calls are as safe as the implementation.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed_int.h"

struct tr_embedder {
    char name[TR_EMBED_NAME_MAX];
    int dim;
    size_t max_batch;
    const struct tr_embedder_ops *ops;
    void *impl;
};

struct tr_embedder *
tr_embedder_new(const char *name, int dim, size_t max_batch,
                const struct tr_embedder_ops *ops, void *impl,
                struct tr_error *err)
{
    struct tr_embedder *e;

    if (name == NULL || name[0] == '\0' || dim <= 0 || ops == NULL
        || ops->embed == NULL) {
        if (ops != NULL && ops->free != NULL)
            ops->free(impl);
        TR_ERROR(err, TR_E_INVAL, "embedder needs a name, a dimension "
                 "and an embed function");
        return NULL;
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        if (ops->free != NULL)
            ops->free(impl);
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->dim = dim;
    e->max_batch = max_batch;
    e->ops = ops;
    e->impl = impl;
    return e;
}

void
tr_embedder_free(struct tr_embedder *e)
{
    if (e == NULL)
        return;
    if (e->ops->free != NULL)
        e->ops->free(e->impl);
    free(e);
}

int
tr_embedder_dim(const struct tr_embedder *e)
{
    return e->dim;
}

const char *
tr_embedder_name(const struct tr_embedder *e)
{
    return e->name;
}

/* Scale each of the `n` rows of `v` to unit length; zero rows stay. */
static void
normalise_rows(float *v, size_t n, int dim)
{
    for (size_t i = 0; i < n; i++) {
        float *row = v + i * (size_t) dim;
        double ss = 0.0;

        for (int j = 0; j < dim; j++)
            ss += (double) row[j] * row[j];
        if (ss <= 0.0)
            continue;
        ss = 1.0 / sqrt(ss);
        for (int j = 0; j < dim; j++)
            row[j] = (float) (row[j] * ss);
    }
}

enum tr_err
tr_embedder_embed(const struct tr_embedder *e, const char *const *texts,
                  size_t n, int dim, float *out, struct tr_error *err)
{
    size_t batch = e->max_batch ? e->max_batch : n;
    enum tr_err rc;

    if (dim != e->dim)
        return TR_ERROR(err, TR_E_INVAL, "embedder \"%s\" gives %d "
                        "dimensions, not %d", e->name, e->dim, dim);
    if (n > 0 && (texts == NULL || out == NULL))
        return TR_ERROR(err, TR_E_INVAL, "no texts or no output");

    /* The implementation sees at most max_batch texts per call. */
    for (size_t i = 0; i < n; i += batch) {
        size_t m = n - i < batch ? n - i : batch;

        rc = e->ops->embed(e->impl, texts + i, m, out + i * (size_t) dim,
                           err);
        if (rc != TR_OK)
            return rc;
    }
    normalise_rows(out, n, dim);
    return TR_OK;
}

/* One share of tr_embedder_embed_many(). */
struct many {
    const struct tr_embedder *e;
    const char *const *texts;
    float *out;
    struct tr_error errs[TR_EMBED_THREADS_MAX];
};

static enum tr_err
embed_share(void *arg, int no, size_t from, size_t to)
{
    struct many *m = arg;
    int dim = m->e->dim;

    return tr_embedder_embed(m->e, m->texts + from, to - from, dim,
                             m->out + from * (size_t) dim, &m->errs[no]);
}

enum tr_err
tr_embedder_embed_many(const struct tr_embedder *e,
                       const char *const *texts, size_t n, int dim,
                       float *out, int n_threads, struct tr_error *err)
{
    struct many m = {e, texts, out, {{0}}};
    enum tr_err rc;

    if (dim != e->dim)
        return TR_ERROR(err, TR_E_INVAL, "embedder \"%s\" gives %d "
                        "dimensions, not %d", e->name, e->dim, dim);
    if (n > 0 && (texts == NULL || out == NULL))
        return TR_ERROR(err, TR_E_INVAL, "no texts or no output");
    rc = tr_embed__parallel(n, tr_embed__threads(n_threads), embed_share,
                            &m);
    for (int t = 0; rc != TR_OK && t < TR_EMBED_THREADS_MAX; t++) {
        if (m.errs[t].code != TR_OK) {
            if (err != NULL)
                *err = m.errs[t];
            break;
        }
    }
    return rc;
}

enum tr_err
tr_embedder_save(const struct tr_embedder *e, struct tr_buf *out,
                 struct tr_error *err)
{
    if (e->ops->save == NULL)
        return TR_ERROR(err, TR_E_UNSUPPORTED, "embedder \"%s\" keeps no "
                        "model", e->name);
    return e->ops->save(e->impl, out, err);
}
