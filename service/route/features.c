/*
 * features.c
 *      From text to the router's sparse feature vectors.
 *
 * Words are maximal runs of ASCII letters and digits and of non-ASCII
 * bytes (so any UTF-8 letter stays inside its word), lower-cased in
 * ASCII.  Each word gives a unigram, each pair of neighbours a bigram,
 * each run of three a trigram (when asked for), and each word padded
 * with one space on both sides gives its character n-grams, counted in
 * code points so that no n-gram splits a UTF-8 sequence.  Everything is
 * hashed to 64 bits; the kind of feature sits in the top two bits so
 * that kinds never collide.  Pure functions, safe from any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "route_int.h"

/* Longest word that gets character n-grams, in bytes. */
#define WORD_MAX 64

struct hash_list {
    uint64_t **hashes;
    size_t *n;
    size_t *cap;
};

static uint64_t
hash_bytes(const char *s, size_t len, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }

    /* FNV alone mixes the last bytes poorly; finish like splitmix64. */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

static uint64_t
with_kind(uint64_t h, unsigned kind)
{
    h &= ~(3ULL << TR_ROUTE_KIND_SHIFT);
    return h | ((uint64_t)kind << TR_ROUTE_KIND_SHIFT);
}

static enum tr_err
push(struct hash_list *l, uint64_t h)
{
    if (*l->n == *l->cap) {
        size_t cap = *l->cap ? *l->cap * 2 : 256;
        uint64_t *p = realloc(*l->hashes, cap * sizeof(*p));

        if (p == NULL)
            return TR_E_NOMEM;
        *l->hashes = p;
        *l->cap = cap;
    }
    (*l->hashes)[(*l->n)++] = h;
    return TR_OK;
}

static int
is_word_byte(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
           || (c >= 'A' && c <= 'Z');
}

/*
 * Character n-grams of one lower-cased word, padded with spaces.  Code
 * point starts are found first; an n-gram runs from one start to the
 * start n code points later.
 */
static enum tr_err
char_ngrams(const struct tr_route__fspec *spec, const char *word,
            size_t len, struct hash_list *l)
{
    char pad[WORD_MAX + 2];
    size_t starts[WORD_MAX + 3];
    size_t n_cp = 0;
    enum tr_err rc;

    if (len > WORD_MAX)
        len = WORD_MAX;
    pad[0] = ' ';
    memcpy(pad + 1, word, len);
    pad[len + 1] = ' ';
    for (size_t i = 0; i < len + 2; i++)
        if (((unsigned char)pad[i] & 0xc0) != 0x80)
            starts[n_cp++] = i;
    starts[n_cp] = len + 2;

    for (int n = spec->char_min; n > 0 && n <= spec->char_max; n++) {
        if ((size_t)n > n_cp)
            break;
        for (size_t i = 0; i + (size_t)n <= n_cp; i++) {
            size_t from = starts[i], to = starts[i + (size_t)n];
            uint64_t h = hash_bytes(pad + from, to - from, (uint64_t)n);

            rc = push(l, with_kind(h, TR_ROUTE_KIND_CHAR));
            if (rc != TR_OK)
                return rc;
        }
    }
    return TR_OK;
}

enum tr_err
tr_route__hashes(const struct tr_route__fspec *spec, const char *text,
                 size_t len, uint64_t **hashes, size_t *n, size_t *cap)
{
    struct hash_list l = {hashes, n, cap};
    char word[WORD_MAX];
    uint64_t prev = 0, prev2 = 0;
    int have_prev = 0;
    size_t i = 0;
    enum tr_err rc;

    if (len > TR_ROUTE_TEXT_MAX)
        len = TR_ROUTE_TEXT_MAX;
    while (i < len) {
        size_t start, wlen;
        uint64_t h;

        if (!is_word_byte((unsigned char)text[i])) {
            i++;
            continue;
        }

        /* Copy the word lower-cased; an overlong one is cut. */
        start = i;
        while (i < len && is_word_byte((unsigned char)text[i]))
            i++;
        wlen = i - start < WORD_MAX ? i - start : WORD_MAX;
        for (size_t j = 0; j < wlen; j++) {
            char c = text[start + j];

            word[j] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }

        h = hash_bytes(word, wlen, 0x77);
        rc = push(&l, with_kind(h, TR_ROUTE_KIND_WORD1));
        if (rc == TR_OK && have_prev && spec->word_ngrams >= 2)
            rc = push(&l, with_kind(prev * 0x9e3779b97f4a7c15ULL ^ h,
                                    TR_ROUTE_KIND_WORD2));

        /* Trigrams share the bigram kind; their mixing differs. */
        if (rc == TR_OK && have_prev > 1 && spec->word_ngrams >= 3)
            rc = push(&l, with_kind((prev2 * 0xc2b2ae3d27d4eb4fULL
                                     ^ prev) * 0x9e3779b97f4a7c15ULL ^ h,
                                    TR_ROUTE_KIND_WORD2));
        if (rc == TR_OK && spec->char_min > 0)
            rc = char_ngrams(spec, word, wlen, &l);
        if (rc != TR_OK)
            return rc;
        prev2 = prev;
        prev = h;
        have_prev++;
    }
    return TR_OK;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

static long
find_key(const struct tr_route_model *m, uint64_t h)
{
    size_t lo = 0, hi = m->n_feat;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (m->keys[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < m->n_feat && m->keys[lo] == h) ? (long)lo : -1;
}

static enum tr_err
vec_reserve(struct tr_route__vec *v, size_t need)
{
    uint32_t *idx;
    float *val;

    if (need <= v->cap)
        return TR_OK;
    idx = realloc(v->idx, need * sizeof(*idx));
    if (idx == NULL)
        return TR_E_NOMEM;
    v->idx = idx;
    val = realloc(v->val, need * sizeof(*val));
    if (val == NULL)
        return TR_E_NOMEM;
    v->val = val;
    v->cap = need;
    return TR_OK;
}

/*
 * Scale the word block and the character block to unit length each,
 * weight them by the square roots of their shares, and bring the whole
 * vector to unit length (which only matters when a block is empty).
 * `unseen` holds each block's squared weight of the features that are
 * not in the vocabulary: they count in the lengths though they have no
 * row, so a text made mostly of unseen n-grams keeps short known parts
 * and scores low.
 */
static void
normalise(const struct tr_route_model *m, struct tr_route__vec *v,
          const double *unseen)
{
    double sq[2] = {unseen[0], unseen[1]}, scale[2], total;
    double cw = m->spec.char_weight;

    for (size_t i = 0; i < v->n; i++) {
        int c = (m->keys[v->idx[i]] >> TR_ROUTE_KIND_SHIFT)
                == TR_ROUTE_KIND_CHAR;

        sq[c] += (double)v->val[i] * v->val[i];
    }
    scale[0] = sq[0] > 0 ? sqrt((1.0 - cw) / sq[0]) : 0;
    scale[1] = sq[1] > 0 ? sqrt(cw / sq[1]) : 0;
    total = sq[0] * scale[0] * scale[0] + sq[1] * scale[1] * scale[1];
    if (total <= 0)
        return;
    scale[0] /= sqrt(total);
    scale[1] /= sqrt(total);
    for (size_t i = 0; i < v->n; i++) {
        int c = (m->keys[v->idx[i]] >> TR_ROUTE_KIND_SHIFT)
                == TR_ROUTE_KIND_CHAR;

        v->val[i] = (float)(v->val[i] * scale[c]);
    }
}

enum tr_err
tr_route__vectorize(const struct tr_route_model *m, uint64_t *hashes,
                    size_t n_hashes, struct tr_route__vec *v)
{
    double unseen[2] = {0, 0};
    enum tr_err rc;

    v->n = 0;
    qsort(hashes, n_hashes, sizeof(*hashes), cmp_u64);
    rc = vec_reserve(v, n_hashes);
    if (rc != TR_OK)
        return rc;

    /* Equal hashes are neighbours now: count each run once. */
    for (size_t i = 0; i < n_hashes;) {
        size_t j = i;
        double tf;
        long f;

        while (j < n_hashes && hashes[j] == hashes[i])
            j++;
        tf = 1.0 + log((double)(j - i));
        f = find_key(m, hashes[i]);
        if (f >= 0) {
            v->idx[v->n] = (uint32_t)f;
            v->val[v->n] = (float)(tf * m->idf[f]);
            v->n++;
        } else {
            double x = tf * m->spec.idf_unseen;
            int c = (hashes[i] >> TR_ROUTE_KIND_SHIFT) == TR_ROUTE_KIND_CHAR;

            unseen[c] += x * x;
        }
        i = j;
    }
    normalise(m, v, unseen);
    return TR_OK;
}

void
tr_route__scores(const struct tr_route_model *m,
                 const struct tr_route__vec *v, double *scores)
{
    size_t k_n = m->n_classes;

    for (size_t k = 0; k < k_n; k++)
        scores[k] = m->bias[k];
    for (size_t i = 0; i < v->n; i++) {
        const float *row = m->w + (size_t)v->idx[i] * k_n;
        double x = v->val[i];

        for (size_t k = 0; k < k_n; k++)
            scores[k] += x * row[k];
    }
}

void
tr_route__softmax(const double *scores, size_t n, double t, double *probs)
{
    double max = scores[0], sum = 0;

    for (size_t k = 1; k < n; k++)
        if (scores[k] > max)
            max = scores[k];
    for (size_t k = 0; k < n; k++) {
        probs[k] = exp((scores[k] - max) / t);
        sum += probs[k];
    }
    for (size_t k = 0; k < n; k++)
        probs[k] /= sum;
}

void
tr_route__vec_cleanup(struct tr_route__vec *v)
{
    free(v->idx);
    free(v->val);
    v->idx = NULL;
    v->val = NULL;
    v->n = v->cap = 0;
}
