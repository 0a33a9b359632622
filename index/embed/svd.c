/*
 * svd.c
 *      Truncated SVD of a sparse matrix by a randomised range finder.
 *
 * The method of Halko, Martinsson and Tropp: multiply the matrix by a
 * Gaussian test matrix, refine the range with a few power iterations,
 * then solve the small problem exactly.  Orthonormal bases are obtained
 * from the eigen-decomposition of the Gram matrix (in double precision,
 * twice, dropping directions with a negligible eigenvalue), which keeps
 * everything to BLAS products and one LAPACK routine, dsyev.  The sparse
 * products, most of the work, are shared among the caller's threads,
 * each writing its own part of the output; BLAS uses its own threads.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "embed_int.h"

/* LAPACK's symmetric eigen-solver (Fortran calling convention). */
extern void dsyev_(const char *jobz, const char *uplo, const int *n,
                   double *a, const int *lda, double *w, double *work,
                   const int *lwork, int *info);

/* Eigen-values under this share of the largest are treated as zero. */
#define SVD_EIG_FLOOR 1e-10

/* splitmix64: a small deterministic generator for the test matrix. */
static uint64_t
next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A standard normal draw by the Box-Muller transform. */
static double
next_gauss(uint64_t *s)
{
    double u1 = ((double) (next_u64(s) >> 11) + 0.5) / 9007199254740992.0;
    double u2 = (double) (next_u64(s) >> 11) / 9007199254740992.0;

    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/*
 * Eigen-decompose the symmetric `n` x `n` matrix `a` in place: on return
 * column j of `a` (column-major) is the eigenvector of w[j], ascending.
 */
static enum tr_err
sym_eig(double *a, int n, double *w, struct tr_error *err)
{
    int lwork = -1, info = 0;
    double query;
    double *work;

    dsyev_("V", "U", &n, a, &n, w, &query, &lwork, &info);
    lwork = (int) query;
    work = malloc((size_t) lwork * sizeof(*work));
    if (work == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    dsyev_("V", "U", &n, a, &n, w, work, &lwork, &info);
    free(work);
    if (info != 0)
        return TR_ERROR(err, TR_E_INDEX, "eigen-decomposition failed "
                        "(dsyev info %d)", info);
    return TR_OK;
}

/*
 * Orthonormalise the columns of the row-major `m` x `l` matrix `y` in
 * place.  Returns the number of columns kept, leftmost first, or -1
 * on error with `err` set.
 */
static int
orth(double *y, size_t m, int l, struct tr_error *err)
{
    double *g = malloc((size_t) l * l * sizeof(*g));
    double *w = malloc((size_t) l * sizeof(*w));
    double *t = malloc((size_t) l * l * sizeof(*t));
    double *q = malloc(m * (size_t) l * sizeof(*q));
    int r = -1;

    if (g == NULL || w == NULL || t == NULL || q == NULL) {
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }

    /* G = Y'Y = W L W'; then Q = Y W L^-1/2 has orthonormal columns. */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l, l, (int) m,
                1.0, y, l, y, l, 0.0, g, l);
    if (sym_eig(g, l, w, err) != TR_OK)
        goto out;
    memset(t, 0, (size_t) l * l * sizeof(*t));
    r = 0;
    for (int j = l - 1; j >= 0; j--) {
        if (!(w[j] > SVD_EIG_FLOOR * w[l - 1]) || w[j] <= 0.0)
            break;
        for (int i = 0; i < l; i++)
            t[(size_t) i * l + r] = g[(size_t) j * l + i] / sqrt(w[j]);
        r++;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) m, l, l,
                1.0, y, l, t, l, 0.0, q, l);
    memcpy(y, q, m * (size_t) l * sizeof(*q));

out:
    free(g);
    free(w);
    free(t);
    free(q);
    return r;
}

/* A sparse product to share among threads. */
struct mul_job {
    const struct tr_embed__csr *x;
    const double *in;
    double *out;
    int l;
};

/* Rows [from, to) of y = x a: each thread owns its rows of y. */
static enum tr_err
mul_x_rows(void *arg, int no, size_t from, size_t to)
{
    const struct mul_job *m = arg;
    const struct tr_embed__csr *x = m->x;
    int l = m->l;

    memset(m->out + from * (size_t) l, 0,
           (to - from) * (size_t) l * sizeof(*m->out));
    for (size_t i = from; i < to; i++) {
        double *yr = m->out + i * (size_t) l;

        for (size_t p = x->row_ptr[i]; p < x->row_ptr[i + 1]; p++) {
            const double *ar = m->in + (size_t) x->col[p] * l;
            double v = x->val[p];

            for (int j = 0; j < l; j++)
                yr[j] += v * ar[j];
        }
    }
    return TR_OK;
}

/*
 * Columns [from, to) of z = x' q.  Rows of x scatter into every row of
 * z, so threads split the columns instead: each owns a band of z.
 */
static enum tr_err
mul_xt_cols(void *arg, int no, size_t from, size_t to)
{
    const struct mul_job *m = arg;
    const struct tr_embed__csr *x = m->x;
    size_t l = (size_t) m->l, w = to - from;

    for (size_t r = 0; r < x->n_cols; r++)
        memset(m->out + r * l + from, 0, w * sizeof(*m->out));
    for (size_t i = 0; i < x->n_rows; i++) {
        const double *qr = m->in + i * l + from;

        for (size_t p = x->row_ptr[i]; p < x->row_ptr[i + 1]; p++) {
            double *zr = m->out + (size_t) x->col[p] * l + from;
            double v = x->val[p];

            for (size_t j = 0; j < w; j++)
                zr[j] += v * qr[j];
        }
    }
    return TR_OK;
}

/* y (n_rows x l) = x a, with `a` row-major n_cols x l. */
static void
mul_x(const struct tr_embed__csr *x, const double *a, int l, double *y,
      int n_threads)
{
    struct mul_job m = {x, a, y, l};

    tr_embed__parallel(x->n_rows, n_threads, mul_x_rows, &m);
}

/* z (n_cols x l) = x' q, with `q` row-major n_rows x l. */
static void
mul_xt(const struct tr_embed__csr *x, const double *q, int l, double *z,
       int n_threads)
{
    struct mul_job m = {x, q, z, l};

    tr_embed__parallel((size_t) l, n_threads, mul_xt_cols, &m);
}

/*
 * From the basis `q` of the range, solve the small problem: the right
 * singular vectors are B' w / s for the eigen-pairs (w, s^2) of B B',
 * where B = q' x.  Writes the top `k` into `v` (float, n_cols x k).
 */
static enum tr_err
small_svd(const struct tr_embed__csr *x, const double *q, int l, int k,
          int n_threads, float *v, struct tr_error *err)
{
    size_t nc = x->n_cols;
    double *bt = malloc(nc * (size_t) l * sizeof(*bt));
    double *c = malloc((size_t) l * l * sizeof(*c));
    double *w = malloc((size_t) l * sizeof(*w));
    double *t = calloc((size_t) l * k, sizeof(*t));
    double *vd = malloc(nc * (size_t) k * sizeof(*vd));
    enum tr_err rc;

    if (bt == NULL || c == NULL || w == NULL || t == NULL || vd == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }
    mul_xt(x, q, l, bt, n_threads);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l, l, (int) nc,
                1.0, bt, l, bt, l, 0.0, c, l);
    rc = sym_eig(c, l, w, err);
    if (rc != TR_OK)
        goto out;

    /* Largest eigen-values first; negligible ones leave zero columns. */
    for (int jj = 0; jj < k && jj < l; jj++) {
        int j = l - 1 - jj;

        if (!(w[j] > SVD_EIG_FLOOR * w[l - 1]) || w[j] <= 0.0)
            break;
        for (int i = 0; i < l; i++)
            t[(size_t) i * k + jj] = c[(size_t) j * l + i] / sqrt(w[j]);
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) nc, k, l,
                1.0, bt, l, t, k, 0.0, vd, k);
    for (size_t i = 0; i < nc * (size_t) k; i++)
        v[i] = (float) vd[i];

out:
    free(bt);
    free(c);
    free(w);
    free(t);
    free(vd);
    return rc;
}

enum tr_err
tr_embed__svd(const struct tr_embed__csr *x, int k, int power_iters,
              uint64_t seed, int n_threads, float *v, struct tr_error *err)
{
    int l = k + 16;
    size_t nc = x->n_cols, nr = x->n_rows;
    size_t big = (nc > nr ? nc : nr) * (size_t) l;
    double *a = malloc(big * sizeof(*a));
    double *y = malloc(big * sizeof(*y));
    enum tr_err rc = TR_OK;
    int r = 0;

    if (a == NULL || y == NULL) {
        rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto out;
    }

    /* Range of x applied to a Gaussian test matrix. */
    for (size_t i = 0; i < nc * (size_t) l; i++)
        a[i] = next_gauss(&seed);
    mul_x(x, a, l, y, n_threads);
    if ((r = orth(y, nr, l, err)) <= 0 || (r = orth(y, nr, l, err)) <= 0)
        goto fail;

    /* Power iterations sharpen the leading directions. */
    for (int it = 0; it < power_iters; it++) {
        mul_xt(x, y, l, a, n_threads);
        if ((r = orth(a, nc, l, err)) <= 0)
            goto fail;
        mul_x(x, a, l, y, n_threads);
        if ((r = orth(y, nr, l, err)) <= 0)
            goto fail;
    }
    rc = small_svd(x, y, l, k, n_threads, v, err);
    goto out;

fail:
    /* A matrix without a single non-zero has no direction to learn. */
    if (r == 0)
        rc = TR_ERROR(err, TR_E_INDEX, "the training texts have no "
                      "features in common");
    else
        rc = err != NULL ? err->code : TR_E_INDEX;
out:
    free(a);
    free(y);
    return rc;
}
