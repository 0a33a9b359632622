/*
 * bm25_io.c
 *      Serialization of a built BM25 index to a byte buffer and back.
 *
 * Layout, host byte order: the magic "TRBM25", a 16-bit version, the
 * settings (k1, b and title weight as doubles, the stemming language in
 * TR_BM25_LANG_MAX bytes), the counts of chunks, terms and postings as
 * 64-bit integers and the chunk ids (int64), then each term as its byte
 * length (u32), bytes and posting count (u32) followed by its postings
 * (u32 chunk number, float weight).  Version 2, still read, also had
 * the chunks' text and title lengths (float) after the ids, and each
 * posting held its two field frequencies (float) instead of the weight,
 * which loading then computes.  Loading checks every count and number
 * against the buffer and the index, so a damaged buffer is refused
 * instead of read out of bounds.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bm25_int.h"

#define BM25_MAGIC "TRBM25"
#define BM25_VERSION 3

struct reader {
    const unsigned char *p;
    size_t left;
};

/* Copy `n` bytes from the reader into `dst`; -1 when too few are left. */
static int
take(struct reader *r, void *dst, size_t n)
{
    if (r->left < n)
        return -1;
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
    return 0;
}

enum tr_err
tr_bm25_save(const struct tr_bm25 *ix, struct tr_buf *out,
             struct tr_error *err)
{
    uint16_t version = BM25_VERSION;
    uint64_t counts[3] = {ix->n_docs, ix->n_terms, 0};
    enum tr_err rc;

    if (!ix->built)
        return TR_ERROR(err, TR_E_CONFLICT, "bm25 index is not built");
    for (size_t i = 0; i < ix->n_terms; i++)
        counts[2] += ix->terms[i].n_post;

    rc = tr_buf_append(out, BM25_MAGIC, 6);
    if (rc == TR_OK)
        rc = tr_buf_append(out, &version, sizeof(version));
    if (rc == TR_OK)
        rc = tr_buf_append(out, &ix->opts.k1, sizeof(double));
    if (rc == TR_OK)
        rc = tr_buf_append(out, &ix->opts.b, sizeof(double));
    if (rc == TR_OK)
        rc = tr_buf_append(out, &ix->opts.title_weight, sizeof(double));
    if (rc == TR_OK)
        rc = tr_buf_append(out, ix->opts.stem_lang, TR_BM25_LANG_MAX);
    if (rc == TR_OK)
        rc = tr_buf_append(out, counts, sizeof(counts));
    if (rc == TR_OK)
        rc = tr_buf_append(out, ix->ids, ix->n_docs * sizeof(*ix->ids));

    for (size_t i = 0; i < ix->n_terms && rc == TR_OK; i++) {
        const struct tr_bm25__term *t = &ix->terms[i];

        rc = tr_buf_append(out, &t->len, sizeof(t->len));
        if (rc == TR_OK)
            rc = tr_buf_append(out, t->str, t->len);
        if (rc == TR_OK)
            rc = tr_buf_append(out, &t->n_post, sizeof(t->n_post));
        if (rc == TR_OK)
            rc = tr_buf_append(out, t->post, t->n_post * sizeof(*t->post));
    }
    if (rc != TR_OK)
        return TR_ERROR(err, rc, "could not serialize the bm25 index");
    return TR_OK;
}

/*
 * Read the fixed header into `o`, `counts` and `version`; -1 when
 * malformed or of a version this code does not read.
 */
static int
read_header(struct reader *r, struct tr_bm25_opts *o, uint64_t counts[3],
            uint16_t *version)
{
    char magic[6];

    if (take(r, magic, 6) != 0 || memcmp(magic, BM25_MAGIC, 6) != 0)
        return -1;
    if (take(r, version, sizeof(*version)) != 0 || *version < 2
        || *version > BM25_VERSION)
        return -1;
    memset(o, 0, sizeof(*o));
    if (take(r, &o->k1, sizeof(double)) != 0
        || take(r, &o->b, sizeof(double)) != 0
        || take(r, &o->title_weight, sizeof(double)) != 0
        || take(r, o->stem_lang, TR_BM25_LANG_MAX) != 0
        || take(r, counts, 3 * sizeof(uint64_t)) != 0)
        return -1;

    /* Each chunk needs 8 or 16 bytes and each term at least 9. */
    if (counts[0] > r->left / (*version == 2 ? 16 : 8)
        || counts[1] > r->left / 9
        || counts[2] > r->left / (*version == 2 ? 12 : 8))
        return -1;
    return 0;
}

/* Read the `n_post` version 2 postings of `t`: frequencies. */
static int
read_freqs(struct reader *r, struct tr_bm25 *ix, struct tr_bm25__term *t,
           uint32_t n_post)
{
    uint32_t prev = 0;

    for (uint32_t j = 0; j < n_post; j++) {
        uint32_t doc;
        float tf, tft;

        if (take(r, &doc, sizeof(doc)) != 0 || take(r, &tf, sizeof(tf)) != 0
            || take(r, &tft, sizeof(tft)) != 0)
            return -1;
        if (doc >= ix->n_docs || (j > 0 && doc <= prev) || !(tf >= 0.0f)
            || !(tft >= 0.0f) || !(tf + tft > 0.0f))
            return -1;
        if (tr_bm25__post_add(t, doc, tf, tft) != TR_OK)
            return -1;
        prev = doc;
    }
    return 0;
}

/* Read the `n_post` postings of `t` with their weights, in one array. */
static int
read_weights(struct reader *r, struct tr_bm25 *ix, struct tr_bm25__term *t,
             uint32_t n_post)
{
    t->post = malloc(n_post * sizeof(*t->post));
    if (t->post == NULL || take(r, t->post, n_post * sizeof(*t->post)) != 0)
        return -1;
    t->n_post = t->cap_post = n_post;
    for (uint32_t j = 0; j < n_post; j++) {
        const struct tr_bm25__post *p = &t->post[j];

        if (p->doc >= ix->n_docs || (j > 0 && p->doc <= t->post[j - 1].doc)
            || !(p->w > 0.0f) || !isfinite(p->w))
            return -1;
    }
    return 0;
}

/* Read one term and its postings into `ix`; -1 when malformed. */
static int
read_term(struct reader *r, struct tr_bm25 *ix, uint16_t version,
          uint64_t *n_post_left)
{
    char s[TR_BM25_TOKEN_MAX + 4];
    uint32_t len, n_post;
    int64_t n;

    if (take(r, &len, sizeof(len)) != 0 || len == 0
        || len > TR_BM25_TOKEN_MAX || take(r, s, len) != 0)
        return -1;
    if (tr_bm25__term_lookup(ix, s, len) >= 0)
        return -1;
    n = tr_bm25__term_intern(ix, s, len);
    if (n < 0 || take(r, &n_post, sizeof(n_post)) != 0 || n_post == 0
        || n_post > *n_post_left || n_post > ix->n_docs)
        return -1;
    *n_post_left -= n_post;

    /* Postings must name existing chunks in increasing order. */
    if (version == 2)
        return read_freqs(r, ix, &ix->terms[n], n_post);
    return read_weights(r, ix, &ix->terms[n], n_post);
}

/* Read the chunk ids, and the lengths of version 2; -1 when malformed. */
static int
read_docs(struct reader *r, struct tr_bm25 *ix, uint16_t version)
{
    size_t n = ix->n_docs;

    ix->ids = malloc((n + 1) * sizeof(*ix->ids));
    if (ix->ids == NULL || take(r, ix->ids, n * sizeof(*ix->ids)) != 0)
        return -1;
    if (version > 2)
        return 0;
    ix->lens = malloc((n + 1) * sizeof(*ix->lens));
    ix->tlens = malloc((n + 1) * sizeof(*ix->tlens));
    if (ix->lens == NULL || ix->tlens == NULL
        || take(r, ix->lens, n * sizeof(*ix->lens)) != 0
        || take(r, ix->tlens, n * sizeof(*ix->tlens)) != 0)
        return -1;
    for (size_t d = 0; d < n; d++)
        if (!(ix->lens[d] >= 0.0f) || !(ix->tlens[d] >= 0.0f))
            return -1;
    return 0;
}

struct tr_bm25 *
tr_bm25_load(const void *data, size_t len, struct tr_error *err)
{
    struct reader r = {data, len};
    struct tr_bm25_opts o;
    uint64_t counts[3];
    uint16_t version = 0;
    struct tr_bm25 *ix = NULL;

    if (data == NULL || read_header(&r, &o, counts, &version) != 0)
        goto bad;
    if (tr_bm25__opts_check(&o, NULL) != TR_OK)
        goto bad;
    ix = tr_bm25_new(&o, err);
    if (ix == NULL)
        return NULL;

    ix->n_docs = ix->cap_docs = counts[0];
    if (read_docs(&r, ix, version) != 0)
        goto bad;
    for (uint64_t i = 0; i < counts[1]; i++)
        if (read_term(&r, ix, version, &counts[2]) != 0)
            goto bad;
    if (counts[2] != 0 || r.left != 0)
        goto bad;
    tr_bm25__finish(ix);
    return ix;

bad:
    tr_bm25_free(ix);
    TR_ERROR(err, TR_E_PARSE, "bm25 index data is damaged or of another "
             "version");
    return NULL;
}
