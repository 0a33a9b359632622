/*
 * bm25_int.h
 *      Layout of the BM25 index shared by the files of the module.
 *
 * Terms live in one array and are found through an open-addressing hash
 * table of term numbers; their bytes are kept in one arena.  Each term
 * owns its postings, in increasing chunk order because chunks are added
 * one after the other.  While the index is filled, a posting's field
 * frequencies sit in an array beside it; tr_bm25_build() turns them into
 * the posting's length-normalised weight and drops them, with the chunk
 * lengths, so that a built index keeps 8 bytes per posting and a search
 * only multiplies by the term's IDF.  Title and text are two fields in
 * the manner of BM25F: each frequency is normalised by its own field's
 * length, the title's is multiplied by the title weight, and the sum is
 * saturated once with k1.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_BM25_INT_H
#define TR_BM25_INT_H

#include <stdint.h>

#include "bm25.h"

/* One chunk holding a term: its number and the weight of the term. */
struct tr_bm25__post {
    uint32_t doc;
    float w;
};

/* Frequencies of a posting in the text and in the title, until built. */
struct tr_bm25__freq {
    float tf;
    float tft;
};

struct tr_bm25__term {
    char *str;                      /* in the index's arena */
    uint32_t len;
    uint32_t n_post;
    uint32_t cap_post;
    float idf;
    struct tr_bm25__post *post;
    struct tr_bm25__freq *freq;     /* beside post; NULL once built */
};

struct tr_bm25 {
    struct tr_bm25_opts opts;
    int built;
    double avgdl;
    double avgtl;

    /* Chunks, by insertion number; lengths only until built. */
    size_t n_docs;
    size_t cap_docs;
    int64_t *ids;
    float *lens;            /* text lengths in tokens */
    float *tlens;           /* title lengths in tokens */

    /* Terms and the hash table of their numbers plus one (0 = empty). */
    size_t n_terms;
    size_t cap_terms;
    struct tr_bm25__term *terms;
    uint32_t *slots;
    size_t n_slots;
    struct tr_arena *strs;  /* bytes of the terms */

    /* Tokenizer used while adding; searches make their own. */
    struct tr_bm25_tokenizer *tok;
};

/*
 * Return the number of term `s` (`len` bytes), or -1 when absent.  Pure
 * read, safe concurrently on a built index.
 */
int64_t tr_bm25__term_lookup(const struct tr_bm25 *ix, const char *s,
                             size_t len);

/*
 * Return the number of term `s`, adding it when absent.  Returns -1 when
 * out of memory.
 */
int64_t tr_bm25__term_intern(struct tr_bm25 *ix, const char *s, size_t len);

/*
 * Append a posting of chunk `doc` with text frequency `tf` and title
 * frequency `tft` to term `t` of an index not yet built.  Returns TR_OK
 * or TR_E_NOMEM.
 */
enum tr_err tr_bm25__post_add(struct tr_bm25__term *t, uint32_t doc,
                              float tf, float tft);

/*
 * Compute the average lengths and posting weights of `ix` from the
 * frequencies, drop those and the lengths, fix the IDFs and trim the
 * posting arrays.  Postings that already carry their weight (no
 * frequencies) keep it.
 */
void tr_bm25__finish(struct tr_bm25 *ix);

/* Check the settings `o`; TR_E_INVAL with a message when bad. */
enum tr_err tr_bm25__opts_check(const struct tr_bm25_opts *o,
                                struct tr_error *err);

#endif /* TR_BM25_INT_H */
