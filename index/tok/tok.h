/*
 * tok.h
 *      Subword tokenisation with sentencepiece: train a unigram model from
 *      the tenant's own text, load and store it, encode text.
 *
 * This header is the only view the rest of triage has of sentencepiece;
 * it compiles as C and as C++ and no C++ exception crosses it (the bridge
 * is tok_spm.cpp).  A model is immutable once trained or loaded, so any
 * number of threads may encode with it at once.
 *
 * Training is deterministic: the same texts and options give the same
 * model, byte for byte, so an index can be rebuilt reproducibly.  A model
 * is stored as its serialised proto (tr_tok_model_serialize()), which is
 * also the format of a ".model" file.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_TOK_H
#define TR_TOK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* err.h has no C++ guard of its own. */
#include "err.h"

#define TR_TOK_VOCAB_DEFAULT 8000

struct tr_tok_model;

/*
 * Training options.  Zeroed fields take the defaults.
 */
struct tr_tok_train_opts {
    int vocab_size;         /* wanted pieces (TR_TOK_VOCAB_DEFAULT) */
    int min_vocab_size;     /* smallest size accepted on retry (64) */
    int n_threads;          /* trainer threads (1) */
    double char_coverage;   /* share of characters covered (1.0) */
    int byte_fallback;      /* nonzero: unseen characters become byte
                               pieces (needs vocab_size > 256 + the
                               corpus's characters); else they encode to
                               the unknown piece, decoded as " \u2047 " */
};

/*
 * Outcome of a training run, for logs and the index manifest.
 */
struct tr_tok_train_info {
    int vocab_requested;    /* what the options asked for */
    int vocab_size;         /* pieces in the model obtained */
    int n_attempts;         /* trainer runs (1 when nothing was retried) */
    int hard_limit;         /* 0 when the last run had to relax the limit */
    size_t n_sentences;     /* lines fed to the trainer */
};

/*
 * Train a unigram model on `n_texts` UTF-8 texts (borrowed for the call).
 * Each text is split into lines, blank lines are skipped and lines longer
 * than the trainer accepts are cut at spaces.
 *
 * A small corpus cannot support a large vocabulary and sentencepiece then
 * refuses with "Vocabulary size is too high ... <= N".  The bridge reads N
 * and trains again with it; when the message gives no N it retries with
 * the vocabulary limit relaxed (hard_vocab_limit=false), so the model may
 * then hold fewer pieces than asked.  `info` (may be NULL) tells what
 * happened.  Returns NULL with TR_E_INVAL (no usable text),
 * TR_E_INDEX (trainer failure, its message kept) or TR_E_NOMEM.  The
 * caller owns the model (tr_tok_model_free()).  Any thread, but training
 * uses the process-wide sentencepiece log level and seed.
 */
struct tr_tok_model *tr_tok_model_train(const char *const *texts,
                                        size_t n_texts,
                                        const struct tr_tok_train_opts *o,
                                        struct tr_tok_train_info *info,
                                        struct tr_error *err);

/*
 * Load a model from a ".model" file.  NULL with TR_E_NOTFOUND (no such
 * file) or TR_E_INDEX (not a model).  Caller owns the result.
 */
struct tr_tok_model *tr_tok_model_load_file(const char *path,
                                            struct tr_error *err);

/*
 * Load a model from `buf_len` bytes of serialised proto at `buf`
 * (borrowed).  NULL with TR_E_INDEX for bytes that are not a model.
 * Caller owns the result.
 */
struct tr_tok_model *tr_tok_model_load(const void *buf, size_t buf_len,
                                       struct tr_error *err);

/*
 * Release `m`.  NULL is a no-op.
 */
void tr_tok_model_free(struct tr_tok_model *m);

/*
 * Serialise `m` into a new buffer; the caller frees *buf with free().
 */
enum tr_err tr_tok_model_serialize(const struct tr_tok_model *m,
                                   void **buf, size_t *buf_len,
                                   struct tr_error *err);

/*
 * Write `m` to the file `path` (a ".model" sentencepiece can read).
 * TR_E_IO when the file cannot be written.
 */
enum tr_err tr_tok_model_write(const struct tr_tok_model *m,
                               const char *path, struct tr_error *err);

/*
 * Return the number of pieces of `m` (ids run from 0 to that minus one).
 */
int tr_tok_model_size(const struct tr_tok_model *m);

/*
 * Return the piece string of `id` ("\xe2\x96\x81the" for " the"), borrowed
 * and valid as long as `m`; NULL for an id out of range.
 */
const char *tr_tok_model_piece(const struct tr_tok_model *m, int id);

/*
 * Encode `len` bytes of UTF-8 `text` into piece ids.  On success *ids is
 * a new array of *n_ids ints (NULL when empty) that the caller frees with
 * free().  TR_E_INDEX if sentencepiece fails, TR_E_NOMEM.
 */
enum tr_err tr_tok_encode_ids(const struct tr_tok_model *m,
                              const char *text, size_t len, int **ids,
                              size_t *n_ids, struct tr_error *err);

/*
 * Called for each piece of an encoding with its bytes (not zero-
 * terminated, valid during the call) and its id.  Return nonzero to stop.
 */
typedef int (*tr_tok_piece_fn)(void *ud, const char *piece,
                               size_t piece_len, int id);

/*
 * Encode `text` and call `fn` for each piece in order.  Returns TR_OK
 * also when `fn` stopped early.
 */
enum tr_err tr_tok_encode_pieces(const struct tr_tok_model *m,
                                 const char *text, size_t len,
                                 tr_tok_piece_fn fn, void *ud,
                                 struct tr_error *err);

/*
 * Decode `n_ids` ids back to text.  *out is a new zero-terminated string
 * (caller frees with free()), *out_len its length (may be NULL).
 * TR_E_INDEX for an id out of range.
 */
enum tr_err tr_tok_decode_ids(const struct tr_tok_model *m, const int *ids,
                              size_t n_ids, char **out, size_t *out_len,
                              struct tr_error *err);

/*
 * Return the number of pieces of `text`, 0 on failure.  Its shape
 * matches tr_text_count_fn so that chunking can count in pieces: pass
 * the model as `ud`.
 */
size_t tr_tok_count(void *ud, const char *text, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* TR_TOK_H */
