/*
 * vec.h
 *      Dense vector indexes (FAISS) and a trained linear projection (PCA),
 *      behind a plain C contract.
 *
 * This header is the only view the rest of triage has of FAISS: it
 * compiles as C and as C++, and no C++ exception crosses it.  Every
 * failure inside FAISS is caught in the bridge (vec_faiss.cpp) and comes
 * back as TR_E_INDEX with FAISS's own message in struct tr_error.
 *
 * An index measures similarity by inner product (normalise vectors first
 * for cosine) and stores caller-chosen 64-bit ids.  It is built by one
 * thread (train, add, set_param) and may then be searched by any number
 * of threads at once; the bridge holds a reader/writer lock so that a
 * writer never runs beside a search.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_VEC_H
#define TR_VEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* err.h has no C++ guard of its own. */
#include "err.h"

/* Corpus size up to which tr_vec_factory_choose() picks an exact index. */
#define TR_VEC_FLAT_MAX_DEFAULT 20000

/* Longest factory string tr_vec_factory_choose() writes, with its zero. */
#define TR_VEC_FACTORY_MAX 64

struct tr_vec_index;
struct tr_vec_pca;

/*
 * Create an empty index of `dim` dimensions from a FAISS factory string
 * ("Flat", "HNSW32", "IVF256,Flat", "PCA64,Flat", ...), with inner-product
 * metric, wrapped so that vectors are added with caller ids.  Returns NULL
 * and fills `err` with TR_E_INVAL (dim < 1, NULL or empty factory),
 * TR_E_INDEX (FAISS refused the string; its message is kept) or
 * TR_E_NOMEM.  The caller owns the index and frees it with
 * tr_vec_index_free().  Any thread.
 */
struct tr_vec_index *tr_vec_index_new(int dim, const char *factory,
                                      struct tr_error *err);

/*
 * Release `ix`.  NULL is a no-op.  No search may be running on it.
 */
void tr_vec_index_free(struct tr_vec_index *ix);

/*
 * Return the dimension of `ix`.
 */
int tr_vec_index_dim(const struct tr_vec_index *ix);

/*
 * Return the number of vectors stored in `ix`.
 */
int64_t tr_vec_index_ntotal(const struct tr_vec_index *ix);

/*
 * Return whether `ix` is ready for add() (Flat and HNSW always are; IVF
 * and PCA-prefixed indexes need tr_vec_index_train() first).
 */
bool tr_vec_index_is_trained(const struct tr_vec_index *ix);

/*
 * Train `ix` on `n` vectors of `dim` floats each, stored row after row in
 * `x` (borrowed for the call).  Every function taking vectors also takes
 * their dimension and answers TR_E_INVAL when it is not the index's, so
 * that vectors of another embedder never reach FAISS.  TR_E_INVAL for
 * n == 0 or NULL x, TR_E_INDEX when FAISS fails (for example too few
 * points for the number of IVF lists).  Writer: not beside searches (the
 * bridge locks).
 */
enum tr_err tr_vec_index_train(struct tr_vec_index *ix, size_t n, int dim,
                               const float *x, struct tr_error *err);

/*
 * Add `n` vectors `x` (row-major, `dim` floats each) with ids `ids[n]`.
 * Both arrays are borrowed for the call.  TR_E_INVAL for NULL arrays,
 * TR_E_INDEX when the index is not trained or FAISS fails.  Ids are not
 * checked for uniqueness: a duplicate id is simply stored twice.
 */
enum tr_err tr_vec_index_add(struct tr_vec_index *ix, size_t n, int dim,
                             const float *x, const int64_t *ids,
                             struct tr_error *err);

/*
 * Find the `k` nearest stored vectors (largest inner product first) of
 * each of the `nq` queries of `dim` floats in `x`.  Row i of the answer
 * is written at out_dist[i * k] and out_ids[i * k], both arrays of
 * nq * k elements owned by the caller; missing neighbours (fewer than k
 * stored) get id -1 and score -FLT_MAX.  TR_E_INVAL for k < 1, a wrong
 * dim or NULL arrays, TR_E_INDEX when the index is empty or FAISS fails.
 * Any number of threads may search at once.  A single query (nq == 1)
 * runs on the calling thread alone, whatever tr_vec_set_threads() says.
 */
enum tr_err tr_vec_index_search(const struct tr_vec_index *ix, size_t nq,
                                int dim, const float *x, int k,
                                float *out_dist, int64_t *out_ids,
                                struct tr_error *err);

/*
 * Set a search-time parameter: "efSearch" (HNSW) or "nprobe" (IVF), or
 * any other name FAISS's ParameterSpace understands.  TR_E_INDEX when the
 * index has no such parameter.  Writer: waits for running searches.
 */
enum tr_err tr_vec_index_set_param(struct tr_vec_index *ix,
                                   const char *name, double value,
                                   struct tr_error *err);

/*
 * Write `ix` (vectors and ids) to the file `path`, replacing it.
 * TR_E_IO when the file cannot be written, TR_E_INDEX otherwise.
 */
enum tr_err tr_vec_index_write(const struct tr_vec_index *ix,
                               const char *path, struct tr_error *err);

/*
 * Read an index written by tr_vec_index_write().  Returns NULL and fills
 * `err` (TR_E_IO: cannot open; TR_E_INDEX: not an index written by this
 * module).  The caller owns the result (tr_vec_index_free()).
 */
struct tr_vec_index *tr_vec_index_read(const char *path,
                                       struct tr_error *err);

/*
 * Serialise `ix` into a new memory buffer, in the same format as the file
 * form.  On success *buf and *buf_len are set; the caller owns *buf and
 * frees it with free().
 */
enum tr_err tr_vec_index_serialize(const struct tr_vec_index *ix,
                                   void **buf, size_t *buf_len,
                                   struct tr_error *err);

/*
 * Rebuild an index from `buf_len` bytes at `buf` (borrowed) made by
 * tr_vec_index_serialize() or read from a file it wrote.  NULL with
 * TR_E_INDEX for bytes that are not such an index (never a crash).
 */
struct tr_vec_index *tr_vec_index_load(const void *buf, size_t buf_len,
                                       struct tr_error *err);

/*
 * Set the number of OpenMP threads FAISS uses, for the whole process
 * (n < 1 means 1).  One thread is best for one-query-per-call serving;
 * use more for training and batch search.  Call it from the main thread
 * before starting searches.
 */
void tr_vec_set_threads(int n);

/*
 * How an index keeps its vectors.  Floats are exact; SQ8 keeps one byte
 * per dimension (FAISS's 8-bit scalar quantiser, trained on the vectors
 * for each dimension's range), a quarter of the memory, and SQfp16 half
 * floats.  Scores from quantised vectors are approximate.
 */
enum tr_vec_store {
    TR_VEC_STORE_DEFAULT = 0,   /* floats when flat, else SQ8 */
    TR_VEC_STORE_FLOAT,
    TR_VEC_STORE_SQ8,
    TR_VEC_STORE_FP16
};

/*
 * Choices for tr_vec_factory_choose().  Zeroed fields take the defaults.
 */
struct tr_vec_choice {
    size_t flat_max;    /* exact search up to this many vectors (20000) */
    bool use_ivf;       /* above flat_max: IVF instead of HNSW */
    int hnsw_m;         /* HNSW links per node (16) */
    enum tr_vec_store store;    /* vector storage (see above) */
};

/*
 * Write into `out` (at least TR_VEC_FACTORY_MAX bytes) the factory string
 * suited to `n_vectors`: an exhaustive index up to flat_max, then HNSW
 * with `hnsw_m` links or IVF with nlist about 4 * sqrt(n) lists (a power
 * of two, capped so that every list gets 39 training points), the
 * vectors stored as `store` says: "Flat", "HNSW32", "IVF256,Flat" for
 * floats, "SQ8", "HNSW32,SQ8", "IVF256,SQ8" for bytes ("SQfp16" for half
 * floats).  By default a flat index keeps floats, which FAISS scans
 * faster than bytes, and the others bytes.  Quantised indexes need
 * tr_vec_index_train() before add.  `c` may be NULL for the defaults.
 * Pure; any thread.
 */
void tr_vec_factory_choose(size_t n_vectors, const struct tr_vec_choice *c,
                           char *out);

/*
 * Create an untrained PCA projection from `d_in` to `d_out` dimensions
 * (1 <= d_out <= d_in).  With `whiten`, components are scaled by
 * eigenvalue^-1/2.  NULL with TR_E_INVAL/TR_E_INDEX/TR_E_NOMEM in `err`.
 * The caller owns it and frees it with tr_vec_pca_free().
 */
struct tr_vec_pca *tr_vec_pca_new(int d_in, int d_out, bool whiten,
                                  struct tr_error *err);

/*
 * Release `p`.  NULL is a no-op.
 */
void tr_vec_pca_free(struct tr_vec_pca *p);

/*
 * Return the input and output dimensions of `p`.
 */
int tr_vec_pca_d_in(const struct tr_vec_pca *p);
int tr_vec_pca_d_out(const struct tr_vec_pca *p);

/*
 * Return whether `p` has been trained.
 */
bool tr_vec_pca_is_trained(const struct tr_vec_pca *p);

/*
 * Learn the projection from `n` vectors of `d_in` floats in `x`.
 * TR_E_INVAL for n == 0 or a d_in that is not the projection's,
 * TR_E_INDEX when FAISS fails.  One thread.
 */
enum tr_err tr_vec_pca_train(struct tr_vec_pca *p, size_t n, int d_in,
                             const float *x, struct tr_error *err);

/*
 * Project `n` vectors `x` (`d_in` floats each) into `out` (n * d_out
 * floats, caller-owned).  TR_E_INVAL for a wrong d_in, TR_E_INDEX when
 * untrained.  Thread-safe on a
 * trained projection.
 */
enum tr_err tr_vec_pca_apply(const struct tr_vec_pca *p, size_t n,
                             int d_in, const float *x, float *out,
                             struct tr_error *err);

/*
 * Serialise `p` into a new buffer (caller frees *buf with free()).
 */
enum tr_err tr_vec_pca_serialize(const struct tr_vec_pca *p, void **buf,
                                 size_t *buf_len, struct tr_error *err);

/*
 * Rebuild a projection from a buffer made by tr_vec_pca_serialize().
 * NULL with TR_E_INDEX for anything else.  Caller owns the result.
 */
struct tr_vec_pca *tr_vec_pca_load(const void *buf, size_t buf_len,
                                   struct tr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* TR_VEC_H */
