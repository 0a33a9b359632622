/*
 * draft_split.c
 *      Cutting passage text into units: blocks, list items and
 *      sentences.
 *
 * Passage text is the plain text of index/text: blocks joined by blank
 * lines, list items starting with their marker.  A block that starts
 * with a marker is one unit however many sentences it holds, so a step
 * is never cut in two.  Other blocks are cut into sentences at a full
 * stop, question or exclamation mark followed by a space and a word
 * that does not start in lower case; a full stop after a known
 * abbreviation, a single letter or a one- or two-digit number (German
 * ordinals, "am 3. Mai") ends nothing.  A short block without end
 * punctuation is a heading.
 *
 * Pure functions on the caller's buffers; any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "draft_int.h"

/* Words below which a block without end punctuation is a heading. */
#define HEAD_WORDS 10

/* Abbreviations whose full stop ends no sentence, lowercase. */
static const char *const abbrevs[] = {
    "e.g", "i.e", "z.b", "d.h", "u.a", "bzw", "ca", "dr", "mr", "mrs",
    "ms", "nr", "no", "vs", "p.ex", "inkl", "ggf", "evtl", "sr", "sra",
    "st", "vgl", "approx", "resp", "cf",
};

/* ASCII whitespace; the text is UTF-8 but every break is ASCII. */
static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
           || c == '\v';
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the list marker at s[0..len) with its space, 0 if none. */
static size_t
marker_len(const char *s, size_t len)
{
    size_t i = 0;

    if (len >= 2 && (s[0] == '-' || s[0] == '*') && s[1] == ' ')
        return 2;
    if (len >= 4 && memcmp(s, "\xE2\x80\xA2 ", 4) == 0)
        return 4;
    while (i < len && i < 3 && is_digit(s[i]))
        i++;
    if (i > 0 && i + 1 < len && (s[i] == '.' || s[i] == ')')
        && s[i + 1] == ' ')
        return i + 2;
    return 0;
}

/* Append a unit; TR_E_NOMEM. */
static enum tr_err
push(struct tr_draft__units *u, size_t start, size_t end,
     enum tr_draft__unit_kind kind, size_t block)
{
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 32;
        struct tr_draft__unit *v = realloc(u->v, cap * sizeof(*v));

        if (v == NULL)
            return TR_E_NOMEM;
        u->v = v;
        u->cap = cap;
    }
    u->v[u->n++] = (struct tr_draft__unit){start, end, kind, block};
    return TR_OK;
}

void
tr_draft__units_cleanup(struct tr_draft__units *u)
{
    free(u->v);
    memset(u, 0, sizeof(*u));
}

/*
 * True when the full stop at s[dot] follows a word that does not end a
 * sentence: a listed abbreviation, a single letter or a short number.
 */
static bool
stop_is_inside(const char *s, size_t start, size_t dot)
{
    size_t w = dot, n;
    char low[8];

    while (w > start && !is_space(s[w - 1]) && s[w - 1] != '(')
        w--;
    n = dot - w;
    if (n == 1 && !is_digit(s[w]))
        return true;
    if ((n == 1 || n == 2) && is_digit(s[w]) && is_digit(s[dot - 1]))
        return true;
    if (n == 0 || n >= sizeof(low))
        return false;

    for (size_t i = 0; i < n; i++)
        low[i] = (s[w + i] >= 'A' && s[w + i] <= 'Z') ? s[w + i] + 32
                                                       : s[w + i];
    low[n] = '\0';
    for (size_t i = 0; i < sizeof(abbrevs) / sizeof(abbrevs[0]); i++)
        if (strcmp(abbrevs[i], low) == 0)
            return true;
    return false;
}

/* Skip closing quotes and brackets after an end mark. */
static size_t
skip_closers(const char *s, size_t i, size_t end)
{
    for (;;) {
        if (i < end && strchr(".!?\"')]", s[i]) != NULL && s[i] != '\0')
            i++;
        else if (i + 1 < end && memcmp(s + i, "\xC2\xBB", 2) == 0)
            i += 2;
        else if (i + 2 < end && memcmp(s + i, "\xE2\x80\x9D", 3) == 0)
            i += 3;
        else
            return i;
    }
}

/*
 * Find the end of the sentence starting at s[start] in a block ending
 * at `end`; *next receives where the next one starts.
 */
static size_t
sentence_end(const char *s, size_t start, size_t end, size_t *next)
{
    for (size_t i = start; i < end; i++) {
        size_t j, k;
        bool ellipsis = i + 2 < end && memcmp(s + i, "\xE2\x80\xA6", 3) == 0;

        if (!ellipsis && s[i] != '.' && s[i] != '!' && s[i] != '?')
            continue;
        j = skip_closers(s, ellipsis ? i + 3 : i + 1, end);
        if (j >= end || !is_space(s[j]))
            continue;

        /* The next word must not start in lower case. */
        for (k = j; k < end && is_space(s[k]); k++)
            ;
        if (k >= end || (s[k] >= 'a' && s[k] <= 'z'))
            continue;
        if (s[i] == '.' && !ellipsis && stop_is_inside(s, start, i))
            continue;
        *next = k;
        return j;
    }
    *next = end;
    return end;
}

/* True when s[start, end) ends with sentence punctuation. */
static bool
ends_like_sentence(const char *s, size_t start, size_t end)
{
    while (end > start && strchr("\"')]", s[end - 1]) != NULL)
        end--;
    return end > start && strchr(".!?:;", s[end - 1]) != NULL;
}

/* Count whitespace-separated words of s[start, end). */
static size_t
count_words(const char *s, size_t start, size_t end)
{
    size_t n = 0;
    bool in = false;

    for (size_t i = start; i < end; i++) {
        if (is_space(s[i])) {
            in = false;
        } else if (!in) {
            in = true;
            n++;
        }
    }
    return n;
}

/* Cut one block s[bs, be) into units. */
static enum tr_err
split_block(const char *s, size_t bs, size_t be, size_t block,
            struct tr_draft__units *out)
{
    size_t start = bs, first = out->n;
    enum tr_err rc;

    /* A step stays one unit even when it holds two sentences. */
    if (marker_len(s + bs, be - bs) > 0)
        return push(out, bs, be, TR_DRAFT__ITEM, block);

    while (start < be) {
        size_t next, e = sentence_end(s, start, be, &next);

        while (e > start && is_space(s[e - 1]))
            e--;
        if (e > start && (rc = push(out, start, e, TR_DRAFT__SENT, block))
                             != TR_OK)
            return rc;
        start = next;
    }

    /* A lone short line without end punctuation is a heading. */
    if (out->n == first + 1 && !ends_like_sentence(s, bs, be)
        && count_words(s, bs, be) < HEAD_WORDS)
        out->v[first].kind = TR_DRAFT__HEAD;
    return TR_OK;
}

/* End of the block starting at s[bs]: a blank line or a list marker. */
static size_t
block_end(const char *s, size_t bs, size_t len)
{
    for (size_t j = bs; j < len; j++) {
        size_t k;

        if (s[j] != '\n')
            continue;
        for (k = j + 1; k < len && (s[k] == ' ' || s[k] == '\t'
                                    || s[k] == '\r'); k++)
            ;
        if (k >= len || s[k] == '\n' || marker_len(s + k, len - k) > 0)
            return j;
    }
    return len;
}

enum tr_err
tr_draft__split(const char *s, size_t len, struct tr_draft__units *out)
{
    size_t i = 0, block = 0;
    enum tr_err rc;

    while (i < len) {
        size_t be;

        while (i < len && is_space(s[i]))
            i++;
        if (i >= len)
            break;
        be = block_end(s, i, len);

        /* Trim the block's tail; its head is already trimmed. */
        {
            size_t e = be;

            while (e > i && is_space(s[e - 1]))
                e--;
            if ((rc = split_block(s, i, e, block++, out)) != TR_OK)
                return rc;
        }
        i = be;
    }
    return TR_OK;
}

/*
 * Sentences are stored squeezed so that a draft reads the same however
 * the passage was wrapped, and so that duplicates compare equal.
 */
char *
tr_draft__squeeze(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    size_t n = 0;
    bool gap = false;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (is_space(s[i])) {
            gap = n > 0;
            continue;
        }
        if (gap)
            out[n++] = ' ';
        gap = false;
        out[n++] = s[i];
    }
    out[n] = '\0';
    return out;
}
