/*
 * bench_pipeline.h
 *      What the files of the pipeline benchmark share: the generator of
 *      help-center articles and tickets, and a small growable string.
 *
 * The generator is deterministic for a seed, so that two runs triage
 * the same texts.  Everything here runs on the main thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_BENCH_PIPELINE_H
#define TR_BENCH_PIPELINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A growable string; `cap` is its allocation, BP_STR_MAX once used. */
struct bp_str {
    char *buf;
    size_t len;
    size_t cap;
};

/* Longest generated text, in bytes: articles and tickets stay below. */
#define BP_STR_MAX (64 * 1024)

/* Append printf output to `s`; the text is cut at BP_STR_MAX. */
void bp_str_addf(struct bp_str *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Empty `s`, keeping its allocation. */
void bp_str_reset(struct bp_str *s);

/* Free the allocation of `s`. */
void bp_str_free(struct bp_str *s);

/* The generator's state: a xorshift64* sequence. */
struct bp_rng {
    uint64_t s;
};

void bp_rng_seed(struct bp_rng *r, uint64_t seed);

/* A number in [0, n). */
unsigned bp_rng_below(struct bp_rng *r, unsigned n);

/* What a generated ticket carries, for the report. */
struct bp_ticket_kind {
    const char *lang;           /* "en", "de", "fr", "es" */
    int n_pii;                  /* personal data put in */
    int escalation;             /* an escalation phrase is in it */
};

/*
 * Write `n` help-center articles as JSON Lines to `out`: the sections
 * Billing, Account, Shipping, Integrations and General, most in
 * English, some in German, French and Spanish.
 */
void bp_articles_write(FILE *out, int n, uint64_t seed);

/*
 * Make ticket number `i` into `subject` and `body` (both reset first):
 * questions on the topics of the articles, in the same languages, some
 * with personal data (e-mail, phone, a card number that passes Luhn's
 * check, an IBAN with its checksum), some with an escalation phrase
 * (legal threat, chargeback, outage, security), a few off topic or with
 * an injected instruction.  `kind` (may be NULL) says what went in.
 */
void bp_ticket_make(struct bp_rng *r, int i, struct bp_str *subject,
                    struct bp_str *body, struct bp_ticket_kind *kind);

#endif /* TR_BENCH_PIPELINE_H */
