/*
 * kb_build.c
 *      Reindex: read the tenant's published articles, chunk them, learn
 *      the tokeniser and the embedder, build BM25 and FAISS, serialise,
 *      store the new version and switch to it.
 *
 * The whole build happens in memory on the calling thread; the database
 * sees three short transactions (create the version as 'building', store
 * it and mark it 'ready', switch).  A session advisory lock held on one
 * pooled connection for the whole run serialises reindexes of a tenant,
 * which makes it safe to delete any 'building' version found at the
 * start: only a dead process can have left it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm25.h"
#include "embed.h"
#include "kb_int.h"
#include "log.h"
#include "text.h"
#include "tok.h"
#include "vec.h"

/* First key of the reindex advisory lock ("kb"); the tenant is second. */
#define KB_LOCK_KEY 0x6b62

/* Texts embedded per call, shared among threads, so progress moves. */
#define EMBED_BATCH 1024

/* One article being indexed. */
struct art {
    int64_t id;
    char *title;
    char *body;
    enum tr_kb_format format;
    struct tr_text_blocks blocks;
    char *plain;
};

/* Everything one build makes. */
struct build {
    struct art *arts;
    size_t n_arts;
    struct tr_kb__chunk *chunks;
    size_t n_chunks;
    size_t cap_chunks;
    struct tr_tok_model *tok;
    struct tr_embedder *emb;
    struct tr_bm25 *bm25;
    struct tr_vec_index *vec;
    struct tr_kb__blob blobs[5];
    size_t n_blobs;
    char factory[TR_VEC_FACTORY_MAX];
    const struct tr_kb_reindex_opts *o;
};

static void
progress(const struct build *b, const char *stage, size_t done,
         size_t total)
{
    if (b->o->progress != NULL)
        b->o->progress(b->o->progress_ud, stage, done, total);
}

static void
build_cleanup(struct build *b)
{
    for (size_t i = 0; i < b->n_arts; i++) {
        free(b->arts[i].title);
        free(b->arts[i].body);
        free(b->arts[i].plain);
        tr_text_blocks_cleanup(&b->arts[i].blocks);
    }
    free(b->arts);
    for (size_t i = 0; i < b->n_chunks; i++) {
        free(b->chunks[i].heading_path);
        free(b->chunks[i].text);
    }
    free(b->chunks);
    for (size_t i = 0; i < b->n_blobs; i++)
        free(b->blobs[i].data);
    tr_tok_model_free(b->tok);
    tr_embedder_free(b->emb);
    tr_bm25_free(b->bm25);
    tr_vec_index_free(b->vec);
}

/* Read the published articles of the tenant. */
static enum tr_err
load_articles(struct tr_db *db, int64_t tenant_id, struct build *b,
              struct tr_error *err)
{
    struct tr_db_conn *c;
    struct tr_db_res *res = NULL;
    enum tr_err rc;
    int n;

    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_exec(c, "SELECT id, title, body, body_format FROM articles "
                       "WHERE NOT draft ORDER BY id", 0, NULL, &res, err);
    tr_db_tx_rollback(c);
    if (rc != TR_OK)
        return rc;

    n = tr_db_res_n_rows(res);
    b->arts = calloc((size_t) n + 1, sizeof(*b->arts));
    if (b->arts == NULL) {
        tr_db_res_free(res);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        struct art *a = &b->arts[i];

        a->id = strtoll(tr_db_res_value(res, i, 0), NULL, 10);
        a->title = strdup(tr_db_res_value(res, i, 1));
        a->body = strdup(tr_db_res_value(res, i, 2));
        a->format = tr_kb__format_parse(tr_db_res_value(res, i, 3));
        tr_text_blocks_init(&a->blocks);
        b->n_arts++;
        if (a->title == NULL || a->body == NULL) {
            tr_db_res_free(res);
            return TR_ERROR(err, TR_E_NOMEM, "out of memory");
        }
    }
    tr_db_res_free(res);
    if (n == 0)
        return TR_ERROR(err, TR_E_NOTFOUND, "the tenant has no published "
                        "article to index");
    return TR_OK;
}

/* Turn every body into blocks and plain text. */
static enum tr_err
parse_articles(struct build *b, struct tr_error *err)
{
    for (size_t i = 0; i < b->n_arts; i++) {
        struct art *a = &b->arts[i];
        size_t len = strlen(a->body);
        enum tr_err rc;

        if (a->format == TR_KB_MARKDOWN)
            rc = tr_text_from_markdown(a->body, len, &a->blocks, err);
        else if (a->format == TR_KB_TEXT)
            rc = tr_text_from_plain(a->body, len, &a->blocks, err);
        else
            rc = tr_text_from_html(a->body, len, &a->blocks, err);
        if (rc == TR_OK)
            rc = tr_text_blocks_plain(&a->blocks, &a->plain, NULL, err);
        if (rc != TR_OK)
            return rc;
        progress(b, "parse", i + 1, b->n_arts);
    }
    return TR_OK;
}

/* Learn the sentencepiece model from titles and plain texts. */
static enum tr_err
train_tok(struct build *b, struct tr_error *err)
{
    struct tr_tok_train_opts to = {0};
    const char **texts = calloc(2 * b->n_arts, sizeof(*texts));

    if (texts == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < b->n_arts; i++) {
        texts[2 * i] = b->arts[i].title;
        texts[2 * i + 1] = b->arts[i].plain;
    }
    to.vocab_size = b->o->vocab_size > 0 ? b->o->vocab_size
                                         : TR_TOK_VOCAB_DEFAULT;
    progress(b, "tokenise", 0, 1);
    b->tok = tr_tok_model_train(texts, 2 * b->n_arts, &to, NULL, err);
    free(texts);
    if (b->tok == NULL)
        return err != NULL && err->code != TR_OK ? err->code : TR_E_INDEX;
    progress(b, "tokenise", 1, 1);
    return TR_OK;
}

/* Append one chunk, taking its strings. */
static enum tr_err
chunk_push(struct build *b, int64_t art, char *path, char *text,
           size_t start, size_t end, struct tr_error *err)
{
    struct tr_kb__chunk *c;

    if (b->n_chunks == b->cap_chunks) {
        size_t cap = b->cap_chunks ? 2 * b->cap_chunks : 256;
        void *v = realloc(b->chunks, cap * sizeof(*b->chunks));

        if (v == NULL) {
            free(path);
            free(text);
            return TR_ERROR(err, TR_E_NOMEM, "out of memory");
        }
        b->chunks = v;
        b->cap_chunks = cap;
    }
    c = &b->chunks[b->n_chunks++];
    c->article_id = art;
    c->heading_path = path;
    c->text = text;
    c->start = start;
    c->end = end;
    return TR_OK;
}

/* Cut every article into chunks counted in sentencepiece pieces. */
static enum tr_err
chunk_articles(struct build *b, struct tr_error *err)
{
    struct tr_text_chunk_opts co = {0};
    enum tr_err rc = TR_OK;

    co.max_tokens = b->o->chunk_tokens > 0 ? b->o->chunk_tokens : 256;
    co.count = tr_tok_count;
    co.count_ud = b->tok;
    for (size_t i = 0; i < b->n_arts && rc == TR_OK; i++) {
        struct tr_text_chunks cs;

        tr_text_chunks_init(&cs);
        rc = tr_text_chunk(&b->arts[i].blocks, &co, &cs, err);

        /* An article without text is still found by its title. */
        if (rc == TR_OK && cs.n == 0)
            rc = chunk_push(b, b->arts[i].id, strdup(""), strdup(""), 0, 0,
                            err);
        for (size_t j = 0; j < cs.n && rc == TR_OK; j++) {
            rc = chunk_push(b, b->arts[i].id, cs.v[j].heading_path,
                            cs.v[j].text, cs.v[j].start, cs.v[j].end, err);
            cs.v[j].heading_path = NULL;
            cs.v[j].text = NULL;
        }
        tr_text_chunks_cleanup(&cs);
        progress(b, "chunk", i + 1, b->n_arts);
    }
    return rc;
}

/* The article of chunk `c`. */
static const struct art *
chunk_art(const struct build *b, const struct tr_kb__chunk *c)
{
    size_t lo = 0, hi = b->n_arts;

    /* Articles are sorted by id. */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;

        if (b->arts[mid].id <= c->article_id)
            lo = mid;
        else
            hi = mid;
    }
    return &b->arts[lo];
}

/*
 * The text given to the embedder and to BM25's title field: the title
 * twice (it weighs like that in the evaluated setting), the heading path,
 * then the chunk text.
 */
static char *
embed_text(const struct build *b, const struct tr_kb__chunk *c)
{
    const char *t = chunk_art(b, c)->title;
    size_t n = 2 * strlen(t) + strlen(c->heading_path) + strlen(c->text) + 4;
    char *s = malloc(n);

    if (s != NULL)
        snprintf(s, n, "%s\n%s\n%s\n%s", t, t, c->heading_path, c->text);
    return s;
}

/* Learn the embedder and build the vector index. */
static enum tr_err
build_dense(struct build *b, struct tr_error *err)
{
    struct tr_embed_local_opts eo;
    char **texts = calloc(b->n_chunks, sizeof(*texts));
    int64_t *ids = malloc(b->n_chunks * sizeof(*ids));
    float *v = NULL;
    enum tr_err rc = TR_OK;

    tr_embed_local_opts_default(&eo);
    if (b->o->embed_dim > 0)
        eo.dim = b->o->embed_dim;
    eo.threads = b->o->threads;

    /* A corpus smaller than the dimension cannot fill it. */
    if ((size_t) eo.dim > b->n_chunks + 8)
        eo.dim = (int) b->n_chunks + 8;
    if (texts == NULL || ids == NULL)
        goto nomem;
    for (size_t i = 0; i < b->n_chunks; i++) {
        texts[i] = embed_text(b, &b->chunks[i]);
        ids[i] = (int64_t) i;
        if (texts[i] == NULL)
            goto nomem;
    }
    v = malloc(b->n_chunks * (size_t) eo.dim * sizeof(*v));
    if (v == NULL)
        goto nomem;

    progress(b, "embed", 0, b->n_chunks);
    b->emb = tr_embed_local_train((const char *const *) texts, b->n_chunks,
                                  &eo, err);
    if (b->emb == NULL) {
        rc = err != NULL && err->code != TR_OK ? err->code : TR_E_INDEX;
        goto out;
    }
    for (size_t i = 0; i < b->n_chunks && rc == TR_OK; i += EMBED_BATCH) {
        size_t n = b->n_chunks - i < EMBED_BATCH ? b->n_chunks - i
                                                 : EMBED_BATCH;

        rc = tr_embedder_embed_many(b->emb,
                                    (const char *const *) texts + i, n,
                                    eo.dim, v + i * (size_t) eo.dim,
                                    b->o->threads, err);
        progress(b, "embed", i + n, b->n_chunks);
    }
    if (rc != TR_OK)
        goto out;

    tr_vec_factory_choose(b->n_chunks, NULL, b->factory);
    b->vec = tr_vec_index_new(eo.dim, b->factory, err);
    if (b->vec == NULL) {
        rc = err != NULL && err->code != TR_OK ? err->code : TR_E_INDEX;
        goto out;
    }
    if (!tr_vec_index_is_trained(b->vec))
        rc = tr_vec_index_train(b->vec, b->n_chunks, eo.dim, v, err);
    if (rc == TR_OK)
        rc = tr_vec_index_add(b->vec, b->n_chunks, eo.dim, v, ids, err);
    goto out;

nomem:
    rc = TR_ERROR(err, TR_E_NOMEM, "out of memory");
out:
    for (size_t i = 0; texts != NULL && i < b->n_chunks; i++)
        free(texts[i]);
    free(texts);
    free(ids);
    free(v);
    return rc;
}

/* BM25 over title (with heading path) and chunk text. */
static enum tr_err
build_bm25(struct build *b, struct tr_error *err)
{
    enum tr_err rc = TR_OK;

    b->bm25 = tr_bm25_new(NULL, err);
    if (b->bm25 == NULL)
        return err != NULL && err->code != TR_OK ? err->code : TR_E_INDEX;
    for (size_t i = 0; i < b->n_chunks && rc == TR_OK; i++) {
        const struct tr_kb__chunk *c = &b->chunks[i];
        const char *t = chunk_art(b, c)->title;
        size_t n = strlen(t) + strlen(c->heading_path) + 2;
        char *title = malloc(n);

        if (title == NULL)
            return TR_ERROR(err, TR_E_NOMEM, "out of memory");
        snprintf(title, n, "%s\n%s", t, c->heading_path);
        rc = tr_bm25_add(b->bm25, (int64_t) i, title, c->text, err);
        free(title);
    }
    if (rc == TR_OK)
        rc = tr_bm25_build(b->bm25, err);
    progress(b, "index", 1, 1);
    return rc;
}

/* Serialise every part into b->blobs. */
static enum tr_err
serialise(struct build *b, struct tr_error *err)
{
    struct tr_buf buf;
    enum tr_err rc;

    rc = tr_tok_model_serialize(b->tok, &b->blobs[0].data,
                                &b->blobs[0].len, err);
    if (rc != TR_OK)
        return rc;
    b->blobs[b->n_blobs++].name = "tok.model";

    tr_buf_init(&buf, (size_t) 4 << 30);
    rc = tr_embedder_save(b->emb, &buf, err);
    b->blobs[1].len = buf.len;
    b->blobs[1].data = tr_buf_steal(&buf);
    b->blobs[b->n_blobs++].name = "embed.bin";
    if (rc != TR_OK)
        return rc;

    tr_buf_init(&buf, (size_t) 4 << 30);
    rc = tr_bm25_save(b->bm25, &buf, err);
    b->blobs[2].len = buf.len;
    b->blobs[2].data = tr_buf_steal(&buf);
    b->blobs[b->n_blobs++].name = "bm25.bin";
    if (rc != TR_OK)
        return rc;

    rc = tr_vec_index_serialize(b->vec, &b->blobs[3].data, &b->blobs[3].len,
                                err);
    b->blobs[b->n_blobs++].name = "vec.faiss";
    return rc;
}

/* Run every stage of the in-memory build. */
static enum tr_err
build_all(struct tr_db *db, int64_t tenant_id, struct build *b,
          struct tr_error *err)
{
    enum tr_err rc;

    progress(b, "load", 0, 1);
    rc = load_articles(db, tenant_id, b, err);
    if (rc == TR_OK) {
        progress(b, "load", b->n_arts, b->n_arts);
        rc = parse_articles(b, err);
    }
    if (rc == TR_OK)
        rc = train_tok(b, err);
    if (rc == TR_OK)
        rc = chunk_articles(b, err);
    if (rc == TR_OK)
        rc = build_dense(b, err);
    if (rc == TR_OK)
        rc = build_bm25(b, err);
    if (rc == TR_OK)
        rc = serialise(b, err);
    return rc;
}

/* Take the tenant's reindex lock on a held connection. */
static enum tr_err
lock_tenant(struct tr_db *db, int64_t tenant_id, struct tr_db_conn **c,
            struct tr_error *err)
{
    char key[24], k1[16];
    const char *p[2] = {k1, key};
    enum tr_err rc;

    snprintf(k1, sizeof(k1), "%d", KB_LOCK_KEY);
    snprintf(key, sizeof(key), "%lld", (long long) (tenant_id % 2147483647));
    rc = tr_db_conn_acquire(db, c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_db_exec(*c, "SELECT pg_advisory_lock($1::int, $2::int)", 2, p,
                    NULL, err);
    if (rc != TR_OK) {
        tr_db_conn_release(*c);
        *c = NULL;
    }
    return rc;
}

static void
unlock_tenant(struct tr_db_conn *c, int64_t tenant_id)
{
    char key[24], k1[16];
    const char *p[2] = {k1, key};

    if (c == NULL)
        return;
    snprintf(k1, sizeof(k1), "%d", KB_LOCK_KEY);
    snprintf(key, sizeof(key), "%lld", (long long) (tenant_id % 2147483647));
    tr_db_exec(c, "SELECT pg_advisory_unlock($1::int, $2::int)", 2, p, NULL,
               NULL);
    tr_db_conn_release(c);
}

/* Run `sql` with the tenant id as $1 (and `arg` as $2) in a transaction. */
static enum tr_err
tenant_exec(struct tr_db *db, int64_t tenant_id, const char *sql,
            const char *arg, char *out, size_t out_len, struct tr_error *err)
{
    char tenant[24];
    const char *p[2] = {tenant, arg};
    struct tr_db_conn *c;
    enum tr_err rc;

    snprintf(tenant, sizeof(tenant), "%lld", (long long) tenant_id);
    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc != TR_OK)
        return rc;
    if (out != NULL)
        rc = tr_db_query_value(c, sql, arg ? 2 : 1, p, out, out_len, NULL,
                               err);
    else
        rc = tr_db_exec(c, sql, arg ? 2 : 1, p, NULL, err);
    if (rc != TR_OK) {
        tr_db_tx_rollback(c);
        return rc;
    }
    return tr_db_tx_commit(c, err);
}

/* Store blobs and chunks and mark the version ready, in one transaction. */
static enum tr_err
store_version(struct tr_db *db, int64_t tenant_id, int64_t vid,
              struct build *b, struct tr_kb_reindex_result *res,
              struct tr_error *err)
{
    char tenant[24], ver[24], stats[512];
    const char *p[3] = {tenant, ver, stats};
    struct tr_db_conn *c;
    enum tr_err rc;

    snprintf(tenant, sizeof(tenant), "%lld", (long long) tenant_id);
    snprintf(ver, sizeof(ver), "%lld", (long long) vid);
    snprintf(stats, sizeof(stats), "{\"articles\":%zu,\"chunks\":%zu,"
             "\"bytes\":%zu,\"factory\":\"%s\",\"build_s\":%.3f,"
             "\"dim\":%d,\"vocab\":%d}", res->n_articles, res->n_chunks,
             res->n_bytes, b->factory, res->build_s,
             tr_embedder_dim(b->emb), tr_tok_model_size(b->tok));

    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc != TR_OK)
        return rc;
    rc = tr_kb__store_blobs(c, tenant_id, vid, b->blobs, b->n_blobs, b->o,
                            err);
    if (rc == TR_OK)
        rc = tr_kb__store_chunks(c, tenant_id, vid, b->chunks, b->n_chunks,
                                 err);
    if (rc == TR_OK)
        rc = tr_db_exec(c, "UPDATE index_versions SET status = 'ready', "
                           "stats = $3::jsonb WHERE tenant_id = $1 AND "
                           "id = $2", 3, p, NULL, err);
    if (rc == TR_OK && !b->o->no_switch)
        rc = tr_kb__switch_tx(c, tenant_id, vid, err);
    if (rc != TR_OK) {
        tr_db_tx_rollback(c);
        return rc;
    }
    return tr_db_tx_commit(c, err);
}

/* Keep the live version and the three newest others; drop the rest. */
static void
prune_versions(struct tr_db *db, int64_t tenant_id)
{
    tenant_exec(db, tenant_id, "DELETE FROM index_versions WHERE "
                "tenant_id = $1 AND status IN ('ready', 'retired') AND id "
                "NOT IN (SELECT id FROM index_versions WHERE tenant_id = $1 "
                "AND status IN ('ready', 'retired') ORDER BY id DESC "
                "LIMIT 3)", NULL, NULL, 0, NULL);
}

enum tr_err
tr_kb_reindex(struct tr_db *db, int64_t tenant_id,
              const struct tr_kb_reindex_opts *opts,
              struct tr_kb_reindex_result *res, struct tr_error *err)
{
    static const struct tr_kb_reindex_opts defaults;
    struct tr_kb_reindex_result r = {0};
    struct build b = {0};
    struct tr_db_conn *lock = NULL;
    char vbuf[24];
    int64_t vid = 0;
    double t0 = tr_kb__now();
    enum tr_err rc;

    b.o = opts != NULL ? opts : &defaults;
    rc = lock_tenant(db, tenant_id, &lock, err);
    if (rc != TR_OK)
        return rc;

    /* Holding the lock, any 'building' version is a dead run's. */
    rc = tenant_exec(db, tenant_id, "DELETE FROM index_versions WHERE "
                     "tenant_id = $1 AND status = 'building'", NULL, NULL,
                     0, err);
    if (rc == TR_OK)
        rc = tenant_exec(db, tenant_id, "INSERT INTO index_versions "
                         "(tenant_id) VALUES ($1) RETURNING id", NULL, vbuf,
                         sizeof(vbuf), err);
    if (rc != TR_OK)
        goto out;
    vid = strtoll(vbuf, NULL, 10);

    rc = build_all(db, tenant_id, &b, err);
    if (rc != TR_OK)
        goto out;
    r.version_id = vid;
    r.n_articles = b.n_arts;
    r.n_chunks = b.n_chunks;
    for (size_t i = 0; i < b.n_blobs; i++)
        r.n_bytes += b.blobs[i].len;
    snprintf(r.factory, sizeof(r.factory), "%s", b.factory);
    r.build_s = tr_kb__now() - t0;

    t0 = tr_kb__now();
    rc = store_version(db, tenant_id, vid, &b, &r, err);
    r.store_s = tr_kb__now() - t0;
    if (rc == TR_OK)
        prune_versions(db, tenant_id);

out:
    /* A failed version is removed; the live one was never touched. */
    if (rc != TR_OK && vid != 0)
        tenant_exec(db, tenant_id, "DELETE FROM index_versions WHERE "
                    "tenant_id = $1 AND id = $2::bigint", vbuf, NULL, 0,
                    NULL);
    unlock_tenant(lock, tenant_id);
    build_cleanup(&b);
    if (rc == TR_OK) {
        TR_LOG_INFO("kb", "kb_reindexed", TR_KVS(TR_KV_INT("tenant",
                    tenant_id), TR_KV_INT("version", vid),
                    TR_KV_INT("chunks", r.n_chunks),
                    TR_KV_DBL("build_s", r.build_s)),
                    "index version %lld built", (long long) vid);
        if (res != NULL)
            *res = r;
    }
    return rc;
}
