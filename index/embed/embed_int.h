/*
 * embed_int.h
 *      Pieces shared inside the embedder module: the sparse matrix of
 *      training features and the truncated SVD that learns a projection.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_EMBED_INT_H
#define TR_EMBED_INT_H

#include <stdbool.h>
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

/* Most threads the module starts for one piece of work. */
#define TR_EMBED_THREADS_MAX 16

/*
 * One slice of a parallel job: items [from, to) of the range, slice
 * number `no` (0 is run on the calling thread).  Returns TR_OK or the
 * error of the slice, which must keep its message in its own storage.
 */
typedef enum tr_err (*tr_embed__job_fn)(void *arg, int no, size_t from,
                                        size_t to);

/*
 * The thread count to use for `want`: itself when positive (at most
 * TR_EMBED_THREADS_MAX), else the number of online processors.
 */
int tr_embed__threads(int want);

/*
 * Run `fn` over [0, n) cut into at most `n_threads` contiguous slices,
 * each on its own thread, and wait for all of them.  Returns TR_OK or
 * the error of the first failing slice in range order.
 */
enum tr_err tr_embed__parallel(size_t n, int n_threads, tr_embed__job_fn fn,
                               void *arg);

/*
 * Learn the `k` leading right singular vectors of `x` and write them as
 * the columns of `v` (x->n_cols rows of `k` floats, row-major), scaled
 * so that x v gives the rows' coordinates.  Directions beyond the rank
 * of `x` are zero columns.  Uses a randomised range finder with
 * `power_iters` power iterations and a test matrix drawn from `seed`.
 * The sparse products run on `n_threads` threads, each computing its own
 * share of the output, so the result does not depend on that count.
 * Returns TR_OK, TR_E_INDEX (LAPACK failed) or TR_E_NOMEM.
 */
enum tr_err tr_embed__svd(const struct tr_embed__csr *x, int k,
                          int power_iters, uint64_t seed, int n_threads,
                          float *v, struct tr_error *err);

#endif /* TR_EMBED_INT_H */
