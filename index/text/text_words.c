/*
 * text_words.c
 *      UTF-8 decoding, character classes, lowercasing and the word
 *      tokenizer that BM25 and the word counter use.
 *
 * Without full Unicode tables, a character is a word character when it
 * is an ASCII letter or digit, or a non-ASCII character outside the
 * known punctuation, symbol, space and special ranges; that treats every
 * script's letters as letters, which is what matching needs.  Lowercasing
 * covers the scripts whose case mappings keep the UTF-8 length (ASCII,
 * Latin-1, Latin Extended-A, Greek, Cyrillic), so it can work in place.
 *
 * All functions are pure; any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "text_int.h"

/* Words up to this length are lowercased without a heap allocation. */
#define WORD_STACK 256

int32_t
tr_text__utf8_next(const char *s, size_t len, size_t *i)
{
    const unsigned char *p = (const unsigned char *) s + *i;
    size_t left = len - *i;
    int32_t cp;
    size_t n;

    if (p[0] < 0x80) {
        *i += 1;
        return p[0];
    }

    /* Lead byte gives the length; overlong forms are rejected below. */
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        n = 2;
        cp = p[0] & 0x1F;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        n = 3;
        cp = p[0] & 0x0F;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        goto bad;
    }
    if (left < n)
        goto bad;

    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xC0) != 0x80)
            goto bad;
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)
        || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        goto bad;
    *i += n;
    return cp;

bad:
    *i += 1;
    return -1;
}

int
tr_text__is_space(int32_t cp)
{
    if (cp <= 0x20 || cp == 0x7F)
        return cp >= 0;
    return cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A)
           || cp == 0x2028 || cp == 0x2029 || cp == 0x202F
           || cp == 0x205F || cp == 0x3000 || cp == 0x85;
}

int
tr_text__is_word(int32_t cp)
{
    if (cp < 0)
        return 0;
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z')
               || (cp >= 'A' && cp <= 'Z');

    /* Latin-1: only the few letters and superscript digits count. */
    if (cp < 0xC0)
        return cp == 0xAA || cp == 0xB2 || cp == 0xB3 || cp == 0xB5
               || cp == 0xB9 || cp == 0xBA;
    if (cp == 0xD7 || cp == 0xF7)
        return 0;

    /*
     * Punctuation, currency, arrows, mathematical and technical symbols,
     * box drawing, dingbats, CJK punctuation, private use, full-width
     * punctuation, specials and emoji.
     */
    if ((cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x20A0 && cp <= 0x20CF)
        || (cp >= 0x2190 && cp <= 0x2BFF) || (cp >= 0x2E00 && cp <= 0x2E7F)
        || (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xE000 && cp <= 0xF8FF)
        || (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF0F)
        || (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40)
        || (cp >= 0xFF5B && cp <= 0xFF65) || (cp >= 0xFFF0 && cp <= 0xFFFF)
        || (cp >= 0x1F000 && cp <= 0x1FAFF))
        return 0;
    return !tr_text__is_space(cp);
}

/*
 * Return the lowercase of `cp` for the two-byte scripts covered, or `cp`.
 */
static int32_t
lower_cp(int32_t cp)
{
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
        return cp + 0x20;

    /* Latin Extended-A alternates capital and small, with two phases. */
    if (cp >= 0x100 && cp <= 0x17F) {
        if (cp == 0x130 || cp == 0x138 || cp == 0x149 || cp == 0x17F)
            return cp;
        if (cp == 0x178)
            return 0xFF;
        if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
            return (cp & 1) ? cp + 1 : cp;
        return (cp & 1) ? cp : cp + 1;
    }

    /* Greek and Cyrillic capitals. */
    if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2)
        return cp + 32;
    if (cp == 0x386)
        return 0x3AC;
    if (cp >= 0x388 && cp <= 0x38A)
        return cp + 37;
    if (cp == 0x38C)
        return 0x3CC;
    if (cp == 0x38E || cp == 0x38F)
        return cp + 63;
    if (cp >= 0x410 && cp <= 0x42F)
        return cp + 32;
    if (cp >= 0x400 && cp <= 0x40F)
        return cp + 80;
    return cp;
}

void
tr_text_lower(const char *s, size_t len, char *out)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = (unsigned char) s[i];
        size_t at = i;
        int32_t cp;

        if (c < 0x80) {
            out[i++] = (char) (c >= 'A' && c <= 'Z' ? c + 32 : c);
            continue;
        }

        /* Every mapped pair is two bytes long on both sides. */
        cp = tr_text__utf8_next(s, len, &i);
        if (cp >= 0x80 && cp < 0x800) {
            int32_t lc = lower_cp(cp);

            out[at] = (char) (0xC0 | (lc >> 6));
            out[at + 1] = (char) (0x80 | (lc & 0x3F));
        } else if (out != s) {
            memcpy(out + at, s + at, i - at);
        }
    }
}

/*
 * Hand one word to `fn`, lowercased when asked.  Returns nonzero when the
 * callback wants to stop (or memory ran out).
 */
static int
emit_word(const char *s, size_t start, size_t end, unsigned flags,
          tr_text_word_fn fn, void *ud)
{
    char stack[WORD_STACK];
    size_t n = end - start;
    char *w;
    int stop;

    if (fn == NULL)
        return 0;
    if (!(flags & TR_TEXT_WORDS_LOWER))
        return fn(ud, s + start, n, start);

    w = n <= sizeof(stack) ? stack : malloc(n);
    if (w == NULL)
        return 1;
    tr_text_lower(s + start, n, w);
    stop = fn(ud, w, n, start);
    if (w != stack)
        free(w);
    return stop;
}

size_t
tr_text_words(const char *s, size_t len, unsigned flags, tr_text_word_fn fn,
              void *ud)
{
    size_t n_words = 0;
    size_t start = 0;
    int in_word = 0;
    size_t i = 0;

    while (i < len) {
        size_t at = i;
        int32_t cp = tr_text__utf8_next(s, len, &i);
        int word = tr_text__is_word(cp);

        if (word && !in_word) {
            start = at;
            in_word = 1;
        } else if (!word && in_word) {
            in_word = 0;
            n_words++;
            if (emit_word(s, start, at, flags, fn, ud) != 0)
                return n_words;
        }
    }

    if (in_word) {
        n_words++;
        emit_word(s, start, len, flags, fn, ud);
    }
    return n_words;
}

size_t
tr_text_count_words(void *ud, const char *text, size_t len)
{
    (void) ud;
    return tr_text_words(text, len, 0, NULL, NULL);
}
