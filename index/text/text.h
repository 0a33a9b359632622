/*
 * text.h
 *      Article text: HTML, Markdown and plain text to a list of blocks,
 *      chunking of blocks within a token budget, lowercasing and words.
 *
 * Every parser turns its input into the same list of blocks (heading
 * with its level, paragraph, list item, code).  Block texts are UTF-8
 * with whitespace collapsed (except in code) and no leading or trailing
 * space.  The article's *plain text* is defined once, here: the block
 * texts in order joined by "\n\n" (tr_text_blocks_plain()).  Chunk
 * offsets are byte offsets into that plain text, so a draft can cite
 * plain[start, end) exactly.
 *
 * Nothing here keeps global state; every function may be called from any
 * thread on its own objects.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_TEXT_H
#define TR_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* err.h has no C++ guard of its own. */
#include "err.h"

/* Separator between block texts in the plain text. */
#define TR_TEXT_SEP "\n\n"
#define TR_TEXT_SEP_LEN 2

/* Largest input the parsers accept (TR_E_TOOBIG beyond it). */
#define TR_TEXT_INPUT_MAX ((size_t)64 << 20)

enum tr_text_kind {
    TR_TEXT_HEADING,        /* level 1..6 */
    TR_TEXT_PARAGRAPH,      /* level 0 */
    TR_TEXT_LIST_ITEM,      /* level = nesting depth, 1 for a top list */
    TR_TEXT_CODE            /* level 0; text kept verbatim but trimmed */
};

/*
 * One block.  A list item's text starts with its marker: "- " in a
 * bullet list, "3. " in an ordered one.
 */
struct tr_text_block {
    enum tr_text_kind kind;
    int level;
    char *text;             /* zero-terminated, owned by the list */
    size_t text_len;
};

/*
 * A growable list of blocks.  Embed it, tr_text_blocks_init() it and
 * release it with tr_text_blocks_cleanup().
 */
struct tr_text_blocks {
    struct tr_text_block *v;
    size_t n;
    size_t cap;
};

void tr_text_blocks_init(struct tr_text_blocks *b);

/*
 * Release every block text and the array; `b` is empty afterwards.
 */
void tr_text_blocks_cleanup(struct tr_text_blocks *b);

/*
 * Append a block with a copy of `len` bytes of `text`, whitespace
 * collapsed and trimmed unless kind is TR_TEXT_CODE (then only trailing
 * blank lines and surrounding newlines are trimmed).  A text that is
 * empty after that is not added (TR_OK).  TR_E_NOMEM.
 */
enum tr_err tr_text_blocks_add(struct tr_text_blocks *b,
                               enum tr_text_kind kind, int level,
                               const char *text, size_t len);

/*
 * Parse `len` bytes of HTML (UTF-8 unless a meta tag says otherwise) and
 * append its blocks to `out`.  script, style, noscript, template, head
 * and comments are dropped; entities are decoded; h1-h6 give headings,
 * li list items (nested lists one level deeper), pre code blocks, and
 * any other block element (p, div, td, blockquote, ...) closes a
 * paragraph.  Broken markup is repaired as well as libxml2 can and never
 * makes this fail: empty or unparsable input gives no blocks and TR_OK.
 * TR_E_TOOBIG beyond TR_TEXT_INPUT_MAX, TR_E_NOMEM.
 */
enum tr_err tr_text_from_html(const char *html, size_t len,
                              struct tr_text_blocks *out,
                              struct tr_error *err);

/*
 * Parse `len` bytes of CommonMark and append its blocks to `out`:
 * ATX/setext headings, paragraphs (also inside block quotes), bullet and
 * ordered lists (nested one level deeper), fenced and indented code.
 * Raw HTML blocks go through tr_text_from_html(); inline HTML tags are
 * dropped, their text kept.  Same returns as tr_text_from_html().
 */
enum tr_err tr_text_from_markdown(const char *md, size_t len,
                                  struct tr_text_blocks *out,
                                  struct tr_error *err);

/*
 * Split plain text into paragraphs on blank lines and append them to
 * `out`.  Same returns as tr_text_from_html().
 */
enum tr_err tr_text_from_plain(const char *txt, size_t len,
                               struct tr_text_blocks *out,
                               struct tr_error *err);

/*
 * Build the plain text of `b` (block texts joined by TR_TEXT_SEP).  *out
 * is a new zero-terminated string the caller frees with free(); *out_len
 * (may be NULL) its length.  TR_E_NOMEM.
 */
enum tr_err tr_text_blocks_plain(const struct tr_text_blocks *b,
                                 char **out, size_t *out_len,
                                 struct tr_error *err);

/*
 * Count tokens of `len` bytes at `text`.  Chunking assumes the count is
 * close to additive over whitespace-separated words (true of word counts
 * and of sentencepiece), and that a longer text never counts fewer.
 */
typedef size_t (*tr_text_count_fn)(void *ud, const char *text, size_t len);

/*
 * A tr_text_count_fn that counts words as tr_text_words() finds them;
 * `ud` is unused.
 */
size_t tr_text_count_words(void *ud, const char *text, size_t len);

/*
 * Chunking options.  Zeroed fields take the defaults.
 */
struct tr_text_chunk_opts {
    size_t max_tokens;          /* budget of one chunk (256) */
    size_t overlap_tokens;      /* carried from the previous chunk (0) */
    tr_text_count_fn count;     /* tr_text_count_words when NULL */
    void *count_ud;
    const char *path_sep;       /* between heading names (" > ") */
};

/*
 * One chunk: plain[start, end) of the article's plain text, copied in
 * `text` (text_len == end - start).  `heading_path` names the headings
 * above the chunk from the top ("Billing > Refunds"), "" when none.
 */
struct tr_text_chunk {
    char *heading_path;
    char *text;
    size_t text_len;
    size_t start;
    size_t end;
    size_t n_tokens;            /* count of `text` by the counter */
};

struct tr_text_chunks {
    struct tr_text_chunk *v;
    size_t n;
    size_t cap;
};

void tr_text_chunks_init(struct tr_text_chunks *c);
void tr_text_chunks_cleanup(struct tr_text_chunks *c);

/*
 * Cut `b` into chunks appended to `out`.  A heading starts a new chunk
 * (a heading directly followed by a deeper one stays with it); inside a
 * section whole blocks are packed while they fit the budget; a block too
 * long on its own is cut at sentence ends, a sentence too long at
 * spaces, a word too long at character boundaries.  A new chunk of the
 * same section starts with the last units of the previous one worth at
 * most overlap_tokens.  Every chunk holds at most max_tokens as counted
 * piecewise; n_tokens is the counter's count of the whole chunk text.
 * TR_E_INVAL when overlap_tokens >= max_tokens, TR_E_NOMEM.
 */
enum tr_err tr_text_chunk(const struct tr_text_blocks *b,
                          const struct tr_text_chunk_opts *o,
                          struct tr_text_chunks *out,
                          struct tr_error *err);

/*
 * Lowercase `len` bytes of UTF-8 `s` into `out` (at least `len` bytes;
 * may be `s` itself).  ASCII, Latin-1, Latin Extended-A, Greek and
 * Cyrillic capitals are mapped; every mapping keeps the byte length, so
 * the output is exactly `len` bytes (not zero-terminated).  Invalid
 * UTF-8 is copied unchanged.
 */
void tr_text_lower(const char *s, size_t len, char *out);

/* Flags of tr_text_words(). */
#define TR_TEXT_WORDS_LOWER 0x1     /* hand words over lowercased */

/*
 * Called for each word: `word` (not zero-terminated, valid during the
 * call), its length and its byte offset in the input.  Return nonzero to
 * stop.
 */
typedef int (*tr_text_word_fn)(void *ud, const char *word, size_t word_len,
                               size_t offset);

/*
 * Find the words of `len` bytes of UTF-8 `s`: maximal runs of letters
 * and digits.  ASCII letters and digits count, and so does every
 * non-ASCII character outside the punctuation, symbol and space ranges
 * (Latin-1 symbols, general punctuation, CJK punctuation, ...); an
 * apostrophe or hyphen splits words.  Calls `fn` (may be NULL to just
 * count) for each and returns how many were found before it stopped.
 */
size_t tr_text_words(const char *s, size_t len, unsigned flags,
                     tr_text_word_fn fn, void *ud);

#ifdef __cplusplus
}
#endif

#endif /* TR_TEXT_H */
