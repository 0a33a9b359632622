/*
 * text_blocks.c
 *      The block list: adding blocks with their text normalised, the
 *      article's plain text, and plain text input.
 *
 * Normalisation happens here, once, for every parser: invalid UTF-8
 * becomes U+FFFD, zero-width characters go, and outside code blocks every
 * run of white space (controls, no-break and Unicode spaces included)
 * becomes one space with none at either end.  Code keeps its lines and
 * indentation; only carriage returns, blank lines at the start and white
 * space at the end are dropped.
 *
 * A block list belongs to one thread at a time.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "text_int.h"

void
tr_text_blocks_init(struct tr_text_blocks *b)
{
    memset(b, 0, sizeof(*b));
}

void
tr_text_blocks_cleanup(struct tr_text_blocks *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->v[i].text);
    free(b->v);
    memset(b, 0, sizeof(*b));
}

/*
 * Append the UTF-8 form of `cp` at `out` and return the bytes written.
 */
static size_t
put_cp(char *out, int32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char) cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char) (0xC0 | (cp >> 6));
        out[1] = (char) (0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char) (0xE0 | (cp >> 12));
        out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char) (0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char) (0xF0 | (cp >> 18));
    out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char) (0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Collapse white space of prose into `out` (room for 3 * len + 1) and
 * return the length written.
 */
static size_t
normalize_prose(const char *s, size_t len, char *out)
{
    size_t i = 0, o = 0;
    int space = 0;

    while (i < len) {
        int32_t cp = tr_text__utf8_next(s, len, &i);

        if (cp == 0x200B || cp == 0xFEFF || cp == 0xAD)
            continue;
        if (tr_text__is_space(cp)) {
            space = o > 0;
            continue;
        }
        if (space)
            out[o++] = ' ';
        space = 0;
        o += put_cp(out + o, cp < 0 ? 0xFFFD : cp);
    }
    return o;
}

/*
 * Clean code text into `out` (room for 3 * len + 1), keeping lines and
 * indentation, and return the length written.
 */
static size_t
normalize_code(const char *s, size_t len, char *out)
{
    size_t i = 0, o = 0, line_start = 0;

    while (i < len) {
        int32_t cp = tr_text__utf8_next(s, len, &i);

        if (cp == '\r') {
            if (i < len && s[i] == '\n')
                continue;
            cp = '\n';
        }
        if (cp == '\n') {
            /* Drop blank lines before the first line with content. */
            if (o == line_start && line_start == 0)
                continue;
            out[o++] = '\n';
            line_start = o;
            continue;
        }
        if (cp == 0x200B || cp == 0xFEFF)
            continue;
        if (cp >= 0 && cp < 0x20 && cp != '\t')
            cp = ' ';
        o += put_cp(out + o, cp < 0 ? 0xFFFD : cp);
    }

    /* An all-blank first line with content later is still blank. */
    while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'
                     || out[o - 1] == '\n'))
        o--;
    return o;
}

enum tr_err
tr_text_blocks_add(struct tr_text_blocks *b, enum tr_text_kind kind,
                   int level, const char *text, size_t len)
{
    char *clean;
    size_t n;

    if (len > TR_TEXT_INPUT_MAX)
        return TR_E_TOOBIG;
    clean = malloc(3 * len + 1);
    if (clean == NULL)
        return TR_E_NOMEM;

    n = kind == TR_TEXT_CODE ? normalize_code(text, len, clean)
                             : normalize_prose(text, len, clean);
    if (n == 0) {
        free(clean);
        return TR_OK;
    }
    clean[n] = '\0';

    if (b->n == b->cap) {
        size_t cap = b->cap == 0 ? 16 : b->cap * 2;
        struct tr_text_block *v = realloc(b->v, cap * sizeof(*v));

        if (v == NULL) {
            free(clean);
            return TR_E_NOMEM;
        }
        b->v = v;
        b->cap = cap;
    }

    /* Shrink the worst-case allocation to what the text needs. */
    char *fit = realloc(clean, n + 1);
    b->v[b->n].kind = kind;
    b->v[b->n].level = level;
    b->v[b->n].text = fit != NULL ? fit : clean;
    b->v[b->n].text_len = n;
    b->n++;
    return TR_OK;
}

enum tr_err
tr_text_blocks_plain(const struct tr_text_blocks *b, char **out,
                     size_t *out_len, struct tr_error *err)
{
    size_t total = 0, o = 0;
    char *p;

    for (size_t i = 0; i < b->n; i++)
        total += b->v[i].text_len + (i > 0 ? TR_TEXT_SEP_LEN : 0);

    p = malloc(total + 1);
    if (p == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");

    for (size_t i = 0; i < b->n; i++) {
        if (i > 0) {
            memcpy(p + o, TR_TEXT_SEP, TR_TEXT_SEP_LEN);
            o += TR_TEXT_SEP_LEN;
        }
        memcpy(p + o, b->v[i].text, b->v[i].text_len);
        o += b->v[i].text_len;
    }
    p[o] = '\0';

    *out = p;
    if (out_len != NULL)
        *out_len = o;
    return TR_OK;
}

/*
 * Return whether s[start, end) holds only white space.
 */
static int
blank(const char *s, size_t start, size_t end)
{
    for (size_t i = start; i < end; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f'
            && s[i] != '\v')
            return 0;
    return 1;
}

enum tr_err
tr_text_from_plain(const char *txt, size_t len, struct tr_text_blocks *out,
                   struct tr_error *err)
{
    size_t para = 0, i = 0;
    enum tr_err rc;

    if (len > TR_TEXT_INPUT_MAX)
        return TR_ERROR(err, TR_E_TOOBIG, "text of %zu bytes is too large",
                        len);

    /* A paragraph ends at a line that is empty or only white space. */
    while (i <= len) {
        size_t nl = i;

        while (nl < len && txt[nl] != '\n')
            nl++;
        if (nl == len || blank(txt, i, nl)) {
            size_t end = nl == len ? len : i;

            if (end > para) {
                rc = tr_text_blocks_add(out, TR_TEXT_PARAGRAPH, 0,
                                        txt + para, end - para);
                if (rc != TR_OK)
                    return TR_ERROR(err, rc, "could not add paragraph");
            }
            para = nl + 1;
        }
        i = nl + 1;
    }
    return TR_OK;
}
