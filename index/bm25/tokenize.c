/*
 * tokenize.c
 *      Word tokenizer of the BM25 index: lower-case, split, stem.
 *
 * A word is a run of ASCII letters and digits and of non-ASCII letters
 * (decoded from UTF-8; punctuation, symbols, spaces and emoji of the
 * upper planes split words like ASCII punctuation does).  ASCII, Latin-1,
 * Greek and Cyrillic capitals are lower-cased.  When a Snowball language
 * is set every word is stemmed.  A tokenizer belongs to one thread
 * because the Snowball stemmer keeps state.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include <libstemmer.h>

#include "bm25.h"

struct tr_bm25_tokenizer {
    struct sb_stemmer *stemmer;
};

struct tr_bm25_tokenizer *
tr_bm25_tokenizer_new(const char *stem_lang, struct tr_error *err)
{
    struct tr_bm25_tokenizer *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        TR_ERROR(err, TR_E_NOMEM, "out of memory");
        return NULL;
    }
    if (stem_lang == NULL || stem_lang[0] == '\0')
        return t;

    /* libstemmer answers NULL both for a bad name and for no memory. */
    t->stemmer = sb_stemmer_new(stem_lang, "UTF_8");
    if (t->stemmer == NULL) {
        free(t);
        TR_ERROR(err, TR_E_INVAL, "unknown stemming language \"%s\"",
                 stem_lang);
        return NULL;
    }
    return t;
}

void
tr_bm25_tokenizer_free(struct tr_bm25_tokenizer *t)
{
    if (t == NULL)
        return;
    if (t->stemmer != NULL)
        sb_stemmer_delete(t->stemmer);
    free(t);
}

/*
 * Decode one UTF-8 sequence at `s`; store the code point in `*cp` and
 * return its byte length, or 1 with *cp = 0 for an invalid byte.
 */
static size_t
decode_utf8(const unsigned char *s, uint32_t *cp)
{
    size_t n, i;
    uint32_t c;

    if (s[0] < 0xc2 || s[0] > 0xf4) {
        *cp = 0;
        return 1;
    }
    n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
    c = s[0] & (0x3f >> (n - 1));
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = 0;
            return 1;
        }
        c = (c << 6) | (s[i] & 0x3f);
    }
    *cp = c;
    return n;
}

/*
 * Whether the non-ASCII code point `c` belongs inside a word.  Without a
 * Unicode table we exclude the blocks that hold spaces, punctuation and
 * symbols and take the rest as letters.
 */
static int
is_word_cp(uint32_t c)
{
    if (c < 0xc0 || c == 0xd7 || c == 0xf7)
        return 0;
    if (c >= 0x2000 && c <= 0x2bff)
        return 0;
    if ((c >= 0x3000 && c <= 0x303f) || (c >= 0xe000 && c <= 0xf8ff))
        return 0;
    if ((c >= 0xfe00 && c <= 0xfe0f) || (c >= 0xff00 && c <= 0xff0f))
        return 0;
    return c != 0xfeff && c < 0x1f000;
}

/* Lower-case the capitals of Latin-1, Greek and Cyrillic. */
static uint32_t
lower_cp(uint32_t c)
{
    if (c >= 0xc0 && c <= 0xde && c != 0xd7)
        return c + 0x20;
    if (c >= 0x391 && c <= 0x3a9)
        return c + 0x20;
    if (c >= 0x410 && c <= 0x42f)
        return c + 0x20;
    if (c >= 0x400 && c <= 0x40f)
        return c + 0x50;
    return c;
}

/* Append code point `c` to `w` (room for 4 more bytes assumed). */
static size_t
encode_utf8(uint32_t c, char *w)
{
    if (c < 0x800) {
        w[0] = (char) (0xc0 | (c >> 6));
        w[1] = (char) (0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        w[0] = (char) (0xe0 | (c >> 12));
        w[1] = (char) (0x80 | ((c >> 6) & 0x3f));
        w[2] = (char) (0x80 | (c & 0x3f));
        return 3;
    }
    w[0] = (char) (0xf0 | (c >> 18));
    w[1] = (char) (0x80 | ((c >> 12) & 0x3f));
    w[2] = (char) (0x80 | ((c >> 6) & 0x3f));
    w[3] = (char) (0x80 | (c & 0x3f));
    return 4;
}

/* Stem the word in `w` if a stemmer is set, then hand it to `fn`. */
static enum tr_err
emit_word(struct tr_bm25_tokenizer *t, const char *w, size_t len,
          tr_bm25_token_fn fn, void *ctx)
{
    const sb_symbol *st;

    if (t->stemmer == NULL)
        return fn(ctx, w, len);
    st = sb_stemmer_stem(t->stemmer, (const sb_symbol *) w, (int) len);
    if (st == NULL)
        return TR_E_NOMEM;
    return fn(ctx, (const char *) st,
              (size_t) sb_stemmer_length(t->stemmer));
}

enum tr_err
tr_bm25_tokenize(struct tr_bm25_tokenizer *t, const char *text,
                 tr_bm25_token_fn fn, void *ctx)
{
    const unsigned char *p = (const unsigned char *) text;
    char w[TR_BM25_TOKEN_MAX + 4];
    size_t len = 0;
    enum tr_err rc;

    for (;;) {
        uint32_t c = *p;
        size_t n = 1;
        int in_word;

        if (c >= 0x80) {
            n = decode_utf8(p, &c);
            in_word = is_word_cp(c);
        } else {
            in_word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                      || (c >= '0' && c <= '9');
        }

        /* Letters go into the word; over-long words are cut. */
        if (in_word) {
            if (c < 0x80) {
                if (len < TR_BM25_TOKEN_MAX)
                    w[len++] = (char) (c >= 'A' && c <= 'Z' ? c + 32 : c);
            } else if (len + 4 <= TR_BM25_TOKEN_MAX) {
                len += encode_utf8(lower_cp(c), w + len);
            }
            p += n;
            continue;
        }

        /* Anything else ends the current word. */
        if (len > 0) {
            rc = emit_word(t, w, len, fn, ctx);
            if (rc != TR_OK)
                return rc;
            len = 0;
        }
        if (*p == '\0')
            return TR_OK;
        p += n;
    }
}
