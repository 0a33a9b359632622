/*
 * parallel.c
 *      Splitting a range of work items over a few threads, for the
 *      embedder's training and batch embedding.
 *
 * The range is cut into contiguous slices, one per thread, run by an
 * OpenMP team.  OpenMP rather than threads of our own because BLAS
 * (OpenBLAS built for OpenMP) runs its products on the same team: two
 * pools would fight for the cores while one of them spins waiting for
 * work.  Jobs must not share anything writable: each slice owns its
 * part of the output, which keeps results the same for any thread
 * count.  Callable from any thread, not from inside an OpenMP region.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <unistd.h>

#include "embed_int.h"

int
tr_embed__threads(int want)
{
    long n;

    if (want > 0)
        return want < TR_EMBED_THREADS_MAX ? want : TR_EMBED_THREADS_MAX;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n < TR_EMBED_THREADS_MAX ? (int) n : TR_EMBED_THREADS_MAX;
}

enum tr_err
tr_embed__parallel(size_t n, int n_threads, tr_embed__job_fn fn, void *arg)
{
    enum tr_err rcs[TR_EMBED_THREADS_MAX];
    enum tr_err rc = TR_OK;

    if (n_threads < 1)
        n_threads = 1;
    if (n_threads > TR_EMBED_THREADS_MAX)
        n_threads = TR_EMBED_THREADS_MAX;
    if ((size_t) n_threads > n)
        n_threads = n > 0 ? (int) n : 1;

    /*
     * One slice per iteration: a team smaller than asked for (a thread
     * limit) still runs every slice, some threads taking two.
     */
#pragma omp parallel for schedule(static, 1) num_threads(n_threads)
    for (int t = 0; t < n_threads; t++)
        rcs[t] = fn(arg, t, n * (size_t) t / (size_t) n_threads,
                    n * (size_t) (t + 1) / (size_t) n_threads);

    /* The first failing slice in range order speaks for all. */
    for (int t = 0; t < n_threads && rc == TR_OK; t++)
        rc = rcs[t];
    return rc;
}
