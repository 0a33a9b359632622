/*
 * text_int.h
 *      Helpers shared by the files of the text module: UTF-8 decoding and
 *      character classes.
 *
 * Pure functions, no state; any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_TEXT_INT_H
#define TR_TEXT_INT_H

#include <stddef.h>
#include <stdint.h>

/* Nesting past this depth is flattened to its text by the parsers. */
#define TR_TEXT_DEPTH_MAX 200

/*
 * Decode the character at s[*i] (len bytes in all) and advance *i past
 * it.  Returns the code point, or -1 for an invalid or truncated
 * sequence, after which *i has moved by one byte.
 */
int32_t tr_text__utf8_next(const char *s, size_t len, size_t *i);

/*
 * Return whether `cp` is white space: ASCII space and controls, the
 * no-break space and the Unicode space separators.
 */
int tr_text__is_space(int32_t cp);

/*
 * Return whether `cp` belongs to a word (see tr_text_words() in text.h).
 */
int tr_text__is_word(int32_t cp);

#endif /* TR_TEXT_INT_H */
