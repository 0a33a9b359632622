/*
 * ours.c
 *      triage's side of the search benchmark: build the index of the
 *      corpus with the production settings, then load it and serve the
 *      collection's queries through hybrid search.
 *
 * Settings are those of the service: tr_bm25_opts_default(), the local
 * embedder with tr_embed_local_opts_default() given the title twice,
 * the FAISS factory tr_vec_factory_choose() picks for the corpus size,
 * and tr_search_opts_default().  Each chunk is ranked as its own
 * article, as FTS5 ranks rows, so that nDCG is measured on the same
 * units.  The build uses two OpenMP threads (FAISS's HNSW insertion)
 * and, as a reindex does, one thread per online processor for the
 * embedder's training and embedding; serving threads use one each.
 * The build phase writes the three parts to files, and the serve
 * phase, a fresh process, reads them, so that its resident memory is
 * that of a loaded server.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_search.h"
#include "search.h"

/* Cap of the serialized BM25 index and embedder model. */
#define OURS_BLOB_MAX ((size_t) 1 << 31)

/* Times the title is given to the embedder, as the service does. */
#define OURS_TITLE_REPEAT 2

/* The three parts of the index. */
struct ours {
    struct tr_bm25 *bm25;
    struct tr_embedder *emb;
    struct tr_vec_index *vec;
};

/* Build times of each part, seconds. */
struct ours_times {
    double bm25;
    double train;
    double embed;
    double faiss;
};

/* What one serving thread uses. */
struct ours_worker {
    const struct tr_search *s;
    const struct tr_eval_dataset *ds;
};

/* Free the three parts; a zeroed `o` is a no-op. */
static void
ours_free(struct ours *o)
{
    tr_vec_index_free(o->vec);
    tr_embedder_free(o->emb);
    tr_bm25_free(o->bm25);
    memset(o, 0, sizeof(*o));
}

/* Report the error of `what` on stderr; returns -1. */
static int
fail(const char *what, const struct tr_error *err)
{
    fprintf(stderr, "bench_search: could not %s: %s\n", what, err->msg);
    return -1;
}

/* The embedder's text of chunk i: the title twice, then the text. */
static char *
embed_text(const struct bench_corpus *c, size_t i)
{
    size_t tl = strlen(c->title[i]), xl = strlen(c->text[i]);
    char *s = malloc((tl + 1) * OURS_TITLE_REPEAT + xl + 1), *p = s;

    if (s == NULL)
        return NULL;
    for (int k = 0; k < OURS_TITLE_REPEAT; k++) {
        memcpy(p, c->title[i], tl);
        p += tl;
        *p++ = '\n';
    }
    memcpy(p, c->text[i], xl + 1);
    return s;
}

/* BM25F over title and text, with the service's options. */
static int
build_bm25(const struct bench_corpus *c, size_t n, struct ours *o,
           struct tr_error *err)
{
    struct tr_bm25_opts bo;

    tr_bm25_opts_default(&bo);
    o->bm25 = tr_bm25_new(&bo, err);
    if (o->bm25 == NULL)
        return fail("create the BM25 index", err);
    for (size_t i = 0; i < n; i++)
        if (tr_bm25_add(o->bm25, (int64_t) i, c->title[i], c->text[i],
                        err) != TR_OK)
            return fail("add to the BM25 index", err);
    if (tr_bm25_build(o->bm25, err) != TR_OK)
        return fail("build the BM25 index", err);
    return 0;
}

/* Train the embedder on `texts`, embed them, fill the FAISS index. */
static int
build_dense(char **texts, size_t n, const char *prefix, struct ours *o,
            struct ours_times *t, struct tr_error *err)
{
    struct tr_embed_local_opts eo;
    char factory[TR_VEC_FACTORY_MAX];
    int64_t *ids = malloc(n * sizeof(*ids));
    float *v = NULL;
    int rc = -1;
    double t0 = bench_now();

    tr_embed_local_opts_default(&eo);
    o->emb = tr_embed_local_train((const char *const *) texts, n, &eo, err);
    if (o->emb == NULL || ids == NULL) {
        fail("train the embedder", err);
        goto out;
    }
    t->train = bench_now() - t0;

    t0 = bench_now();
    v = malloc(n * (size_t) eo.dim * sizeof(*v));
    if (v == NULL || tr_embedder_embed_many(o->emb,
                                            (const char *const *) texts, n,
                                            eo.dim, v, eo.threads,
                                            err) != TR_OK) {
        fail("embed the chunks", err);
        goto out;
    }
    t->embed = bench_now() - t0;

    /* The index kind the service picks for this many vectors. */
    t0 = bench_now();
    tr_vec_factory_choose(n, NULL, factory);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int64_t) i;
    o->vec = tr_vec_index_new(eo.dim, factory, err);
    if (o->vec == NULL ||
        (!tr_vec_index_is_trained(o->vec) &&
         tr_vec_index_train(o->vec, n, eo.dim, v, err) != TR_OK) ||
        tr_vec_index_add(o->vec, n, eo.dim, v, ids, err) != TR_OK) {
        fail("fill the vector index", err);
        goto out;
    }
    t->faiss = bench_now() - t0;
    printf("%s_factory %s\n", prefix, factory);
    rc = 0;

out:
    free(ids);
    free(v);
    return rc;
}

/* Build the whole index of the first `n` chunks; figures as `prefix`. */
static int
build_index(const struct bench_corpus *c, size_t n, const char *prefix,
            struct ours *o)
{
    struct tr_error err = {0};
    struct ours_times t = {0};
    char **texts = calloc(n, sizeof(*texts));
    double t0 = bench_now(), t_texts;
    int rc = -1;

    if (texts == NULL || build_bm25(c, n, o, &err) != 0)
        goto out;
    t.bm25 = bench_now() - t0;

    /*
     * Making the embedder's texts is work a reindex does too: it is
     * counted with the training, which is the step that reads them.
     */
    t0 = bench_now();
    for (size_t i = 0; i < n; i++)
        if ((texts[i] = embed_text(c, i)) == NULL)
            goto out;
    t_texts = bench_now() - t0;
    if (build_dense(texts, n, prefix, o, &t, &err) != 0)
        goto out;

    /* Writing the index is left out: the service stores it elsewhere. */
    printf("%s_chunks %zu\n", prefix, n);
    printf("%s_build_bm25_s %.3f\n", prefix, t.bm25);
    printf("%s_build_train_s %.3f\n", prefix, t.train + t_texts);
    printf("%s_build_embed_s %.3f\n", prefix, t.embed);
    printf("%s_build_faiss_s %.3f\n", prefix, t.faiss);
    printf("%s_build_s %.3f\n", prefix,
           t.bm25 + t_texts + t.train + t.embed + t.faiss);
    rc = 0;

out:
    for (size_t i = 0; texts != NULL && i < n; i++)
        free(texts[i]);
    free(texts);
    return rc;
}

/* Write `len` bytes at `p` to dir/name; 0 or -1 with a message. */
static int
write_file(const char *dir, const char *name, const void *p, size_t len)
{
    char path[4096];
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "bench_search: could not open \"%s\"\n", path);
        return -1;
    }
    ok = fwrite(p, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok)
        fprintf(stderr, "bench_search: could not write \"%s\"\n", path);
    return ok ? 0 : -1;
}

/* Read all of dir/name into a new buffer (free()), NULL on failure. */
static void *
read_file(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    FILE *f;
    void *p = NULL;
    long size;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (p = malloc((size_t) size + 1)) == NULL
        || fread(p, 1, (size_t) size, f) != (size_t) size) {
        fprintf(stderr, "bench_search: could not read \"%s\"\n", path);
        free(p);
        p = NULL;
    }
    if (f != NULL)
        fclose(f);
    *len = (size_t) (p != NULL ? size : 0);
    return p;
}

/* Write the three parts of `o` into `dir`. */
static int
save_index(const struct ours *o, const char *dir)
{
    struct tr_error err = {0};
    struct tr_buf b;
    void *vbuf = NULL;
    size_t vlen = 0;
    int rc = -1;

    /* One growing buffer serves both serialisers, reset in between. */
    tr_buf_init(&b, OURS_BLOB_MAX);
    if (tr_bm25_save(o->bm25, &b, &err) != TR_OK) {
        fail("save the BM25 index", &err);
        goto out;
    }
    if (write_file(dir, "bm25.bin", b.data, b.len) != 0)
        goto out;

    tr_buf_reset(&b);
    if (tr_embedder_save(o->emb, &b, &err) != TR_OK) {
        fail("save the embedder", &err);
        goto out;
    }
    if (write_file(dir, "embed.bin", b.data, b.len) != 0)
        goto out;

    if (tr_vec_index_serialize(o->vec, &vbuf, &vlen, &err) != TR_OK) {
        fail("save the vector index", &err);
        goto out;
    }
    rc = write_file(dir, "vec.faiss", vbuf, vlen);

out:
    free(vbuf);
    tr_buf_cleanup(&b);
    return rc;
}

/* Load the three parts from `dir`. */
static int
load_index(struct ours *o, const char *dir)
{
    struct tr_error err = {0};
    size_t len[3];
    void *p[3];
    int rc = -1;

    /*
     * Whole files in memory, as the service reads blobs from its
     * database; they are freed once parsed, and the serving peak is
     * measured after that.
     */
    p[0] = read_file(dir, "bm25.bin", &len[0]);
    p[1] = read_file(dir, "embed.bin", &len[1]);
    p[2] = read_file(dir, "vec.faiss", &len[2]);
    if (p[0] == NULL || p[1] == NULL || p[2] == NULL)
        goto out;

    if ((o->bm25 = tr_bm25_load(p[0], len[0], &err)) == NULL)
        fail("load the BM25 index", &err);
    else if ((o->emb = tr_embed_local_load(p[1], len[1], &err)) == NULL)
        fail("load the embedder", &err);
    else if ((o->vec = tr_vec_index_load(p[2], len[2], &err)) == NULL)
        fail("load the vector index", &err);
    else
        rc = 0;

out:
    for (int i = 0; i < 3; i++)
        free(p[i]);
    return rc;
}

/*
 * The build phase: the reindex subset is built and dropped first, then
 * the whole corpus; the corpus is freed before the memory figure and
 * the index is written for the serve phase.
 */
int
bench_phase_build(const struct tr_eval_dataset *ds, size_t n,
                  size_t n_articles, const char *dir)
{
    struct bench_corpus c;
    struct ours o = {0};
    size_t small;
    double t0 = bench_now();
    int rc = 1;

    if (bench_corpus_make(ds, n, 0x7472696167654243ULL, &c) != 0)
        return 1;
    small = bench_corpus_head(&c, n_articles);
    printf("corpus_chunks %zu\ncorpus_real %zu\ncorpus_make_s %.3f\n",
           c.n, c.n_real, bench_now() - t0);
    printf("small_articles %u\n", small > 0 ? c.article[small - 1] + 1 : 0);

    /* Two threads for the build, as a reindex job would have. */
    tr_vec_set_threads(2);
    if (build_index(&c, small, "small", &o) != 0)
        goto out;
    ours_free(&o);
    if (build_index(&c, n, "ours", &o) != 0)
        goto out;
    bench_corpus_free(&c);
    bench_mem_print("ours_built");

    t0 = bench_now();
    if (save_index(&o, dir) != 0)
        goto out;
    printf("ours_save_s %.3f\n", bench_now() - t0);
    rc = 0;

out:
    ours_free(&o);
    bench_corpus_free(&c);
    return rc;
}

/* Timed query `qi` (the collection's queries, cycled): top 10 hits. */
static int
ours_query(void *arg, size_t qi)
{
    struct ours_worker *w = arg;
    const struct tr_eval_query *q = &w->ds->queries[qi % w->ds->n_queries];
    struct tr_search_hit hits[10];
    struct tr_error err = {0};
    size_t n_hits;

    if (tr_search_query(w->s, q->text, 10, hits, &n_hits, &err) != TR_OK)
        return fail("search", &err);
    return 0;
}

/*
 * nDCG@10 of searcher `s` over all queries, printed as `key`; with
 * `lat` non-NULL, the latency of each query goes there (seconds).
 */
static int
ours_ndcg(const struct tr_search *s, const struct tr_eval_dataset *ds,
          const char *key, double *lat)
{
    struct tr_eval_metrics m;
    struct tr_search_hit hits[10];
    struct tr_error err = {0};

    tr_eval_metrics_init(&m);
    for (size_t i = 0; i < ds->n_queries; i++) {
        int64_t ranked[10];
        size_t n_hits;
        double t0 = bench_now();

        if (tr_search_query(s, ds->queries[i].text, 10, hits, &n_hits,
                            &err) != TR_OK)
            return fail("search", &err);
        if (lat != NULL)
            lat[i] = bench_now() - t0;
        for (size_t k = 0; k < n_hits; k++)
            ranked[k] = hits[k].chunk_id;
        bench_score(&m, &ds->queries[i], ranked, n_hits);
    }
    tr_eval_metrics_finish(&m);
    printf("%s_ndcg10 %.4f\n%s_mrr10 %.4f\n", key, m.ndcg_10, key,
           m.mrr_10);
    return 0;
}

/*
 * FAISS's OpenMP setting is per thread: each serving thread searches
 * on its own, as a request thread of the service does.
 */
static void
one_thread(void)
{
    tr_vec_set_threads(1);
}

/* Searchers: [0] hybrid, [1] BM25 alone, [2] dense alone. */
static int
make_searchers(const struct ours *o, struct tr_search **s)
{
    size_t n = (size_t) tr_vec_index_ntotal(o->vec);
    int64_t *ids = malloc((n + 1) * sizeof(*ids));
    struct tr_search_opts so;
    struct tr_error err = {0};
    int rc = -1;

    if (ids == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        ids[i] = (int64_t) i;
    tr_search_opts_default(&so);

    /* Chunk ids double as article ids: every chunk ranks on its own. */
    s[0] = tr_search_new(o->bm25, o->vec, o->emb, ids, ids, n, &so, &err);
    if (s[0] != NULL)
        s[1] = tr_search_new(o->bm25, NULL, NULL, ids, ids, n, &so, &err);
    if (s[1] != NULL)
        s[2] = tr_search_new(NULL, o->vec, o->emb, ids, ids, n, &so, &err);
    if (s[2] == NULL)
        fail("make the searcher", &err);
    else
        rc = 0;
    free(ids);
    return rc;
}

/*
 * Quality of the three searchers, the hybrid one last and timed, then
 * throughput of the hybrid one on two threads.  BM25 alone and dense
 * alone go first and warm the caches for the timed pass.
 */
static int
ours_timing(struct tr_search **s, const struct tr_eval_dataset *ds,
            size_t n_q, double budget_s)
{
    struct ours_worker w = {s[0], ds};
    void *workers[2] = {&w, &w};
    double *lat = malloc(ds->n_queries * sizeof(*lat)), wall;
    size_t done;
    int rc = -1;

    if (lat == NULL || ours_ndcg(s[1], ds, "ours_bm25", NULL) != 0 ||
        ours_ndcg(s[2], ds, "ours_dense", NULL) != 0 ||
        ours_ndcg(s[0], ds, "ours", lat) != 0)
        goto out;
    printf("collection_queries %zu\nours_queries %zu\n", ds->n_queries,
           ds->n_queries);
    bench_latency_print("ours", lat, ds->n_queries);

    wall = bench_threads(ours_query, workers, 2, n_q, budget_s, one_thread,
                         &done);
    if (wall <= 0)
        goto out;
    printf("ours_qps2_queries %zu\nours_qps2 %.1f\n", done,
           (double) done / wall);
    rc = 0;

out:
    free(lat);
    return rc;
}

/*
 * The serve phase: load the index as a restarted server would, make
 * the searchers, score quality and latency, time throughput, and
 * report memory while serving.
 */
int
bench_phase_serve(const struct tr_eval_dataset *ds, const char *dir,
                  size_t n_queries, double budget_s)
{
    struct ours o = {0};
    struct tr_search *s[3] = {NULL, NULL, NULL};
    double t0 = bench_now();
    int rc = 1;

    tr_vec_set_threads(1);
    bench_mem_print("ours_empty");
    if (load_index(&o, dir) != 0)
        goto out;
    printf("ours_load_s %.3f\n", bench_now() - t0);
    if (make_searchers(&o, s) != 0)
        goto out;
    bench_mem_print("ours_loaded");

    /* The file buffers of the load are gone: measure serving alone. */
    bench_mem_peak_reset();
    if (ours_timing(s, ds, n_queries, budget_s) != 0)
        goto out;
    bench_mem_print("ours_serving");
    rc = 0;

out:
    for (int i = 0; i < 3; i++)
        tr_search_free(s[i]);
    ours_free(&o);
    return rc;
}
