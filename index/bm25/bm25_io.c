/*
 * bm25_io.c
 *      Serialization of a built BM25 index to a byte buffer and back.
 *
 * Layout, host byte order: the magic "TRBM25", a 16-bit version, the
 * settings (k1, b and title weight as doubles, the stemming language in
 * TR_BM25_LANG_MAX bytes), the counts of chunks, terms and postings as
 * 64-bit integers, the chunk ids (int64) and lengths (float), then each
 * term as its byte length (u32), bytes and posting count (u32) followed
 * by its postings (u32 chunk number, float frequency).  Loading checks
 * every count and number against the buffer and the index, so a damaged
 * buffer is refused instead of read out of bounds.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "bm25_int.h"

#define BM25_MAGIC "TRBM25"
#define BM25_VERSION 2

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
    if (rc == TR_OK)
        rc = tr_buf_append(out, ix->lens, ix->n_docs * sizeof(*ix->lens));
    if (rc == TR_OK)
        rc = tr_buf_append(out, ix->tlens,
                           ix->n_docs * sizeof(*ix->tlens));

    for (size_t i = 0; i < ix->n_terms && rc == TR_OK; i++) {
        const struct tr_bm25__term *t = &ix->terms[i];

        rc = tr_buf_append(out, &t->len, sizeof(t->len));
        if (rc == TR_OK)
            rc = tr_buf_append(out, t->str, t->len);
        if (rc == TR_OK)
            rc = tr_buf_append(out, &t->n_post, sizeof(t->n_post));
        for (uint32_t j = 0; j < t->n_post && rc == TR_OK; j++) {
            rc = tr_buf_append(out, &t->post[j].doc, sizeof(uint32_t));
            if (rc == TR_OK)
                rc = tr_buf_append(out, &t->post[j].tf, sizeof(float));
            if (rc == TR_OK)
                rc = tr_buf_append(out, &t->post[j].tft, sizeof(float));
        }
    }
    if (rc != TR_OK)
        return TR_ERROR(err, rc, "could not serialize the bm25 index");
    return TR_OK;
}

/* Read the fixed header into `o` and `counts`; -1 when malformed. */
static int
read_header(struct reader *r, struct tr_bm25_opts *o, uint64_t counts[3])
{
    char magic[6];
    uint16_t version;

    if (take(r, magic, 6) != 0 || memcmp(magic, BM25_MAGIC, 6) != 0)
        return -1;
    if (take(r, &version, sizeof(version)) != 0 || version != BM25_VERSION)
        return -1;
    memset(o, 0, sizeof(*o));
    if (take(r, &o->k1, sizeof(double)) != 0
        || take(r, &o->b, sizeof(double)) != 0
        || take(r, &o->title_weight, sizeof(double)) != 0
        || take(r, o->stem_lang, TR_BM25_LANG_MAX) != 0
        || take(r, counts, 3 * sizeof(uint64_t)) != 0)
        return -1;

    /* Each chunk needs 16 bytes and each term at least 9. */
    if (counts[0] > r->left / 16 || counts[1] > r->left / 9
        || counts[2] > r->left / 12)
        return -1;
    return 0;
}

/* Read one term and its postings into `ix`; -1 when malformed. */
static int
read_term(struct reader *r, struct tr_bm25 *ix, uint64_t *n_post_left)
{
    char s[TR_BM25_TOKEN_MAX + 4];
    uint32_t len, n_post, prev = 0;
    struct tr_bm25__term *t;
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
    t = &ix->terms[n];

    /* Postings must name existing chunks in increasing order. */
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

struct tr_bm25 *
tr_bm25_load(const void *data, size_t len, struct tr_error *err)
{
    struct reader r = {data, len};
    struct tr_bm25_opts o;
    uint64_t counts[3];
    struct tr_bm25 *ix = NULL;

    if (data == NULL || read_header(&r, &o, counts) != 0)
        goto bad;
    if (tr_bm25__opts_check(&o, NULL) != TR_OK)
        goto bad;
    ix = tr_bm25_new(&o, err);
    if (ix == NULL)
        return NULL;

    ix->n_docs = ix->cap_docs = counts[0];
    ix->ids = malloc((counts[0] + 1) * sizeof(*ix->ids));
    ix->lens = malloc((counts[0] + 1) * sizeof(*ix->lens));
    ix->tlens = malloc((counts[0] + 1) * sizeof(*ix->tlens));
    if (ix->ids == NULL || ix->lens == NULL || ix->tlens == NULL)
        goto bad;
    if (take(&r, ix->ids, counts[0] * sizeof(*ix->ids)) != 0
        || take(&r, ix->lens, counts[0] * sizeof(*ix->lens)) != 0
        || take(&r, ix->tlens, counts[0] * sizeof(*ix->tlens)) != 0)
        goto bad;
    for (size_t d = 0; d < ix->n_docs; d++)
        if (!(ix->lens[d] >= 0.0f) || !(ix->tlens[d] >= 0.0f))
            goto bad;

    for (uint64_t i = 0; i < counts[1]; i++)
        if (read_term(&r, ix, &counts[2]) != 0)
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
