/*
 * bm25.c
 *      Building and searching the in-memory BM25 index.
 *
 * Chunks are tokenized as they are added and their term frequencies go
 * straight into the postings; tr_bm25_build() then fixes the IDFs and
 * the per-posting weights.  A search accumulates scores in a private
 * array as long as the chunk count and keeps the best k in a min-heap,
 * so concurrent searches share nothing writable.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bm25_int.h"

void
tr_bm25_opts_default(struct tr_bm25_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->k1 = 1.2;
    o->b = 0.75;
    o->title_weight = 3.0;
    strcpy(o->stem_lang, "english");
}

enum tr_err
tr_bm25__opts_check(const struct tr_bm25_opts *o, struct tr_error *err)
{
    if (!(o->k1 >= 0.0 && o->k1 <= 100.0))
        return TR_ERROR(err, TR_E_INVAL, "bm25 k1 %g is not in [0, 100]",
                        o->k1);
    if (!(o->b >= 0.0 && o->b <= 1.0))
        return TR_ERROR(err, TR_E_INVAL, "bm25 b %g is not in [0, 1]",
                        o->b);
    if (!(o->title_weight > 0.0 && o->title_weight <= 100.0))
        return TR_ERROR(err, TR_E_INVAL,
                        "bm25 title weight %g is not in (0, 100]",
                        o->title_weight);
    if (memchr(o->stem_lang, '\0', sizeof(o->stem_lang)) == NULL)
        return TR_ERROR(err, TR_E_INVAL, "stemming language too long");
    return TR_OK;
}

struct tr_bm25 *
tr_bm25_new(const struct tr_bm25_opts *o, struct tr_error *err)
{
    struct tr_bm25 *ix;

    ix = calloc(1, sizeof(*ix));
    if (ix == NULL) {
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        return NULL;
    }
    if (o != NULL)
        ix->opts = *o;
    else
        tr_bm25_opts_default(&ix->opts);
    if (tr_bm25__opts_check(&ix->opts, err) != TR_OK)
        goto fail;
    ix->strs = tr_arena_new(64 * 1024);
    if (ix->strs == NULL) {
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        goto fail;
    }
    ix->tok = tr_bm25_tokenizer_new(ix->opts.stem_lang, err);
    if (ix->tok == NULL)
        goto fail;
    return ix;

fail:
    tr_arena_free(ix->strs);
    free(ix);
    return NULL;
}

void
tr_bm25_free(struct tr_bm25 *ix)
{
    if (ix == NULL)
        return;
    for (size_t i = 0; i < ix->n_terms; i++) {
        free(ix->terms[i].post);
        free(ix->terms[i].freq);
    }
    tr_arena_free(ix->strs);
    free(ix->terms);
    free(ix->slots);
    free(ix->ids);
    free(ix->lens);
    free(ix->tlens);
    tr_bm25_tokenizer_free(ix->tok);
    free(ix);
}

/* FNV-1a over the bytes of a term. */
static uint64_t
hash_term(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char) s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int64_t
tr_bm25__term_lookup(const struct tr_bm25 *ix, const char *s, size_t len)
{
    size_t mask, i;

    if (ix->n_slots == 0)
        return -1;
    mask = ix->n_slots - 1;
    for (i = hash_term(s, len) & mask;; i = (i + 1) & mask) {
        uint32_t v = ix->slots[i];
        const struct tr_bm25__term *t;

        if (v == 0)
            return -1;
        t = &ix->terms[v - 1];
        if (t->len == len && memcmp(t->str, s, len) == 0)
            return (int64_t) v - 1;
    }
}

/* Double the hash table and put every term back. */
static int
grow_slots(struct tr_bm25 *ix)
{
    size_t n = ix->n_slots ? ix->n_slots * 2 : 1024;
    uint32_t *slots = calloc(n, sizeof(*slots));

    if (slots == NULL)
        return -1;
    for (size_t t = 0; t < ix->n_terms; t++) {
        size_t i = hash_term(ix->terms[t].str, ix->terms[t].len) & (n - 1);

        while (slots[i] != 0)
            i = (i + 1) & (n - 1);
        slots[i] = (uint32_t) t + 1;
    }
    free(ix->slots);
    ix->slots = slots;
    ix->n_slots = n;
    return 0;
}

int64_t
tr_bm25__term_intern(struct tr_bm25 *ix, const char *s, size_t len)
{
    int64_t found = tr_bm25__term_lookup(ix, s, len);
    struct tr_bm25__term *t;
    size_t i;

    if (found >= 0)
        return found;

    /* Keep the table at most half full so probes stay short. */
    if ((ix->n_terms + 1) * 2 > ix->n_slots && grow_slots(ix) != 0)
        return -1;
    if (ix->n_terms == ix->cap_terms) {
        size_t cap = ix->cap_terms ? ix->cap_terms * 2 : 1024;
        void *p = realloc(ix->terms, cap * sizeof(*ix->terms));

        if (p == NULL)
            return -1;
        ix->terms = p;
        ix->cap_terms = cap;
    }
    t = &ix->terms[ix->n_terms];
    memset(t, 0, sizeof(*t));
    t->str = tr_arena_strndup(ix->strs, s, len);
    if (t->str == NULL)
        return -1;
    t->len = (uint32_t) len;

    for (i = hash_term(s, len) & (ix->n_slots - 1); ix->slots[i] != 0;
         i = (i + 1) & (ix->n_slots - 1))
        ;
    ix->slots[i] = (uint32_t) ix->n_terms + 1;
    return (int64_t) ix->n_terms++;
}

enum tr_err
tr_bm25__post_add(struct tr_bm25__term *t, uint32_t doc, float tf,
                  float tft)
{
    if (t->n_post == t->cap_post) {
        uint32_t cap = t->cap_post ? t->cap_post * 2 : 4;
        void *p = realloc(t->post, cap * sizeof(*t->post));

        if (p == NULL)
            return TR_E_NOMEM;
        t->post = p;
        p = realloc(t->freq, cap * sizeof(*t->freq));
        if (p == NULL)
            return TR_E_NOMEM;
        t->freq = p;
        t->cap_post = cap;
    }
    t->post[t->n_post].doc = doc;
    t->post[t->n_post].w = 0.0f;
    t->freq[t->n_post].tf = tf;
    t->freq[t->n_post].tft = tft;
    t->n_post++;
    return TR_OK;
}

/* State of the tokenizer callback while one chunk is added. */
struct add_ctx {
    struct tr_bm25 *ix;
    uint32_t doc;
    int in_title;
};

/*
 * Count one token of the chunk being added.  Chunks arrive in order, so
 * the chunk's posting, if any, is the term's last one.
 */
static enum tr_err
add_token(void *arg, const char *tok, size_t len)
{
    struct add_ctx *c = arg;
    struct tr_bm25__term *t;
    int64_t n;

    n = tr_bm25__term_intern(c->ix, tok, len);
    if (n < 0)
        return TR_E_NOMEM;
    t = &c->ix->terms[n];
    if (c->in_title)
        c->ix->tlens[c->doc] += 1.0f;
    else
        c->ix->lens[c->doc] += 1.0f;
    if (t->n_post == 0 || t->post[t->n_post - 1].doc != c->doc) {
        if (tr_bm25__post_add(t, c->doc, 0.0f, 0.0f) != TR_OK)
            return TR_E_NOMEM;
    }
    if (c->in_title)
        t->freq[t->n_post - 1].tft += 1.0f;
    else
        t->freq[t->n_post - 1].tf += 1.0f;
    return TR_OK;
}

/* Make room for one more chunk. */
static enum tr_err
reserve_doc(struct tr_bm25 *ix)
{
    size_t cap;
    void *p;

    if (ix->n_docs < ix->cap_docs)
        return TR_OK;
    if (ix->n_docs >= UINT32_MAX - 1)
        return TR_E_TOOBIG;
    cap = ix->cap_docs ? ix->cap_docs * 2 : 256;
    p = realloc(ix->ids, cap * sizeof(*ix->ids));
    if (p == NULL)
        return TR_E_NOMEM;
    ix->ids = p;
    p = realloc(ix->lens, cap * sizeof(*ix->lens));
    if (p == NULL)
        return TR_E_NOMEM;
    ix->lens = p;
    p = realloc(ix->tlens, cap * sizeof(*ix->tlens));
    if (p == NULL)
        return TR_E_NOMEM;
    ix->tlens = p;
    ix->cap_docs = cap;
    return TR_OK;
}

enum tr_err
tr_bm25_add(struct tr_bm25 *ix, int64_t id, const char *title,
            const char *text, struct tr_error *err)
{
    struct add_ctx c = {ix, 0, 0};
    enum tr_err rc;

    if (ix->built)
        return TR_ERROR(err, TR_E_CONFLICT,
                        "bm25 index is built, no chunk can be added");
    if (text == NULL)
        return TR_ERROR(err, TR_E_INVAL, "chunk %lld has no text",
                        (long long) id);
    rc = reserve_doc(ix);
    if (rc != TR_OK)
        return TR_ERROR(err, rc, "could not add chunk %lld",
                        (long long) id);

    c.doc = (uint32_t) ix->n_docs;
    ix->ids[c.doc] = id;
    ix->lens[c.doc] = 0.0f;
    ix->tlens[c.doc] = 0.0f;
    ix->n_docs++;

    /*
     * A failure half-way leaves postings of this chunk behind; the index
     * is then only fit for tr_bm25_free(), which the caller does anyway.
     */
    if (title != NULL) {
        c.in_title = 1;
        rc = tr_bm25_tokenize(ix->tok, title, add_token, &c);
    }
    c.in_title = 0;
    if (rc == TR_OK)
        rc = tr_bm25_tokenize(ix->tok, text, add_token, &c);
    if (rc != TR_OK)
        return TR_ERROR(err, rc, "could not index chunk %lld",
                        (long long) id);
    return TR_OK;
}

/* Length normalisation of a field of length `len`, average `avg`. */
static double
field_norm(double b, double len, double avg)
{
    return avg > 0.0 ? 1.0 - b + b * len / avg : 1.0;
}

/* Fold everything but the IDF into the weights of the postings of `t`. */
static void
weigh_postings(const struct tr_bm25 *ix, struct tr_bm25__term *t)
{
    double k1 = ix->opts.k1, b = ix->opts.b, tw = ix->opts.title_weight;

    for (uint32_t j = 0; j < t->n_post; j++) {
        const struct tr_bm25__freq *f = &t->freq[j];
        uint32_t d = t->post[j].doc;
        double tf = 0.0;

        if (f->tf > 0.0f)
            tf += f->tf / field_norm(b, ix->lens[d], ix->avgdl);
        if (f->tft > 0.0f)
            tf += tw * f->tft / field_norm(b, ix->tlens[d], ix->avgtl);
        t->post[j].w = (float) (tf * (k1 + 1.0) / (tf + k1));
    }
}

void
tr_bm25__finish(struct tr_bm25 *ix)
{
    double total = 0.0, ttotal = 0.0, n = (double) ix->n_docs;

    for (size_t d = 0; ix->lens != NULL && d < ix->n_docs; d++) {
        total += ix->lens[d];
        ttotal += ix->tlens[d];
    }
    ix->avgdl = ix->n_docs ? total / n : 0.0;
    ix->avgtl = ix->n_docs ? ttotal / n : 0.0;

    for (size_t i = 0; i < ix->n_terms; i++) {
        struct tr_bm25__term *t = &ix->terms[i];
        double df = t->n_post;

        t->idf = (float) log(1.0 + (n - df + 0.5) / (df + 0.5));
        if (t->freq != NULL)
            weigh_postings(ix, t);
        free(t->freq);
        t->freq = NULL;

        /* Doubling left room that a frozen index never uses. */
        if (t->cap_post > t->n_post) {
            void *p = realloc(t->post, t->n_post * sizeof(*t->post));

            if (p != NULL) {
                t->post = p;
                t->cap_post = t->n_post;
            }
        }
    }

    /* Lengths only serve the weights, which are now fixed. */
    free(ix->lens);
    free(ix->tlens);
    ix->lens = ix->tlens = NULL;
    ix->built = 1;
}

enum tr_err
tr_bm25_build(struct tr_bm25 *ix, struct tr_error *err)
{
    if (!ix->built)
        tr_bm25__finish(ix);
    return TR_OK;
}

size_t
tr_bm25_count(const struct tr_bm25 *ix)
{
    return ix->n_docs;
}

size_t
tr_bm25_n_terms(const struct tr_bm25 *ix)
{
    return ix->n_terms;
}

const struct tr_bm25_opts *
tr_bm25_opts_get(const struct tr_bm25 *ix)
{
    return &ix->opts;
}
