/*
 * draft_int.h
 *      Layouts shared inside the draft module: term bags of normalised
 *      words and numbers, text units (sentences, list items, headings)
 *      and the per-language templates.
 *
 * A bag holds the content words of a text as 64-bit hashes of their
 * normalised form (lowercased, accents folded, stopwords dropped, light
 * suffix stemming), the numbers as hashes of their exact spelling, and
 * whether a negation cue occurs.  Hashing keeps comparisons cheap and
 * allocation-free; two different words sharing a hash is a risk of one
 * in 2^64 per pair and is accepted.
 *
 * Everything here works on the caller's objects only; any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_DRAFT_INT_H
#define TR_DRAFT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "draft.h"

/* A growable array of hashes. */
struct tr_draft__hvec {
    uint64_t *v;
    size_t n;
    size_t cap;
};

/* The terms of one text: see the file comment. */
struct tr_draft__bag {
    struct tr_draft__hvec terms;    /* in text order, repeats kept */
    struct tr_draft__hvec nums;     /* in text order, repeats kept */
    bool neg;
};

enum tr_draft__unit_kind {
    TR_DRAFT__SENT,             /* a sentence of a paragraph */
    TR_DRAFT__ITEM,             /* a list item, kept whole */
    TR_DRAFT__HEAD              /* a short line without end punctuation */
};

/* One unit of a text: bytes [start, end) of it. */
struct tr_draft__unit {
    size_t start;
    size_t end;
    enum tr_draft__unit_kind kind;
    size_t block;               /* index of the block it came from */
};

struct tr_draft__units {
    struct tr_draft__unit *v;
    size_t n;
    size_t cap;
};

/* Fixed texts of one language. */
struct tr_draft__tmpl {
    const char *lang;           /* primary subtag, "de" */
    const char *greeting;
    const char *intro;
    const char *closing;
    const char *signoff;
    const char *links;          /* label above the cited articles */
};

void tr_draft__bag_init(struct tr_draft__bag *b);
void tr_draft__bag_cleanup(struct tr_draft__bag *b);

/*
 * Add the words and numbers of `len` bytes of `s` to `b`; negation cues
 * are those of the language `lang` (primary subtag; NULL or unknown:
 * the cues of every supported language).  TR_E_NOMEM.
 */
enum tr_err tr_draft__bag_add(struct tr_draft__bag *b, const char *s,
                              size_t len, const char *lang);

/* Sort in place, repeats kept. */
void tr_draft__hvec_sort(struct tr_draft__hvec *h);

/* Sort and drop repeats in place. */
void tr_draft__hvec_unique(struct tr_draft__hvec *h);

/* True when the sorted `h` holds `x`. */
bool tr_draft__hvec_has(const struct tr_draft__hvec *h, uint64_t x);

/* Append `x`; TR_E_NOMEM. */
enum tr_err tr_draft__hvec_push(struct tr_draft__hvec *h, uint64_t x);

/* Count the values of sorted, unique `a` found in sorted, unique `b`. */
size_t tr_draft__hvec_common(const struct tr_draft__hvec *a,
                             const struct tr_draft__hvec *b);

void tr_draft__units_cleanup(struct tr_draft__units *u);

/*
 * Cut `len` bytes of `s` into units appended to `out`: blocks at blank
 * lines and before list markers, then paragraphs into sentences (a full
 * stop after an abbreviation, an initial or a number does not end one).
 * Unit bounds are trimmed of whitespace.  TR_E_NOMEM.
 */
enum tr_err tr_draft__split(const char *s, size_t len,
                            struct tr_draft__units *out);

/*
 * Copy `len` bytes of `s` with every run of whitespace made one space
 * and the ends trimmed.  NULL when out of memory.  The caller frees it.
 */
char *tr_draft__squeeze(const char *s, size_t len);

/*
 * Write the primary language subtag of `lang` ("pt" of "pt-BR"),
 * lowercased, into `out` (TR_DRAFT_LANG_MAX bytes); "" for NULL.
 */
void tr_draft__lang_primary(const char *lang, char *out);

/* The templates of primary subtag `lang`, English when it has none. */
const struct tr_draft__tmpl *tr_draft__tmpl_find(const char *lang);

/*
 * Rebuild d->sources from the citations of its sentences, in order of
 * first citation, from the passages `p[0..n)`; ids not among them get
 * no source.  TR_E_NOMEM (then d->sources is empty).
 */
enum tr_err tr_draft__sources_build(struct tr_draft *d,
                                    const struct tr_draft_passage *p,
                                    size_t n);

/* Forget every verdict of `d`: it changed or is being checked again. */
void tr_draft__verdicts_reset(struct tr_draft *d);

/* Index of the passage whose id is `id`, or n when none. */
size_t tr_draft__passage_find(const struct tr_draft_passage *p, size_t n,
                              const char *id);

/*
 * Check the passages `p[0..n)` handed to a public function: TR_E_INVAL
 * for NULL `p` with n > 0 or a missing id, TR_E_TOOBIG for a text over
 * TR_DRAFT_PASSAGE_MAX.  Fills `err` naming the passage.
 */
enum tr_err tr_draft__passages_check(const struct tr_draft_passage *p,
                                     size_t n, struct tr_error *err);

#endif /* TR_DRAFT_INT_H */
