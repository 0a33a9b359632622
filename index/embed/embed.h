/*
 * embed.h
 *      Text embedders: the common interface, the offline "local"
 *      embedder learnt from the tenant's own text, and the "openai"
 *      client of OpenAI-compatible embedding services.
 *
 * An embedder turns texts into dense float vectors of a fixed dimension,
 * L2-normalised so that inner product is cosine similarity.  Callers go
 * through tr_embedder_embed(), which checks the dimension they expect,
 * cuts the input into batches of the embedder's size and normalises the
 * output, so that every implementation (local, or a remote OpenAI-style
 * service added as its own module through struct tr_embedder_ops) is
 * used the same way.  An embedder is immutable once made: any number of
 * threads may embed with it at once, unless its ops say otherwise.
 *
 * The local embedder builds sparse TF-IDF features from each text
 * (stemmed words and hashed character n-grams of the words), keeps the
 * features seen in at least two training texts, and learns a projection
 * to `dim` dimensions by a truncated SVD of the training matrix (latent
 * semantic analysis, computed with a randomised range finder and
 * LAPACK).  The projection is stored in 8 bits per entry with a scale
 * per feature (proj_bits 8, the default: a quarter of the memory of
 * floats for no measurable loss of ranking quality) or in floats (32).
 * Training runs on `threads` threads; the same texts and options give
 * the same model, bit for bit, for any such count and a given BLAS
 * thread count.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_EMBED_H
#define TR_EMBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "mem.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest embedder name, with its terminator. */
#define TR_EMBED_NAME_MAX 64

struct tr_embedder;

/*
 * What an implementation provides.  `embed` writes `n` rows of `dim`
 * floats into `out` (n <= the embedder's batch size); it need not
 * normalise.  `save` appends the serialized model to `out` (NULL when
 * the embedder has no model to keep, such as a remote one).  `free`
 * releases `impl`.  `embed` must be safe from several threads at once.
 */
struct tr_embedder_ops {
    enum tr_err (*embed)(void *impl, const char *const *texts, size_t n,
                         float *out, struct tr_error *err);
    enum tr_err (*save)(const void *impl, struct tr_buf *out,
                        struct tr_error *err);
    void (*free)(void *impl);
};

/*
 * Wrap an implementation: `name` (copied, e.g. "local" or
 * "openai:text-embedding-3-small"), its dimension `dim` (> 0), the
 * largest batch it takes `max_batch` (0 means unlimited) and `impl`,
 * whose ownership passes to the embedder (freed with ops->free, also
 * when this fails).  NULL with TR_E_INVAL or TR_E_NOMEM in `err`.
 */
struct tr_embedder *tr_embedder_new(const char *name, int dim,
                                    size_t max_batch,
                                    const struct tr_embedder_ops *ops,
                                    void *impl, struct tr_error *err);

/* Free `e` and its implementation.  NULL is a no-op. */
void tr_embedder_free(struct tr_embedder *e);

/* The dimension of the vectors of `e`. */
int tr_embedder_dim(const struct tr_embedder *e);

/* The name of `e`, borrowed for the life of `e`. */
const char *tr_embedder_name(const struct tr_embedder *e);

/*
 * Embed `n` texts (borrowed) into `out`, room for n * dim floats, row
 * after row.  `dim` is what the caller expects: TR_E_INVAL when it is
 * not the embedder's (vectors of another model must never mix).  Rows
 * are L2-normalised; a text without any known feature gives a zero row.
 * Returns TR_OK or the implementation's error.  Any thread.
 */
enum tr_err tr_embedder_embed(const struct tr_embedder *e,
                              const char *const *texts, size_t n, int dim,
                              float *out, struct tr_error *err);

/*
 * tr_embedder_embed() over `n_threads` threads (< 1: one per online
 * processor, at most 16), each
 * embedding a contiguous share of the texts; the rows are the same as
 * with one thread.  For large batches, such as a whole corpus at
 * reindex.  Same arguments and returns as tr_embedder_embed(); the
 * error of the first failing share is reported.  Any thread.
 */
enum tr_err tr_embedder_embed_many(const struct tr_embedder *e,
                                   const char *const *texts, size_t n,
                                   int dim, float *out, int n_threads,
                                   struct tr_error *err);

/*
 * Append the model of `e` to `out`.  TR_E_UNSUPPORTED when the embedder
 * keeps no model.  Any thread.
 */
enum tr_err tr_embedder_save(const struct tr_embedder *e,
                             struct tr_buf *out, struct tr_error *err);

/*
 * Options of the local embedder.  tr_embed_local_opts_default() gives
 * the tuned defaults; fields are explained there.
 */
struct tr_embed_local_opts {
    int dim;                /* output dimension */
    int ngram_min;          /* character n-grams of words, shortest */
    int ngram_max;          /* longest (0 disables n-grams) */
    float word_weight;      /* weight of the word block */
    float ngram_weight;     /* weight of the n-gram block */
    int min_df;             /* features seen in fewer texts are dropped */
    int max_features;       /* most frequent features kept */
    size_t max_train;       /* texts used to learn the projection */
    int power_iters;        /* range-finder power iterations */
    int proj_bits;          /* projection kept in 8 or 32 bits */
    int threads;            /* of training, 0 for the online CPUs */
    uint64_t seed;          /* of the random test matrix */
    char stem_lang[32];     /* Snowball language, empty for none */
};

/* Fill `o` with the defaults.  Pure. */
void tr_embed_local_opts_default(struct tr_embed_local_opts *o);

/*
 * Learn a local embedder from `n` texts (borrowed for the call; when n
 * is above max_train, an evenly spaced sample is used for the
 * projection).  `o` may be NULL for the defaults.  Returns NULL and
 * fills `err`: TR_E_INVAL (no text, bad options), TR_E_INDEX (the
 * linear algebra failed) or TR_E_NOMEM.  The caller owns the result
 * (tr_embedder_free()).  One thread; uses the BLAS threads.
 */
struct tr_embedder *tr_embed_local_train(const char *const *texts,
                                         size_t n,
                                         const struct tr_embed_local_opts *o,
                                         struct tr_error *err);

/*
 * Rebuild a local embedder from `len` bytes written by
 * tr_embedder_save() of a local embedder, of this version or of the
 * earlier one (floats only).  NULL with TR_E_PARSE for anything else,
 * a newer version included (checked, never read out of bounds).  The
 * caller owns the result.
 */
struct tr_embedder *tr_embed_local_load(const void *data, size_t len,
                                        struct tr_error *err);

struct tr_httpc_policy;

/*
 * Options of the "openai" embedder, a client of any OpenAI-compatible
 * POST {base_url}/embeddings (OpenAI, Ollama, vLLM, llama.cpp, TEI).
 * tr_embed_openai_opts_default() gives the defaults shown.  `base_url`
 * ends in /v1.  `dim` is the dimension the model answers with; with
 * `send_dimensions` it is also asked for ("dimensions", which only
 * text-embedding-3 and later models accept).  `policy`, when not NULL,
 * replaces the OpenAI retry preset (copied); `max_retries` applies to
 * the preset only.
 */
struct tr_embed_openai_opts {
    const char *base_url;       /* "https://api.openai.com/v1" */
    const char *api_key;        /* never logged; NULL or "" sends none */
    const char *model;          /* required */
    int dim;                    /* required, > 0 */
    bool send_dimensions;       /* false */
    size_t max_batch;           /* texts per request (64, at most 2048) */
    long timeout_ms;            /* per attempt (30000) */
    long connect_timeout_ms;    /* (5000) */
    int max_retries;            /* (2) */
    const struct tr_httpc_policy *policy;
};

/* Fill `o` with the defaults; model is NULL and dim 0.  Pure. */
void tr_embed_openai_opts_default(struct tr_embed_openai_opts *o);

/*
 * Make the "openai:<model>" embedder from `o` (strings copied).  Each
 * batch is one request with "encoding_format":"float"; rows are mapped
 * by their "index"; a blank text gets a zero row and is not sent (the
 * API refuses empty input).  An answer whose vectors are not of `dim`
 * floats is TR_E_MODEL, so vectors of another model never mix in.
 * Embedding returns TR_E_TIMEOUT, TR_E_HTTP_UPSTREAM (unreachable or
 * 5xx after the retries), TR_E_AGAIN (429 after the retries), TR_E_AUTH
 * or TR_E_PERM (key refused), TR_E_MODEL (other refusals, malformed
 * answers); messages never hold the key.  Safe from several threads at
 * once (a small pool of HTTP clients).  NULL with TR_E_CONF (no model,
 * no http(s) base URL, dim <= 0, max_batch over 2048, negative timeouts
 * or retries) or TR_E_NOMEM.  The caller owns the result
 * (tr_embedder_free()).
 */
struct tr_embedder *tr_embed_openai_new(const struct tr_embed_openai_opts *o,
                                        struct tr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* TR_EMBED_H */
