/*
 * redact_int.h
 *      Checks and spans shared by the files of the redactor.
 *
 * A validator looks at one regex match and says whether it is the kind
 * of data it claims to be; it may shorten the match (an IBAN followed by
 * more letters, an IPv6 address followed by a full stop) by lowering
 * *len.  Validators are pure functions.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TR_REDACT_INT_H
#define TR_REDACT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "redact.h"

typedef bool tr_redact__check_fn(const char *s, size_t *len);

/* Luhn-valid card number of 13 to 19 digits (spaces and dashes skipped). */
bool tr_redact__card_ok(const char *s, size_t *len);

/* IBAN with a valid mod-97 remainder; trims trailing space groups. */
bool tr_redact__iban_ok(const char *s, size_t *len);

/* Phone number with a plausible digit count that is not a date. */
bool tr_redact__phone_ok(const char *s, size_t *len);

/* US SSN outside the never-issued ranges. */
bool tr_redact__ssn_ok(const char *s, size_t *len);

/* Dotted IPv4 address with octets up to 255. */
bool tr_redact__ipv4_ok(const char *s, size_t *len);

/* IPv6 address as inet_pton() reads it; trims trailing '.' and ':'. */
bool tr_redact__ipv6_ok(const char *s, size_t *len);

/* One finding: a byte span and the detector that made it. */
struct tr_redact__span {
    size_t start;
    size_t len;
    int det;                    /* index of the detector */
    int rank;                   /* lower is more specific */
};

/* The texts whose literal contents new placeholders must not equal. */
struct tr_redact__texts {
    const char *const *texts;
    const size_t *lens;
    size_t n;
};

/*
 * Write `text` with the `n` spans of `v` (sorted, not overlapping)
 * replaced by placeholders named after kinds[v[i].det], adding the new
 * findings to `map` (a value already in it keeps its placeholder).  A
 * new placeholder never occurs literally in any text of `seen`.  The
 * caller owns *out (free()).  Returns TR_E_NOMEM; `map` may then hold
 * some of the new entries.
 */
enum tr_err tr_redact__apply(struct tr_redact_map *map,
                             const struct tr_redact__texts *seen,
                             const char *text, size_t len,
                             const struct tr_redact__span *v, size_t n,
                             const char *const *kinds, char **out,
                             size_t *out_len);

#endif /* TR_REDACT_INT_H */
