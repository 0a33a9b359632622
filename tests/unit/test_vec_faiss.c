/*
 * test_vec_faiss.c
 *      Tests of the FAISS bridge: search, ids, storage round trips,
 *      errors, HNSW recall against exact search, PCA, concurrent readers.
 *
 * Vectors come from a fixed pseudo-random generator so that every run
 * sees the same data.  Clustered data stands in for text embeddings
 * (HNSW's recall on structureless gaussian noise says nothing).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tr_test.h"
#include "vec.h"

#define DIM 32

static uint64_t rng_state;

static float
rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float) ((rng_state >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f;
}

static void
normalize(float *v, int d)
{
    float s = 0.0f;

    for (int i = 0; i < d; i++)
        s += v[i] * v[i];
    s = sqrtf(s);
    for (int i = 0; i < d; i++)
        v[i] /= s;
}

/*
 * `n` unit vectors around `n_centres` centres, ids 1000 + row.
 */
static float *
clustered(size_t n, int n_centres, int64_t **ids)
{
    float *centres = malloc(sizeof(float) * DIM * (size_t) n_centres);
    float *x = malloc(sizeof(float) * DIM * n);

    assert_non_null(centres);
    assert_non_null(x);
    rng_state = 42;
    for (int c = 0; c < n_centres * DIM; c++)
        centres[c] = rnd();

    for (size_t i = 0; i < n; i++) {
        int c = (int) (i % (size_t) n_centres);

        for (int j = 0; j < DIM; j++)
            x[i * DIM + j] = centres[c * DIM + j] + 0.15f * rnd();
        normalize(x + i * DIM, DIM);
    }
    free(centres);

    if (ids != NULL) {
        *ids = malloc(sizeof(int64_t) * n);
        assert_non_null(*ids);
        for (size_t i = 0; i < n; i++)
            (*ids)[i] = 1000 + (int64_t) i;
    }
    return x;
}

static struct tr_vec_index *
built(const char *factory, size_t n, const float *x, const int64_t *ids)
{
    struct tr_error err = {0};
    struct tr_vec_index *ix = tr_vec_index_new(DIM, factory, &err);

    if (ix == NULL)
        fail_msg("could not create %s: %s", factory, err.msg);
    if (!tr_vec_index_is_trained(ix))
        assert_int_equal(tr_vec_index_train(ix, n, DIM, x, &err), TR_OK);
    assert_int_equal(tr_vec_index_add(ix, n, DIM, x, ids, &err), TR_OK);
    assert_int_equal(tr_vec_index_ntotal(ix), (int64_t) n);
    return ix;
}

static void
vec_flat_finds_each_vector_by_its_id(void **state)
{
    struct tr_error err = {0};
    int64_t *ids;
    float *x = clustered(500, 20, &ids);
    struct tr_vec_index *ix = built("Flat", 500, x, ids);
    float dist[5];
    int64_t got[5];

    for (size_t i = 0; i < 500; i += 37) {
        assert_int_equal(tr_vec_index_search(ix, 1, DIM, x + i * DIM, 5,
                                             dist, got, &err), TR_OK);
        assert_int_equal(got[0], ids[i]);
        assert_float_equal(dist[0], 1.0f, 1e-4f);
        assert_true(dist[1] <= dist[0]);
    }
    assert_int_equal(tr_vec_index_dim(ix), DIM);

    tr_vec_index_free(ix);
    free(x);
    free(ids);
}

/*
 * Search `q` in both indexes and require the same ids and scores.
 */
static void
assert_same_results(const struct tr_vec_index *a,
                    const struct tr_vec_index *b, size_t nq, const float *q)
{
    struct tr_error err = {0};
    float *da = malloc(sizeof(float) * nq * 10);
    float *db = malloc(sizeof(float) * nq * 10);
    int64_t *ia = malloc(sizeof(int64_t) * nq * 10);
    int64_t *ib = malloc(sizeof(int64_t) * nq * 10);

    assert_int_equal(tr_vec_index_search(a, nq, DIM, q, 10, da, ia, &err),
                     TR_OK);
    assert_int_equal(tr_vec_index_search(b, nq, DIM, q, 10, db, ib, &err),
                     TR_OK);
    assert_memory_equal(ia, ib, sizeof(int64_t) * nq * 10);
    assert_memory_equal(da, db, sizeof(float) * nq * 10);
    for (size_t i = 0; i < nq * 10; i++)
        assert_true(ia[i] >= 1000);
    free(da);
    free(db);
    free(ia);
    free(ib);
}

static void
vec_file_and_buffer_round_trips_keep_results(void **state)
{
    static const char *const factories[] = {"Flat", "HNSW16",
                                            "IVF16,Flat"};
    struct tr_error err = {0};
    int64_t *ids;
    float *x = clustered(1000, 25, &ids);

    for (size_t f = 0; f < 3; f++) {
        struct tr_vec_index *ix = built(factories[f], 1000, x, ids);
        struct tr_vec_index *from_file, *from_buf;
        char path[] = "/tmp/tr_vec_XXXXXX";
        void *buf = NULL;
        size_t len = 0;
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(tr_vec_index_write(ix, path, &err), TR_OK);
        from_file = tr_vec_index_read(path, &err);
        assert_non_null(from_file);
        unlink(path);

        assert_int_equal(tr_vec_index_serialize(ix, &buf, &len, &err),
                         TR_OK);
        from_buf = tr_vec_index_load(buf, len, &err);
        assert_non_null(from_buf);

        assert_int_equal(tr_vec_index_ntotal(from_file), 1000);
        assert_int_equal(tr_vec_index_ntotal(from_buf), 1000);
        assert_same_results(ix, from_file, 50, x + 7 * DIM);
        assert_same_results(ix, from_buf, 50, x + 7 * DIM);

        free(buf);
        tr_vec_index_free(from_buf);
        tr_vec_index_free(from_file);
        tr_vec_index_free(ix);
    }
    free(x);
    free(ids);
}

static void
vec_bad_factory_is_a_clean_error(void **state)
{
    struct tr_error err = {0};

    assert_null(tr_vec_index_new(DIM, "NotAnIndex", &err));
    assert_int_equal(err.code, TR_E_INDEX);
    assert_non_null(strstr(err.msg, "could not create index"));

    assert_null(tr_vec_index_new(DIM, "", &err));
    assert_int_equal(err.code, TR_E_INVAL);
    assert_null(tr_vec_index_new(0, "Flat", &err));
    assert_int_equal(err.code, TR_E_INVAL);
}

static void
vec_wrong_dimension_and_empty_index_are_errors(void **state)
{
    struct tr_error err = {0};
    struct tr_vec_index *ix = tr_vec_index_new(DIM, "Flat", &err);
    float q[DIM * 2] = {1.0f};
    int64_t ids[2] = {1, 2};
    float dist[3];
    int64_t got[3];

    assert_non_null(ix);
    assert_int_equal(tr_vec_index_search(ix, 1, DIM, q, 3, dist, got, &err),
                     TR_E_INDEX);
    assert_non_null(strstr(err.msg, "empty"));

    assert_int_equal(tr_vec_index_add(ix, 1, DIM + 1, q, ids, &err),
                     TR_E_INVAL);
    assert_int_equal(tr_vec_index_add(ix, 1, DIM, q, NULL, &err),
                     TR_E_INVAL);
    assert_int_equal(tr_vec_index_add(ix, 2, DIM, q, ids, &err), TR_OK);
    assert_int_equal(tr_vec_index_search(ix, 1, 16, q, 3, dist, got, &err),
                     TR_E_INVAL);
    assert_int_equal(tr_vec_index_search(ix, 1, DIM, q, 0, dist, got, &err),
                     TR_E_INVAL);

    /* Asking for more neighbours than stored pads with id -1. */
    assert_int_equal(tr_vec_index_search(ix, 1, DIM, q, 3, dist, got, &err),
                     TR_OK);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[1], 2);
    assert_int_equal(got[2], -1);
    assert_true(dist[2] <= -FLT_MAX / 2);

    assert_int_equal(tr_vec_index_set_param(ix, "efSearch", 32, &err),
                     TR_E_INDEX);
    tr_vec_index_free(ix);
}

static void
vec_ivf_needs_training_and_takes_nprobe(void **state)
{
    struct tr_error err = {0};
    int64_t *ids;
    float *x = clustered(1000, 25, &ids);
    struct tr_vec_index *ix = tr_vec_index_new(DIM, "IVF16,Flat", &err);

    assert_non_null(ix);
    assert_false(tr_vec_index_is_trained(ix));
    assert_int_equal(tr_vec_index_add(ix, 1000, DIM, x, ids, &err),
                     TR_E_INDEX);

    /* Fewer points than lists: FAISS throws, the bridge reports. */
    assert_int_equal(tr_vec_index_train(ix, 10, DIM, x, &err), TR_E_INDEX);
    assert_non_null(strstr(err.msg, "could not train index"));
    assert_false(tr_vec_index_is_trained(ix));

    assert_int_equal(tr_vec_index_train(ix, 1000, DIM, x, &err), TR_OK);
    assert_true(tr_vec_index_is_trained(ix));
    assert_int_equal(tr_vec_index_add(ix, 1000, DIM, x, ids, &err), TR_OK);
    assert_int_equal(tr_vec_index_set_param(ix, "nprobe", 4, &err), TR_OK);
    assert_int_equal(tr_vec_index_set_param(ix, "noSuchParam", 4, &err),
                     TR_E_INDEX);

    tr_vec_index_free(ix);
    free(x);
    free(ids);
}

static void
vec_load_rejects_garbage_and_missing_files(void **state)
{
    static const char garbage[] = "IxMpnot really an index at all....";
    struct tr_error err = {0};

    assert_null(tr_vec_index_load(garbage, sizeof(garbage), &err));
    assert_int_equal(err.code, TR_E_INDEX);
    assert_null(tr_vec_index_load(garbage, 0, &err));
    assert_int_equal(err.code, TR_E_INDEX);
    assert_null(tr_vec_index_read("/nonexistent/dir/x.faiss", &err));
    assert_int_equal(err.code, TR_E_NOTFOUND);
    assert_null(tr_vec_pca_load(garbage, sizeof(garbage), &err));
    assert_int_equal(err.code, TR_E_INDEX);
}

/*
 * Share of the exact top 10 that `hnsw` finds for the `nq` queries `q`
 * at the given efSearch (0 for an index without one).
 */
static double
recall_at(struct tr_vec_index *hnsw, const int64_t *exact, size_t nq,
          const float *q, int ef)
{
    struct tr_error err = {0};
    float *dist = malloc(sizeof(float) * nq * 10);
    int64_t *got = malloc(sizeof(int64_t) * nq * 10);
    size_t hits = 0;

    if (ef > 0)
        assert_int_equal(tr_vec_index_set_param(hnsw, "efSearch", ef, &err),
                         TR_OK);
    assert_int_equal(tr_vec_index_search(hnsw, nq, DIM, q, 10, dist, got,
                                         &err), TR_OK);
    for (size_t i = 0; i < nq; i++)
        for (size_t a = 0; a < 10; a++)
            for (size_t b = 0; b < 10; b++)
                if (exact[i * 10 + a] == got[i * 10 + b])
                    hits++;
    free(dist);
    free(got);
    return (double) hits / ((double) nq * 10.0);
}

static void
vec_hnsw_recall_is_close_to_flat(void **state)
{
    struct tr_error err = {0};
    size_t n = 3000, nq = 100;
    int64_t *ids;
    float *x = clustered(n, 60, &ids);
    struct tr_vec_index *flat = built("Flat", n, x, ids);
    struct tr_vec_index *hnsw = built("HNSW32", n, x, ids);
    float *q = malloc(sizeof(float) * DIM * nq);
    float dist[10 * 100];
    int64_t exact[10 * 100];
    double low, high;

    /* Queries are fresh points near the data, not stored vectors. */
    for (size_t i = 0; i < nq * DIM; i++)
        q[i] = x[(i * 7) % (n * DIM)] + 0.05f * rnd();
    for (size_t i = 0; i < nq; i++)
        normalize(q + i * DIM, DIM);
    assert_int_equal(tr_vec_index_search(flat, nq, DIM, q, 10, dist, exact,
                                         &err), TR_OK);

    /*
     * Clusters of 50 near-equal points make the exact top 10 a fine
     * ranking, so recall is modest at a small efSearch; a large one must
     * come close to exact search, which also shows the parameter works.
     */
    low = recall_at(hnsw, exact, nq, q, 16);
    high = recall_at(hnsw, exact, nq, q, 256);
    print_message("hnsw recall@10: ef16 %.3f ef256 %.3f\n", low, high);
    assert_true(high >= 0.9);
    assert_true(high >= low);

    free(q);
    tr_vec_index_free(flat);
    tr_vec_index_free(hnsw);
    free(x);
    free(ids);
}

static void
vec_factory_follows_corpus_size(void **state)
{
    struct tr_vec_choice ivf = {.flat_max = 1000, .use_ivf = true};
    struct tr_vec_choice hnsw = {.hnsw_m = 32};
    char out[TR_VEC_FACTORY_MAX];

    /* By default a flat index keeps floats, the others bytes. */
    tr_vec_factory_choose(100, NULL, out);
    assert_string_equal(out, "Flat");
    tr_vec_factory_choose(TR_VEC_FLAT_MAX_DEFAULT, NULL, out);
    assert_string_equal(out, "Flat");
    tr_vec_factory_choose(TR_VEC_FLAT_MAX_DEFAULT + 1, NULL, out);
    assert_string_equal(out, "HNSW16,SQ8");
    tr_vec_factory_choose(50000, &hnsw, out);
    assert_string_equal(out, "HNSW32,SQ8");

    /* 4 * sqrt(1e6) = 4000 -> 2048 lists; 2000 points allow only 32. */
    tr_vec_factory_choose(1000000, &ivf, out);
    assert_string_equal(out, "IVF2048,SQ8");
    tr_vec_factory_choose(2000, &ivf, out);
    assert_string_equal(out, "IVF32,SQ8");

    /* Each storage when asked for. */
    hnsw.store = TR_VEC_STORE_SQ8;
    tr_vec_factory_choose(100, &hnsw, out);
    assert_string_equal(out, "SQ8");
    ivf.store = hnsw.store = TR_VEC_STORE_FLOAT;
    tr_vec_factory_choose(100, &hnsw, out);
    assert_string_equal(out, "Flat");
    tr_vec_factory_choose(50000, &hnsw, out);
    assert_string_equal(out, "HNSW32");
    tr_vec_factory_choose(2000, &ivf, out);
    assert_string_equal(out, "IVF32,Flat");
    hnsw.store = TR_VEC_STORE_FP16;
    tr_vec_factory_choose(50000, &hnsw, out);
    assert_string_equal(out, "HNSW32,SQfp16");
}

static void
vec_byte_storage_ranks_like_floats(void **state)
{
    struct tr_error err = {0};
    size_t n = 3000, nq = 100;
    int64_t *ids;
    float *x = clustered(n, 60, &ids);
    struct tr_vec_index *flat = built("Flat", n, x, ids);
    struct tr_vec_index *sq = built("SQ8", n, x, ids);
    struct tr_vec_index *hnsw = built("HNSW16,SQ8", n, x, ids);
    struct tr_vec_index *back;
    float *q = malloc(sizeof(float) * DIM * nq);
    float dist[10 * 100];
    int64_t exact[10 * 100];
    void *buf = NULL;
    size_t len = 0;
    double r_sq, r_hnsw, r_back;

    assert_non_null(q);
    for (size_t i = 0; i < nq * DIM; i++)
        q[i] = x[(i * 7) % (n * DIM)] + 0.05f * rnd();
    for (size_t i = 0; i < nq; i++)
        normalize(q + i * DIM, DIM);
    assert_int_equal(tr_vec_index_search(flat, nq, DIM, q, 10, dist, exact,
                                         &err), TR_OK);

    /*
     * Bytes cost some of the top 10 in clusters of near-equal points,
     * but most of it stays; the graph search over bytes does as well
     * when deep enough, and survives a round trip through a buffer.
     */
    r_sq = recall_at(sq, exact, nq, q, 0);
    r_hnsw = recall_at(hnsw, exact, nq, q, 256);
    assert_int_equal(tr_vec_index_serialize(hnsw, &buf, &len, &err), TR_OK);
    back = tr_vec_index_load(buf, len, &err);
    assert_non_null(back);
    r_back = recall_at(back, exact, nq, q, 256);
    print_message("sq8 recall@10: flat %.3f hnsw ef256 %.3f\n", r_sq,
                  r_hnsw);
    assert_true(r_sq >= 0.9);
    assert_true(r_hnsw >= 0.9);
    assert_true(r_back == r_hnsw);

    free(buf);
    free(q);
    tr_vec_index_free(back);
    tr_vec_index_free(flat);
    tr_vec_index_free(sq);
    tr_vec_index_free(hnsw);
    free(x);
    free(ids);
}

static void
vec_pca_keeps_a_low_rank_signal(void **state)
{
    struct tr_error err = {0};
    size_t n = 400;
    float *x = malloc(sizeof(float) * 16 * n);
    float *y = malloc(sizeof(float) * 4 * n);
    float *y2 = malloc(sizeof(float) * 4 * n);
    struct tr_vec_pca *p, *back;
    void *buf = NULL;
    size_t len = 0;

    /* Points in a 4-dimensional subspace of 16 dimensions. */
    rng_state = 7;
    for (size_t i = 0; i < n; i++) {
        float c[4] = {rnd(), rnd(), rnd(), rnd()};

        for (int j = 0; j < 16; j++)
            x[i * 16 + j] = c[j % 4] * (float) (1 + j / 4);
    }

    assert_null(tr_vec_pca_new(4, 16, false, &err));
    assert_int_equal(err.code, TR_E_INVAL);
    p = tr_vec_pca_new(16, 4, false, &err);
    assert_non_null(p);
    assert_int_equal(tr_vec_pca_apply(p, n, 16, x, y, &err), TR_E_INDEX);
    assert_int_equal(tr_vec_pca_train(p, n, 8, x, &err), TR_E_INVAL);
    assert_int_equal(tr_vec_pca_train(p, n, 16, x, &err), TR_OK);
    assert_true(tr_vec_pca_is_trained(p));
    assert_int_equal(tr_vec_pca_apply(p, n, 16, x, y, &err), TR_OK);

    /* An orthogonal projection onto the signal keeps distances. */
    for (size_t i = 1; i < 20; i++) {
        float d16 = 0.0f, d4 = 0.0f;

        for (int j = 0; j < 16; j++)
            d16 += powf(x[i * 16 + j] - x[j], 2.0f);
        for (int j = 0; j < 4; j++)
            d4 += powf(y[i * 4 + j] - y[j], 2.0f);
        assert_float_equal(d4, d16, 1e-3f * (1.0f + d16));
    }

    assert_int_equal(tr_vec_pca_serialize(p, &buf, &len, &err), TR_OK);
    back = tr_vec_pca_load(buf, len, &err);
    assert_non_null(back);
    assert_int_equal(tr_vec_pca_d_in(back), 16);
    assert_int_equal(tr_vec_pca_d_out(back), 4);
    assert_int_equal(tr_vec_pca_apply(back, n, 16, x, y2, &err), TR_OK);
    assert_memory_equal(y, y2, sizeof(float) * 4 * n);

    free(buf);
    tr_vec_pca_free(back);
    tr_vec_pca_free(p);
    free(x);
    free(y);
    free(y2);
}

struct reader {
    const struct tr_vec_index *ix;
    const float *q;
    int64_t ids[100 * 5];
    enum tr_err rc;
};

static void *
read_many(void *arg)
{
    struct reader *r = arg;
    float dist[5];
    struct tr_error err = {0};

    for (int round = 0; round < 20; round++)
        for (int i = 0; i < 100; i++) {
            r->rc = tr_vec_index_search(r->ix, 1, DIM, r->q + i * DIM, 5,
                                        dist, r->ids + i * 5, &err);
            if (r->rc != TR_OK)
                return NULL;
        }
    return NULL;
}

static void
vec_concurrent_searches_agree(void **state)
{
    struct tr_error err = {0};
    int64_t *ids;
    float *x = clustered(2000, 40, &ids);
    struct tr_vec_index *ix = built("HNSW16", 2000, x, ids);
    struct reader r[4];
    pthread_t t[4];
    float dist[100 * 5];
    int64_t expect[100 * 5];

    tr_vec_set_threads(1);
    assert_int_equal(tr_vec_index_search(ix, 100, DIM, x, 5, dist, expect,
                                         &err), TR_OK);
    for (int i = 0; i < 4; i++) {
        r[i].ix = ix;
        r[i].q = x;
        assert_int_equal(pthread_create(&t[i], NULL, read_many, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].rc, TR_OK);
        assert_memory_equal(r[i].ids, expect, sizeof(expect));
    }

    tr_vec_index_free(ix);
    free(x);
    free(ids);
}

static const struct CMUnitTest cases[] = {
    cmocka_unit_test(vec_flat_finds_each_vector_by_its_id),
    cmocka_unit_test(vec_file_and_buffer_round_trips_keep_results),
    cmocka_unit_test(vec_bad_factory_is_a_clean_error),
    cmocka_unit_test(vec_wrong_dimension_and_empty_index_are_errors),
    cmocka_unit_test(vec_ivf_needs_training_and_takes_nprobe),
    cmocka_unit_test(vec_load_rejects_garbage_and_missing_files),
    cmocka_unit_test(vec_hnsw_recall_is_close_to_flat),
    cmocka_unit_test(vec_factory_follows_corpus_size),
    cmocka_unit_test(vec_byte_storage_ranks_like_floats),
    cmocka_unit_test(vec_pca_keeps_a_low_rank_signal),
    cmocka_unit_test(vec_concurrent_searches_agree),
};

TR_TEST_MAIN(cases)
