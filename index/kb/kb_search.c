/*
 * kb_search.c
 *      Loaded index versions: loading a version from PostgreSQL into a
 *      searcher, searching it, and the process-wide cache that keeps each
 *      tenant's live searcher and swaps it when the live version changes.
 *
 * A searcher is immutable once loaded and reference-counted: the cache
 * holds one reference, every caller of tr_kb_searcher_get() another, and
 * the last release frees it, so a swap never pulls an index from under a
 * search in flight.  The cache is guarded by one mutex that is never held
 * across a database call or a load; a condition variable lets callers
 * wait for a first load that another thread has started.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm25.h"
#include "embed.h"
#include "kb_int.h"
#include "log.h"
#include "search.h"
#include "vec.h"

/* What a searcher knows of one chunk. */
struct kb_chunk {
    int64_t article_id;
    const char *external_id;
    const char *title;
    const char *url;
    const char *locale;
    const char *heading_path;
    const char *text;
    const char *section;    /* "" when the article has none */
    size_t start;
    size_t end;
    bool hidden;            /* draft or deleted article */
};

struct tr_kb_searcher {
    atomic_int refs;
    int64_t tenant_id;
    int64_t version_id;
    size_t n_chunks;
    struct kb_chunk *chunks;
    struct tr_bm25 *bm25;
    struct tr_embedder *emb;
    struct tr_vec_index *vec;
    struct tr_search *modes[3];     /* by enum tr_kb_mode */
    struct tr_arena *arena;
};

/* One cached tenant. */
struct cache_entry {
    struct tr_db *db;
    int64_t tenant_id;
    struct tr_kb_searcher *cur;
    double checked_at;
    bool loading;
    struct cache_entry *next;
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cache_cv = PTHREAD_COND_INITIALIZER;
static struct cache_entry *cache_head;
static atomic_int check_ms = 1000;

static void
searcher_free(struct tr_kb_searcher *s)
{
    for (int i = 0; i < 3; i++)
        tr_search_free(s->modes[i]);
    tr_vec_index_free(s->vec);
    tr_embedder_free(s->emb);
    tr_bm25_free(s->bm25);
    free(s->chunks);
    tr_arena_free(s->arena);
    free(s);
}

void
tr_kb_searcher_release(struct tr_kb_searcher *s)
{
    if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
        searcher_free(s);
}

int64_t
tr_kb_searcher_version(const struct tr_kb_searcher *s)
{
    return s->version_id;
}

static int
hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/*
 * Decode the bytea hex text `hex` ("\x...") to exactly `len` bytes at
 * `out`; TR_E_INDEX when it is not hex of that length.
 */
static enum tr_err
hex_decode(const char *hex, unsigned char *out, size_t len,
           struct tr_error *err)
{
    size_t n = strlen(hex);

    if (n < 2 || hex[0] != '\\' || hex[1] != 'x' || n % 2 != 0)
        return TR_ERROR(err, TR_E_INDEX, "stored blob is not hex bytea");
    if ((n - 2) / 2 != len)
        return TR_ERROR(err, TR_E_INDEX, "stored blob part changed size "
                        "while read");
    for (size_t i = 0; i < len; i++) {
        int hi = hex_val(hex[2 + 2 * i]), lo = hex_val(hex[3 + 2 * i]);

        if (hi < 0 || lo < 0)
            return TR_ERROR(err, TR_E_INDEX, "stored blob is not hex");
        out[i] = (unsigned char) (hi << 4 | lo);
    }
    return TR_OK;
}

/* Rebuild one named part of the index from its bytes. */
static enum tr_err
load_part(struct tr_kb_searcher *s, const char *name, const void *data,
          size_t len, struct tr_error *err)
{
    if (strcmp(name, "bm25.bin") == 0)
        s->bm25 = tr_bm25_load(data, len, err);
    else if (strcmp(name, "embed.bin") == 0)
        s->emb = tr_embed_local_load(data, len, err);
    else if (strcmp(name, "vec.faiss") == 0)
        s->vec = tr_vec_index_load(data, len, err);
    else
        return TR_OK;

    /* Formats are versioned: a part this code cannot read needs a build. */
    if ((strcmp(name, "bm25.bin") == 0 && s->bm25 == NULL) ||
        (strcmp(name, "embed.bin") == 0 && s->emb == NULL) ||
        (strcmp(name, "vec.faiss") == 0 && s->vec == NULL))
        return TR_ERROR(err, TR_E_INDEX, "could not load index part "
                        "\"%s\": %s; rebuild the index with \"triage "
                        "reindex\"", name, tr_error_msg(err));
    return TR_OK;
}

/*
 * Read blob `name` of the version, `n_parts` parts of `len` bytes in
 * all, one part per query into one buffer of that size, and load it.
 * Only one part's hex text is held at a time, never the whole blob.
 */
static enum tr_err
load_blob(struct tr_db_conn *c, const char *ver, const char *name,
          int n_parts, size_t len, struct tr_kb_searcher *s,
          struct tr_error *err)
{
    unsigned char *data = malloc(len > 0 ? len : 1);
    size_t off = 0;
    enum tr_err rc = TR_OK;
    char part[16];
    const char *p[3] = {ver, name, part};

    if (data == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    for (int i = 0; i < n_parts && rc == TR_OK; i++) {
        struct tr_db_res *res = NULL;
        const char *hex;
        size_t n;

        snprintf(part, sizeof(part), "%d", i);
        rc = tr_db_exec(c, "SELECT data, octet_length(data) FROM "
                           "index_blobs WHERE version_id = $1 AND "
                           "name = $2 AND part = $3", 3, p, &res, err);
        if (rc != TR_OK)
            break;
        if (tr_db_res_n_rows(res) != 1) {
            tr_db_res_free(res);
            rc = TR_ERROR(err, TR_E_INDEX, "index blob \"%s\" lacks part "
                          "%d", name, i);
            break;
        }
        hex = tr_db_res_value(res, 0, 0);
        n = strtoull(tr_db_res_value(res, 0, 1), NULL, 10);
        if (n > len - off)
            rc = TR_ERROR(err, TR_E_INDEX, "index blob \"%s\" grew while "
                          "read", name);
        else
            rc = hex_decode(hex, data + off, n, err);
        off += n;
        tr_db_res_free(res);
    }
    if (rc == TR_OK && off != len)
        rc = TR_ERROR(err, TR_E_INDEX, "index blob \"%s\" shrank while "
                      "read", name);
    if (rc == TR_OK)
        rc = load_part(s, name, data, len, err);
    free(data);
    return rc;
}

/* Read the blobs of the version, blob after blob, and load them. */
static enum tr_err
load_blobs(struct tr_db_conn *c, const char *ver, struct tr_kb_searcher *s,
           struct tr_error *err)
{
    const char *p[1] = {ver};
    struct tr_db_res *res = NULL;
    enum tr_err rc;
    int n;

    /* Sizes first, so that each blob is decoded into a buffer its size. */
    rc = tr_db_exec(c, "SELECT name, count(*), sum(octet_length(data)) "
                       "FROM index_blobs WHERE version_id = $1 GROUP BY "
                       "name ORDER BY name", 1, p, &res, err);
    if (rc != TR_OK)
        return rc;
    n = tr_db_res_n_rows(res);
    for (int i = 0; i < n && rc == TR_OK; i++)
        rc = load_blob(c, ver, tr_db_res_value(res, i, 0),
                       atoi(tr_db_res_value(res, i, 1)),
                       strtoull(tr_db_res_value(res, i, 2), NULL, 10), s,
                       err);
    tr_db_res_free(res);
    if (rc == TR_OK && (s->bm25 == NULL || s->emb == NULL || s->vec == NULL))
        rc = TR_ERROR(err, TR_E_INDEX, "index version %s lacks a part",
                      ver);
    return rc;
}

/* Read the chunks with their articles' current metadata. */
static enum tr_err
load_chunks(struct tr_db_conn *c, const char *ver, struct tr_kb_searcher *s,
            struct tr_error *err)
{
    const char *p[1] = {ver};
    struct tr_db_res *res = NULL;
    enum tr_err rc;

    rc = tr_db_exec(c, "SELECT c.article_id, c.heading_path, c.text, "
                       "c.start_off, c.end_off, a.external_id, a.title, "
                       "coalesce(a.url, ''), a.locale, "
                       "coalesce(a.draft, true), coalesce(a.section, '') "
                       "FROM chunks c LEFT JOIN "
                       "articles a ON a.id = c.article_id WHERE "
                       "c.version_id = $1 ORDER BY c.chunk_id", 1, p, &res,
                    err);
    if (rc != TR_OK)
        return rc;
    s->n_chunks = (size_t) tr_db_res_n_rows(res);
    s->chunks = calloc(s->n_chunks + 1, sizeof(*s->chunks));
    if (s->chunks == NULL) {
        tr_db_res_free(res);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < s->n_chunks; i++) {
        struct kb_chunk *k = &s->chunks[i];
        const char *v[11];

        for (int j = 0; j < 11; j++) {
            v[j] = tr_db_res_value(res, (int) i, j);
            v[j] = tr_arena_strdup(s->arena, v[j] != NULL ? v[j] : "");
        }
        k->article_id = strtoll(v[0], NULL, 10);
        k->heading_path = v[1];
        k->text = v[2];
        k->start = strtoull(v[3], NULL, 10);
        k->end = strtoull(v[4], NULL, 10);
        k->external_id = v[5];
        k->title = v[6];
        k->url = v[7];
        k->locale = v[8];
        k->hidden = strcmp(v[9], "t") == 0;
        k->section = v[10];
    }
    tr_db_res_free(res);
    return TR_OK;
}

/* Make the three searchers over the loaded parts. */
static enum tr_err
make_modes(struct tr_kb_searcher *s, struct tr_error *err)
{
    int64_t *ids = malloc((s->n_chunks + 1) * sizeof(*ids));
    int64_t *arts = malloc((s->n_chunks + 1) * sizeof(*arts));
    struct tr_search_opts so;
    enum tr_err rc = TR_OK;

    if (ids == NULL || arts == NULL) {
        free(ids);
        free(arts);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < s->n_chunks; i++) {
        ids[i] = (int64_t) i;
        arts[i] = s->chunks[i].article_id;
    }
    tr_search_opts_default(&so);
    s->modes[TR_KB_HYBRID] = tr_search_new(s->bm25, s->vec, s->emb, ids,
                                           arts, s->n_chunks, &so, err);
    s->modes[TR_KB_BM25] = tr_search_new(s->bm25, NULL, NULL, ids, arts,
                                         s->n_chunks, &so, err);
    s->modes[TR_KB_DENSE] = tr_search_new(NULL, s->vec, s->emb, ids, arts,
                                          s->n_chunks, &so, err);
    for (int i = 0; i < 3; i++)
        if (s->modes[i] == NULL)
            rc = err != NULL && err->code != TR_OK ? err->code : TR_E_INDEX;
    free(ids);
    free(arts);
    return rc;
}

enum tr_err
tr_kb_searcher_load(struct tr_db *db, int64_t tenant_id, int64_t version_id,
                    struct tr_kb_searcher **out, struct tr_error *err)
{
    struct tr_kb_searcher *s = calloc(1, sizeof(*s));
    struct tr_db_conn *c = NULL;
    char ver[24];
    enum tr_err rc;
    double t0 = tr_kb__now();

    if (s == NULL || (s->arena = tr_arena_new(64 * 1024)) == NULL) {
        free(s);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }
    atomic_init(&s->refs, 1);
    s->tenant_id = tenant_id;
    s->version_id = version_id;
    snprintf(ver, sizeof(ver), "%lld", (long long) version_id);

    rc = tr_db_tx_begin(db, tenant_id, &c, err);
    if (rc == TR_OK)
        rc = load_chunks(c, ver, s, err);
    if (rc == TR_OK)
        rc = load_blobs(c, ver, s, err);
    tr_db_tx_rollback(c);
    if (rc == TR_OK)
        rc = make_modes(s, err);
    if (rc != TR_OK) {
        searcher_free(s);
        return rc;
    }

    TR_LOG_INFO("kb", "kb_loaded", TR_KVS(TR_KV_INT("tenant", tenant_id),
                TR_KV_INT("version", version_id),
                TR_KV_INT("chunks", s->n_chunks),
                TR_KV_DBL("dur_ms", (tr_kb__now() - t0) * 1000)),
                "index version %lld loaded", (long long) version_id);
    *out = s;
    return TR_OK;
}

enum tr_err
tr_kb_search(const struct tr_kb_searcher *s, const char *query, size_t k,
             enum tr_kb_mode mode, struct tr_kb_hit *hits, size_t *n_hits,
             struct tr_error *err)
{
    struct tr_search_hit *raw;
    size_t want, n = 0, got = 0;
    enum tr_err rc;

    *n_hits = 0;
    if (k < 1 || query == NULL || query[0] == '\0' || (int) mode < 0 ||
        mode > TR_KB_DENSE)
        return TR_ERROR(err, TR_E_INVAL, "empty query or bad k");

    /* Ask for more than k: hidden articles are dropped afterwards. */
    want = 2 * k + 16;
    raw = malloc(want * sizeof(*raw));
    if (raw == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    rc = tr_search_query(s->modes[mode], query, want, raw, &n, err);
    for (size_t i = 0; rc == TR_OK && i < n && got < k; i++) {
        const struct kb_chunk *c;

        if (raw[i].chunk_id < 0 || (size_t) raw[i].chunk_id >= s->n_chunks)
            continue;
        c = &s->chunks[raw[i].chunk_id];
        if (c->hidden)
            continue;
        hits[got] = (struct tr_kb_hit) {
            raw[i].score, raw[i].chunk_id, c->article_id, c->external_id,
            c->title, c->url, c->locale, c->heading_path, c->text,
            c->start, c->end, raw[i].dense_score, raw[i].bm25_score,
            c->section
        };
        got++;
    }
    free(raw);
    *n_hits = got;
    return rc;
}

void
tr_kb_cache_set_check_ms(int ms)
{
    atomic_store(&check_ms, ms < 0 ? 0 : ms);
}

/* The entry of (db, tenant), created when missing; under cache_mu. */
static struct cache_entry *
entry_find(struct tr_db *db, int64_t tenant_id)
{
    struct cache_entry *e;

    for (e = cache_head; e != NULL; e = e->next)
        if (e->db == db && e->tenant_id == tenant_id)
            return e;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->db = db;
    e->tenant_id = tenant_id;
    e->next = cache_head;
    cache_head = e;
    return e;
}

/* Load version `live` for `e` and install it; called without the lock. */
static enum tr_err
entry_reload(struct cache_entry *e, int64_t live, struct tr_error *err)
{
    struct tr_kb_searcher *s = NULL, *old = NULL;
    enum tr_err rc;

    rc = tr_kb_searcher_load(e->db, e->tenant_id, live, &s, err);

    pthread_mutex_lock(&cache_mu);
    if (rc == TR_OK) {
        old = e->cur;
        e->cur = s;
    }
    e->loading = false;
    pthread_cond_broadcast(&cache_cv);
    pthread_mutex_unlock(&cache_mu);

    /* The cache's reference to the old one; searches may still hold it. */
    tr_kb_searcher_release(old);
    return rc;
}

enum tr_err
tr_kb_searcher_get(struct tr_db *db, int64_t tenant_id,
                   struct tr_kb_searcher **out, struct tr_error *err)
{
    struct cache_entry *e;
    int64_t live = 0, have;
    double now = tr_kb__now();
    bool check;
    enum tr_err rc = TR_OK;

    pthread_mutex_lock(&cache_mu);
    e = entry_find(db, tenant_id);
    if (e == NULL) {
        pthread_mutex_unlock(&cache_mu);
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    }
    check = e->cur == NULL ||
            (now - e->checked_at) * 1000 >= atomic_load(&check_ms);
    if (check)
        e->checked_at = now;
    pthread_mutex_unlock(&cache_mu);

    /* The cheap part: one indexed lookup of the live version id. */
    if (check)
        rc = tr_kb_live_version(db, tenant_id, &live, err);

    pthread_mutex_lock(&cache_mu);
    have = e->cur != NULL ? e->cur->version_id : 0;
    if (rc == TR_OK && check && live == 0 && e->cur == NULL)
        rc = TR_ERROR(err, TR_E_NOTFOUND, "no live index: run reindex");
    if (rc == TR_OK && check && live != 0 && live != have && !e->loading) {
        e->loading = true;
        pthread_mutex_unlock(&cache_mu);
        rc = entry_reload(e, live, err);
        pthread_mutex_lock(&cache_mu);
    }

    /* Someone else loads the first version: wait for it. */
    while (rc == TR_OK && e->cur == NULL && e->loading)
        pthread_cond_wait(&cache_cv, &cache_mu);
    if (e->cur != NULL) {
        /* An old searcher beats failing the search. */
        atomic_fetch_add(&e->cur->refs, 1);
        *out = e->cur;
        rc = TR_OK;
    } else if (rc == TR_OK) {
        rc = TR_ERROR(err, TR_E_NOTFOUND, "no live index: run reindex");
    }
    pthread_mutex_unlock(&cache_mu);
    return rc;
}

void
tr_kb_cache_drop(struct tr_db *db)
{
    struct cache_entry **pp, *e;

    pthread_mutex_lock(&cache_mu);
    pp = &cache_head;
    while ((e = *pp) != NULL) {
        if ((db == NULL || e->db == db) && !e->loading) {
            *pp = e->next;
            tr_kb_searcher_release(e->cur);
            free(e);
        } else {
            pp = &e->next;
        }
    }
    pthread_mutex_unlock(&cache_mu);
}

char *
tr_kb_snippet(const char *text, size_t max, char *out, size_t out_len)
{
    size_t n = 0, cut = 0;
    bool space = false;
    const char *p;

    if (max + 4 > out_len)
        max = out_len - 4;
    for (p = text; *p != '\0' && n < max; p++) {
        bool ws = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';

        if (ws) {
            space = n > 0;
            continue;
        }
        if (space) {
            cut = n;
            out[n++] = ' ';
            space = false;
            if (n >= max)
                break;
        }
        out[n++] = *p;
    }
    if (*p == '\0') {
        out[n] = '\0';
        return out;
    }

    /* Cut at the last space, or back to a character's first byte. */
    if (cut > max / 2)
        n = cut;
    while (n > 0 && ((unsigned char) out[n] & 0xc0) == 0x80)
        n--;
    memcpy(out + n, "...", 4);
    return out;
}
