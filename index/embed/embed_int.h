/*
 * embed_int.h
 *      Pieces shared inside the embedder module: the sparse matrix of
 *      training features and the truncated SVD that learns a projection.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_EMBED_INT_H
#define TR_EMBED_INT_H

#include <stddef.h>
#include <stdint.h>

#include "embed.h"

/* A sparse matrix in compressed rows: row i is [row_ptr[i], row_ptr[i+1]). */
struct tr_embed__csr {
    size_t n_rows;
    size_t n_cols;
    size_t *row_ptr;
    uint32_t *col;
    float *val;
};

/*
 * Learn the `k` leading right singular vectors of `x` and write them as
 * the columns of `v` (x->n_cols rows of `k` floats, row-major), scaled
 * so that x v gives the rows' coordinates.  Directions beyond the rank
 * of `x` are zero columns.  Uses a randomised range finder with
 * `power_iters` power iterations and a test matrix drawn from `seed`.
 * Returns TR_OK, TR_E_INDEX (LAPACK failed) or TR_E_NOMEM.
 */
enum tr_err tr_embed__svd(const struct tr_embed__csr *x, int k,
                          int power_iters, uint64_t seed, float *v,
                          struct tr_error *err);

#endif /* TR_EMBED_INT_H */
