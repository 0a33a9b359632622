/*
 * bm25.h
 *      In-memory BM25 inverted index over chunks, with its word tokenizer.
 *
 * An index is filled with tr_bm25_add() from one thread, frozen once with
 * tr_bm25_build(), and from then on is read-only: any number of threads
 * may call tr_bm25_search() on it at the same time.  Chunk ids are the
 * caller's int64 keys; ties in score are broken by insertion order so
 * that results are deterministic.  Scores follow Okapi BM25 with
 * IDF ln(1 + (N - df + 0.5) / (df + 0.5)).  Title and text are two
 * fields (BM25F): tf = title_weight * tf_title / B_title + tf_text /
 * B_text with B_f = 1 - b + b * len_f / avglen_f, then the score is
 * idf * tf * (k1 + 1) / (tf + k1).  With no title it is plain BM25.
 * An index serializes to a flat byte buffer (host byte order,
 * little-endian on every supported machine) and loads back from it;
 * buffers of the earlier format version still load.  A built index keeps
 * 8 bytes per posting (chunk number and weight).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_BM25_H
#define TR_BM25_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "mem.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest token kept, in bytes; longer runs are cut to this length. */
#define TR_BM25_TOKEN_MAX 64

/* Longest stemmer language name, including the terminator. */
#define TR_BM25_LANG_MAX 32

/*
 * Settings of an index.  `stem_lang` is a Snowball algorithm name
 * ("english", "french", ...) or empty for no stemming.
 */
struct tr_bm25_opts {
    double k1;
    double b;
    double title_weight;
    char stem_lang[TR_BM25_LANG_MAX];
};

/* One search result: the chunk id and its BM25 score. */
struct tr_bm25_hit {
    int64_t id;
    float score;
};

struct tr_bm25;
struct tr_bm25_tokenizer;

/*
 * Called once per token, in text order.  `tok` is lower-cased (and
 * stemmed when the tokenizer stems), `len` bytes, not zero-terminated,
 * borrowed for the duration of the call.  A non-TR_OK return stops the
 * tokenization and is passed back.
 */
typedef enum tr_err (*tr_bm25_token_fn)(void *ctx, const char *tok,
                                        size_t len);

/*
 * Fill `o` with the defaults: k1 1.2, b 0.75, title weight 3, English
 * stemming.  Pure, any thread.
 */
void tr_bm25_opts_default(struct tr_bm25_opts *o);

/*
 * Create a tokenizer that lower-cases, splits on everything that is not
 * a letter or a digit (ASCII letters and digits; bytes of non-ASCII
 * letters are kept inside words) and stems with the Snowball algorithm
 * `stem_lang` unless it is NULL or empty.  Returns NULL and fills `err`
 * (TR_E_INVAL for an unknown language, TR_E_NOMEM).  The caller owns the
 * tokenizer and frees it with tr_bm25_tokenizer_free().  A tokenizer is
 * not thread-safe: use one per thread.
 */
struct tr_bm25_tokenizer *tr_bm25_tokenizer_new(const char *stem_lang,
                                                struct tr_error *err);

/* Free `t`.  NULL is a no-op. */
void tr_bm25_tokenizer_free(struct tr_bm25_tokenizer *t);

/*
 * Split the zero-terminated `text` into tokens and call `fn` for each.
 * Returns TR_OK, TR_E_NOMEM from the stemmer, or what `fn` returned.
 */
enum tr_err tr_bm25_tokenize(struct tr_bm25_tokenizer *t, const char *text,
                             tr_bm25_token_fn fn, void *ctx);

/*
 * Create an empty index with the settings `o` (NULL for the defaults).
 * Returns NULL and fills `err` on bad settings (negative k1, b outside
 * [0, 1], title weight <= 0 or an unknown stemming language) or when out
 * of memory.  The caller owns the index and frees it with
 * tr_bm25_free().
 */
struct tr_bm25 *tr_bm25_new(const struct tr_bm25_opts *o,
                            struct tr_error *err);

/* Free `ix` and everything it holds.  NULL is a no-op. */
void tr_bm25_free(struct tr_bm25 *ix);

/*
 * Add one chunk: `title` (may be NULL) and `text` (zero-terminated UTF-8)
 * under the caller's `id`.  Only before tr_bm25_build(); TR_E_CONFLICT
 * after it, TR_E_NOMEM when out of memory.  Ids are not checked for
 * uniqueness.  One thread at a time.
 */
enum tr_err tr_bm25_add(struct tr_bm25 *ix, int64_t id, const char *title,
                        const char *text, struct tr_error *err);

/*
 * Freeze the index: compute lengths and document frequencies.  Returns
 * TR_OK (also when already built) or TR_E_NOMEM.  After it the index is
 * read-only and safe for concurrent searches.
 */
enum tr_err tr_bm25_build(struct tr_bm25 *ix, struct tr_error *err);

/*
 * Score every chunk that shares a token with `query` and write the best
 * `k` into `hits` (room for `k`), best first, ties in insertion order.
 * `*n_hits` receives how many were written (fewer than `k` when fewer
 * chunks match).  Each repetition of a query token adds its term again.
 * Returns TR_OK, TR_E_CONFLICT when the index is not built, TR_E_NOMEM.
 * Safe from any number of threads at once on a built index.
 */
enum tr_err tr_bm25_search(const struct tr_bm25 *ix, const char *query,
                           size_t k, struct tr_bm25_hit *hits,
                           size_t *n_hits, struct tr_error *err);

/* Number of chunks in `ix`. */
size_t tr_bm25_count(const struct tr_bm25 *ix);

/* Number of distinct terms of a built `ix`. */
size_t tr_bm25_n_terms(const struct tr_bm25 *ix);

/* The settings `ix` was made with, borrowed for the life of `ix`. */
const struct tr_bm25_opts *tr_bm25_opts_get(const struct tr_bm25 *ix);

/*
 * Append the serialized built index to `out` (a capped buffer, so
 * TR_E_TOOBIG is possible).  Returns TR_OK, TR_E_CONFLICT when not built,
 * TR_E_TOOBIG or TR_E_NOMEM.  Safe concurrently with searches.
 */
enum tr_err tr_bm25_save(const struct tr_bm25 *ix, struct tr_buf *out,
                         struct tr_error *err);

/*
 * Rebuild an index from `len` bytes at `data` written by tr_bm25_save().
 * The bytes are validated: a truncated, foreign or inconsistent buffer
 * gives NULL with TR_E_PARSE in `err`.  The result is built and owned by
 * the caller (free with tr_bm25_free()); `data` is not kept.
 */
struct tr_bm25 *tr_bm25_load(const void *data, size_t len,
                             struct tr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* TR_BM25_H */
