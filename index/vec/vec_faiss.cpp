/*
 * vec_faiss.cpp
 *      The FAISS bridge: vector indexes and PCA behind the C contract of
 *      vec.h.
 *
 * Debian's FAISS ships the C API headers without their implementation,
 * so this file plays that part for the few calls triage needs.  It is the
 * only file that includes FAISS.  Every entry point runs its FAISS work
 * inside guarded(), which turns any C++ exception into TR_E_INDEX (or
 * TR_E_NOMEM for std::bad_alloc) with the exception's message, so none
 * crosses into C.
 *
 * An index is an IndexIDMap owning the index the factory string built.
 * A std::shared_mutex lets searches run side by side while train, add
 * and set_param take it exclusively.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <string>
#include <vector>

#include <omp.h>

#include <faiss/AutoTune.h>
#include <faiss/IndexIDMap.h>
#include <faiss/VectorTransform.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

#include "vec.h"

struct tr_vec_index {
    faiss::IndexIDMap *map;
    mutable std::shared_mutex lock;
};

struct tr_vec_pca {
    faiss::PCAMatrix *pca;
};

/*
 * A FAISS reader over a borrowed buffer: FAISS's own VectorIOReader
 * wants the bytes copied into its vector first, which for a large index
 * means holding it twice while it loads.
 */
struct borrowed_reader : faiss::IOReader {
    const uint8_t *p;
    size_t len;
    size_t pos = 0;

    borrowed_reader(const void *buf, size_t buf_len)
        : p((const uint8_t *) buf), len(buf_len) {}

    size_t operator()(void *ptr, size_t size, size_t nitems) override
    {
        size_t left = len - pos;

        if (size == 0 || nitems == 0)
            return 0;
        if (nitems > left / size)
            nitems = left / size;
        memcpy(ptr, p + pos, size * nitems);
        pos += size * nitems;
        return nitems;
    }
};

/*
 * Run `f` and map whatever it throws to a status.  `what` completes
 * "could not ..." in the message.
 */
template <typename F>
static enum tr_err
guarded(struct tr_error *err, const char *what, F &&f)
{
    try {
        f();
        return TR_OK;
    } catch (const std::bad_alloc &) {
        return TR_ERROR(err, TR_E_NOMEM, "out of memory while trying to %s",
                        what);
    } catch (const std::exception &e) {
        return TR_ERROR(err, TR_E_INDEX, "could not %s: %s", what,
                        e.what());
    } catch (...) {
        return TR_ERROR(err, TR_E_INDEX, "could not %s: unknown exception",
                        what);
    }
}

/*
 * Check the common arguments of calls that take vectors.
 */
static enum tr_err
check_vectors(const struct tr_vec_index *ix, size_t n, int dim,
              const void *x, struct tr_error *err)
{
    if (ix == NULL || x == NULL || n == 0)
        return TR_ERROR(err, TR_E_INVAL, "no vectors given");
    if (dim != ix->map->d)
        return TR_ERROR(err, TR_E_INVAL,
                        "vectors have %d dimensions, index has %d", dim,
                        (int) ix->map->d);
    if (n > (size_t) INT64_MAX / (size_t) dim)
        return TR_ERROR(err, TR_E_RANGE, "too many vectors");
    return TR_OK;
}

/*
 * Wrap a freshly read FAISS index, which must be id-mapped, in a handle.
 * Takes ownership of `idx` in every case.
 */
static struct tr_vec_index *
wrap_read(faiss::Index *idx, struct tr_error *err)
{
    faiss::IndexIDMap *map = dynamic_cast<faiss::IndexIDMap *>(idx);

    if (map == NULL) {
        delete idx;
        TR_ERROR(err, TR_E_INDEX, "stored index has no id map");
        return NULL;
    }

    struct tr_vec_index *ix = new (std::nothrow) tr_vec_index();
    if (ix == NULL) {
        delete idx;
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        return NULL;
    }
    ix->map = map;
    return ix;
}

extern "C" struct tr_vec_index *
tr_vec_index_new(int dim, const char *factory, struct tr_error *err)
{
    faiss::Index *inner = NULL;
    struct tr_vec_index *ix = NULL;
    enum tr_err rc;

    if (dim < 1 || factory == NULL || factory[0] == '\0') {
        TR_ERROR(err, TR_E_INVAL, "index needs a dimension and a factory "
                 "string");
        return NULL;
    }

    /*
     * The factory builds the inner index; the id map owns it from then on
     * (own_fields), so deleting the map releases both.
     */
    rc = guarded(err, "create index", [&] {
        inner = faiss::index_factory(dim, factory,
                                     faiss::METRIC_INNER_PRODUCT);
        ix = new tr_vec_index();
        ix->map = new faiss::IndexIDMap(inner);
        ix->map->own_fields = true;
        inner = NULL;
    });
    if (rc != TR_OK) {
        delete inner;
        if (ix != NULL)
            delete ix->map;
        delete ix;
        return NULL;
    }
    return ix;
}

extern "C" void
tr_vec_index_free(struct tr_vec_index *ix)
{
    if (ix == NULL)
        return;
    delete ix->map;
    delete ix;
}

extern "C" int
tr_vec_index_dim(const struct tr_vec_index *ix)
{
    return (int) ix->map->d;
}

extern "C" int64_t
tr_vec_index_ntotal(const struct tr_vec_index *ix)
{
    std::shared_lock<std::shared_mutex> g(ix->lock);

    return (int64_t) ix->map->ntotal;
}

extern "C" bool
tr_vec_index_is_trained(const struct tr_vec_index *ix)
{
    std::shared_lock<std::shared_mutex> g(ix->lock);

    return ix->map->is_trained;
}

extern "C" enum tr_err
tr_vec_index_train(struct tr_vec_index *ix, size_t n, int dim,
                   const float *x, struct tr_error *err)
{
    enum tr_err rc = check_vectors(ix, n, dim, x, err);

    if (rc != TR_OK)
        return rc;

    std::unique_lock<std::shared_mutex> g(ix->lock);
    return guarded(err, "train index", [&] {
        ix->map->train((faiss::Index::idx_t) n, x);
    });
}

extern "C" enum tr_err
tr_vec_index_add(struct tr_vec_index *ix, size_t n, int dim,
                 const float *x, const int64_t *ids, struct tr_error *err)
{
    enum tr_err rc = check_vectors(ix, n, dim, x, err);

    if (rc != TR_OK)
        return rc;
    if (ids == NULL)
        return TR_ERROR(err, TR_E_INVAL, "no ids given");

    std::unique_lock<std::shared_mutex> g(ix->lock);
    if (!ix->map->is_trained)
        return TR_ERROR(err, TR_E_INDEX, "index must be trained before "
                        "vectors are added");

    /* faiss::Index::idx_t is int64_t on every platform FAISS supports. */
    static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t), "idx_t size");
    return guarded(err, "add vectors", [&] {
        ix->map->add_with_ids((faiss::Index::idx_t) n, x,
                              (const faiss::Index::idx_t *) ids);
    });
}

extern "C" enum tr_err
tr_vec_index_search(const struct tr_vec_index *ix, size_t nq, int dim,
                    const float *x, int k, float *out_dist,
                    int64_t *out_ids, struct tr_error *err)
{
    enum tr_err rc = check_vectors(ix, nq, dim, x, err);

    if (rc != TR_OK)
        return rc;
    if (k < 1 || out_dist == NULL || out_ids == NULL)
        return TR_ERROR(err, TR_E_INVAL, "search needs k >= 1 and output "
                        "arrays");

    std::shared_lock<std::shared_mutex> g(ix->lock);
    if (ix->map->ntotal == 0)
        return TR_ERROR(err, TR_E_INDEX, "index is empty");

    /*
     * One query gains nothing from a thread team: FAISS would start one
     * whose extra threads idle, which costs more than the search.  The
     * OpenMP setting is the calling thread's own, so it is restored.
     */
    int threads = omp_get_max_threads();
    bool alone = nq == 1 && threads > 1;

    if (alone)
        omp_set_num_threads(1);

    /* Searching is const in FAISS and safe from concurrent readers. */
    rc = guarded(err, "search index", [&] {
        ix->map->search((faiss::Index::idx_t) nq, x,
                        (faiss::Index::idx_t) k, out_dist,
                        (faiss::Index::idx_t *) out_ids);
    });
    if (alone)
        omp_set_num_threads(threads);
    return rc;
}

extern "C" enum tr_err
tr_vec_index_set_param(struct tr_vec_index *ix, const char *name,
                       double value, struct tr_error *err)
{
    if (ix == NULL || name == NULL || name[0] == '\0')
        return TR_ERROR(err, TR_E_INVAL, "parameter needs a name");

    std::unique_lock<std::shared_mutex> g(ix->lock);
    return guarded(err, "set index parameter", [&] {
        faiss::ParameterSpace ps;

        ps.set_index_parameter(ix->map, name, value);
    });
}

extern "C" enum tr_err
tr_vec_index_write(const struct tr_vec_index *ix, const char *path,
                   struct tr_error *err)
{
    FILE *f;
    enum tr_err rc;

    if (ix == NULL || path == NULL)
        return TR_ERROR(err, TR_E_INVAL, "no index or path");

    /* Opening the file here tells an I/O failure from an index one. */
    f = fopen(path, "wb");
    if (f == NULL)
        return TR_ERROR(err, TR_E_IO, "could not open file \"%s\": %s",
                        path, strerror(errno));

    {
        std::shared_lock<std::shared_mutex> g(ix->lock);
        rc = guarded(err, "write index", [&] {
            faiss::write_index(ix->map, f);
        });
    }

    if (fclose(f) != 0 && rc == TR_OK)
        rc = TR_ERROR(err, TR_E_IO, "could not write file \"%s\": %s",
                      path, strerror(errno));
    return rc;
}

extern "C" struct tr_vec_index *
tr_vec_index_read(const char *path, struct tr_error *err)
{
    faiss::Index *idx = NULL;
    FILE *f;
    enum tr_err rc;

    if (path == NULL) {
        TR_ERROR(err, TR_E_INVAL, "no path");
        return NULL;
    }

    f = fopen(path, "rb");
    if (f == NULL) {
        TR_ERROR(err, errno == ENOENT ? TR_E_NOTFOUND : TR_E_IO,
                 "could not open file \"%s\": %s", path, strerror(errno));
        return NULL;
    }

    rc = guarded(err, "read index", [&] {
        idx = faiss::read_index(f);
    });
    fclose(f);
    if (rc != TR_OK)
        return NULL;
    return wrap_read(idx, err);
}

extern "C" enum tr_err
tr_vec_index_serialize(const struct tr_vec_index *ix, void **buf,
                       size_t *buf_len, struct tr_error *err)
{
    faiss::VectorIOWriter w;
    enum tr_err rc;

    if (ix == NULL || buf == NULL || buf_len == NULL)
        return TR_ERROR(err, TR_E_INVAL, "no index or output");

    {
        std::shared_lock<std::shared_mutex> g(ix->lock);
        rc = guarded(err, "serialize index", [&] {
            faiss::write_index(ix->map, &w);
        });
    }
    if (rc != TR_OK)
        return rc;

    /* Hand over plain malloc() memory so that C callers free() it. */
    *buf = malloc(w.data.size() > 0 ? w.data.size() : 1);
    if (*buf == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    memcpy(*buf, w.data.data(), w.data.size());
    *buf_len = w.data.size();
    return TR_OK;
}

extern "C" struct tr_vec_index *
tr_vec_index_load(const void *buf, size_t buf_len, struct tr_error *err)
{
    faiss::Index *idx = NULL;
    enum tr_err rc;

    if (buf == NULL || buf_len == 0) {
        TR_ERROR(err, TR_E_INDEX, "empty index buffer");
        return NULL;
    }

    /*
     * XXX: FAISS reads a vector's length before its contents and resizes
     * to it (up to 2^40 elements), so crafted bytes can make it allocate
     * far more than the buffer holds before failing.  Buffers come only
     * from our own database rows, written by tr_vec_index_serialize(), so
     * this is tolerated; a length check against buf_len would need a
     * reader of our own.
     */
    rc = guarded(err, "load index", [&] {
        borrowed_reader r(buf, buf_len);

        idx = faiss::read_index(&r);
    });
    if (rc != TR_OK)
        return NULL;
    return wrap_read(idx, err);
}

extern "C" void
tr_vec_set_threads(int n)
{
    omp_set_num_threads(n < 1 ? 1 : n);
}

/* The factory suffix of a storage: its codec for IVF and HNSW. */
static const char *
store_codec(enum tr_vec_store store)
{
    switch (store) {
    case TR_VEC_STORE_FLOAT:
        return "Flat";
    case TR_VEC_STORE_FP16:
        return "SQfp16";
    case TR_VEC_STORE_SQ8:
    case TR_VEC_STORE_DEFAULT:
    default:
        return "SQ8";
    }
}

extern "C" void
tr_vec_factory_choose(size_t n_vectors, const struct tr_vec_choice *c,
                      char *out)
{
    size_t flat_max = TR_VEC_FLAT_MAX_DEFAULT;
    bool use_ivf = false;
    int hnsw_m = 16;
    size_t nlist = 1;
    enum tr_vec_store store = TR_VEC_STORE_DEFAULT;
    const char *codec;

    if (c != NULL) {
        if (c->flat_max > 0)
            flat_max = c->flat_max;
        use_ivf = c->use_ivf;
        if (c->hnsw_m > 0)
            hnsw_m = c->hnsw_m;
        store = c->store;
    }

    /*
     * An exhaustive scan decodes every stored vector per query, and this
     * FAISS decodes bytes one by one: floats scan faster there (and cost
     * at most flat_max vectors of memory), so bytes are the default only
     * for graph and list indexes.  A flat index is named by its codec.
     */
    if (n_vectors <= flat_max) {
        codec = store == TR_VEC_STORE_DEFAULT ? "Flat" : store_codec(store);
        snprintf(out, TR_VEC_FACTORY_MAX, "%s", codec);
        return;
    }
    codec = store_codec(store);
    if (!use_ivf) {
        if (strcmp(codec, "Flat") == 0)
            snprintf(out, TR_VEC_FACTORY_MAX, "HNSW%d", hnsw_m);
        else
            snprintf(out, TR_VEC_FACTORY_MAX, "HNSW%d,%s", hnsw_m, codec);
        return;
    }

    /*
     * About 4 * sqrt(n) lists, rounded down to a power of two, and never
     * so many that a list gets fewer than the 39 training points k-means
     * asks for.
     */
    double want = 4.0 * std::sqrt((double) n_vectors);
    while ((double) (nlist * 2) <= want && nlist * 2 * 39 <= n_vectors)
        nlist *= 2;
    snprintf(out, TR_VEC_FACTORY_MAX, "IVF%zu,%s", nlist, codec);
}

extern "C" struct tr_vec_pca *
tr_vec_pca_new(int d_in, int d_out, bool whiten, struct tr_error *err)
{
    struct tr_vec_pca *p = NULL;
    enum tr_err rc;

    if (d_in < 1 || d_out < 1 || d_out > d_in) {
        TR_ERROR(err, TR_E_INVAL, "PCA needs 1 <= d_out (%d) <= d_in (%d)",
                 d_out, d_in);
        return NULL;
    }

    rc = guarded(err, "create PCA", [&] {
        p = new tr_vec_pca();
        p->pca = NULL;
        p->pca = new faiss::PCAMatrix(d_in, d_out, whiten ? -0.5f : 0.0f,
                                      false);
    });
    if (rc != TR_OK) {
        delete p;
        return NULL;
    }
    return p;
}

extern "C" void
tr_vec_pca_free(struct tr_vec_pca *p)
{
    if (p == NULL)
        return;
    delete p->pca;
    delete p;
}

extern "C" int
tr_vec_pca_d_in(const struct tr_vec_pca *p)
{
    return p->pca->d_in;
}

extern "C" int
tr_vec_pca_d_out(const struct tr_vec_pca *p)
{
    return p->pca->d_out;
}

extern "C" bool
tr_vec_pca_is_trained(const struct tr_vec_pca *p)
{
    return p->pca->is_trained;
}

extern "C" enum tr_err
tr_vec_pca_train(struct tr_vec_pca *p, size_t n, int d_in, const float *x,
                 struct tr_error *err)
{
    if (p == NULL || x == NULL || n == 0)
        return TR_ERROR(err, TR_E_INVAL, "no vectors given");
    if (d_in != p->pca->d_in)
        return TR_ERROR(err, TR_E_INVAL, "vectors have %d dimensions, PCA "
                        "takes %d", d_in, p->pca->d_in);

    return guarded(err, "train PCA", [&] {
        p->pca->train((faiss::Index::idx_t) n, x);
    });
}

extern "C" enum tr_err
tr_vec_pca_apply(const struct tr_vec_pca *p, size_t n, int d_in,
                 const float *x, float *out, struct tr_error *err)
{
    if (p == NULL || x == NULL || out == NULL || n == 0)
        return TR_ERROR(err, TR_E_INVAL, "no vectors given");
    if (d_in != p->pca->d_in)
        return TR_ERROR(err, TR_E_INVAL, "vectors have %d dimensions, PCA "
                        "takes %d", d_in, p->pca->d_in);
    if (!p->pca->is_trained)
        return TR_ERROR(err, TR_E_INDEX, "PCA is not trained");

    return guarded(err, "apply PCA", [&] {
        p->pca->apply_noalloc((faiss::Index::idx_t) n, x, out);
    });
}

extern "C" enum tr_err
tr_vec_pca_serialize(const struct tr_vec_pca *p, void **buf,
                     size_t *buf_len, struct tr_error *err)
{
    faiss::VectorIOWriter w;
    enum tr_err rc;

    if (p == NULL || buf == NULL || buf_len == NULL)
        return TR_ERROR(err, TR_E_INVAL, "no PCA or output");

    rc = guarded(err, "serialize PCA", [&] {
        faiss::write_VectorTransform(p->pca, &w);
    });
    if (rc != TR_OK)
        return rc;

    *buf = malloc(w.data.size() > 0 ? w.data.size() : 1);
    if (*buf == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    memcpy(*buf, w.data.data(), w.data.size());
    *buf_len = w.data.size();
    return TR_OK;
}

extern "C" struct tr_vec_pca *
tr_vec_pca_load(const void *buf, size_t buf_len, struct tr_error *err)
{
    faiss::VectorTransform *vt = NULL;
    struct tr_vec_pca *p;
    enum tr_err rc;

    if (buf == NULL || buf_len == 0) {
        TR_ERROR(err, TR_E_INDEX, "empty PCA buffer");
        return NULL;
    }

    rc = guarded(err, "load PCA", [&] {
        faiss::VectorIOReader r;

        r.data.assign((const uint8_t *) buf, (const uint8_t *) buf + buf_len);
        vt = faiss::read_VectorTransform(&r);
    });
    if (rc != TR_OK)
        return NULL;

    faiss::PCAMatrix *pca = dynamic_cast<faiss::PCAMatrix *>(vt);
    if (pca == NULL) {
        delete vt;
        TR_ERROR(err, TR_E_INDEX, "stored transform is not a PCA");
        return NULL;
    }

    p = new (std::nothrow) tr_vec_pca();
    if (p == NULL) {
        delete vt;
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        return NULL;
    }
    p->pca = pca;
    return p;
}
